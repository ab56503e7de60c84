from induction_heads.measure.handbuilt import handbuilt_bridge
from induction_heads.measure.hooks import hook_name


def test_hook_names_are_the_bridges_own():
    bridge = handbuilt_bridge()
    assert hook_name("pattern", 1) == "blocks.1.attn.hook_pattern"
    for kind in ("pattern", "z", "resid_pre"):
        for layer in range(bridge.cfg.n_layers):
            assert hook_name(kind, layer) in bridge.hook_dict
