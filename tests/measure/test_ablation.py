"""Known-answer tests of the head ablations (ablation.py)."""

import math

import pytest
import torch
from induction_heads.measure.handbuilt import V, handbuilt_bridge, repeated_tokens

from induction_heads.measure.ablation import (
    ablate_heads,
    before_and_after_attribution,
    clean_losses,
    delta_icl,
    naive_single_head_ablations,
    single_head_ablations,
)
from induction_heads.engine.config import model_config
from induction_heads.engine.model import InductionLM, to_bridge

torch.set_num_threads(1)


def in_context_gain(losses):
    """Mean loss on repeats 2-4 minus mean loss on the first repeat (BOS + 25 x 4 input:
    position i predicts token i + 1, so positions 0-24 predict the first repeat)."""
    return losses[..., 25:].mean((-1, -2)) - losses[..., :25].mean((-1, -2))


@pytest.fixture(scope="module")
def handbuilt_runs():
    bridge, tokens = handbuilt_bridge(), repeated_tokens()
    return dict(
        tokens=tokens,
        clean=clean_losses(bridge, tokens),
        preserved=single_head_ablations(bridge, tokens, preserve_patterns=True),
        full=single_head_ablations(bridge, tokens, preserve_patterns=False),
    )


def test_ablating_the_induction_head_removes_in_context_gain(handbuilt_runs):
    r = handbuilt_runs
    assert in_context_gain(r["clean"]) < -4  # repeats are predicted almost perfectly
    for mode in ("preserved", "full"):
        ablated = r[mode][1, 0]
        # head 1.0 writes the only logits: without it every logit is 0 and every loss ln V
        assert torch.allclose(ablated, torch.full_like(ablated, math.log(V)), atol=1e-5)
        assert abs(in_context_gain(ablated)) < 1e-5


def test_full_and_pattern_preserving_agree_where_they_should(handbuilt_runs):
    r = handbuilt_runs
    # last layer: nothing downstream, so the two ablations are the same computation
    assert torch.allclose(r["preserved"][1], r["full"][1], atol=1e-6)
    # heads writing only to unread dimensions change nothing, either way
    for layer, head in [(0, 1), (1, 1)]:
        for mode in ("preserved", "full"):
            assert torch.allclose(r[mode][layer, head], r["clean"], atol=1e-5)
    # the previous-token head acts only through head 1.0's *pattern* (K-composition): freezing
    # patterns keeps that effect, so the pattern-preserving ablation changes nothing, while
    # the full ablation breaks the induction head
    assert torch.allclose(r["preserved"][0, 0], r["clean"], atol=1e-5)
    assert in_context_gain(r["full"][0, 0]) - in_context_gain(r["clean"]) > 1.0


def test_delta_icl(handbuilt_runs):
    r = handbuilt_runs
    d = delta_icl(r["preserved"], r["clean"])
    assert d.shape == (2, 2)
    assert d[1, 0] > 1  # the induction head carries the ICL
    assert d[[0, 0, 1], [0, 1, 1]].abs().max() < 1e-5


def test_head_sets():
    bridge, tokens = handbuilt_bridge(), repeated_tokens(n_sequences=2)
    clean = clean_losses(bridge, tokens)
    losses = ablate_heads(bridge, tokens, [[], ["1.0"], ["0.0", "0.1", "1.0", "1.1"]])
    assert torch.allclose(losses[0], clean, atol=1e-6)  # the empty set is the clean run
    assert torch.allclose(losses[2], torch.full_like(clean, math.log(V)), atol=1e-5)
    # masks and labels are the same request
    mask = torch.zeros(2, 2, dtype=torch.bool)
    mask[1, 0] = True
    assert torch.allclose(ablate_heads(bridge, tokens, mask)[0], losses[1])


@pytest.mark.parametrize("name", ["attn-only-2l", "smeared-2l", "mlp-2l"])
def test_zoo_bridges_batched_equals_naive(name):
    """On converted InductionLM bridges (rotary, LayerNorm, smeared keys or MLPs): the batched
    ablations equal one hooked forward pass per head, in both modes, with several heads per
    pass (max_sequences > batch) and with the batch split (max_sequences < batch)."""
    bridge = to_bridge(InductionLM(model_config("tiny", name)))
    tokens = torch.randint(0, bridge.cfg.d_vocab, (5, 48), generator=torch.Generator().manual_seed(0))
    for preserve in (True, False):
        naive = naive_single_head_ablations(bridge, tokens, preserve)
        assert naive.shape == (2, 2, 5, 47)
        for max_sequences in (3, 12):
            batched = single_head_ablations(bridge, tokens, preserve, max_sequences=max_sequences)
            assert torch.allclose(batched, naive, atol=1e-5), (preserve, max_sequences)
    positions = torch.randint(0, 47, (5, 3), generator=torch.Generator().manual_seed(1))
    for preserve in (True, False):  # losses at selected positions only = the full losses gathered
        naive = naive_single_head_ablations(bridge, tokens, preserve)
        picked = single_head_ablations(bridge, tokens, preserve, max_sequences=3, positions=positions)
        assert torch.allclose(picked, naive.gather(-1, positions.expand(2, 2, 5, 3)), atol=1e-5)
    last = bridge.cfg.n_layers - 1
    assert torch.allclose(single_head_ablations(bridge, tokens, True)[last],
                          single_head_ablations(bridge, tokens, False)[last], atol=1e-5)


def test_before_and_after_attribution():
    g = torch.Generator().manual_seed(0)
    before, after, clean = (torch.randn(50, generator=g) for _ in range(3))
    step = after - before
    # an ablation that exactly undoes the phase change projects to -|after - before|
    undo = clean - step
    assert before_and_after_attribution(undo, clean, before, after).item() == pytest.approx(-step.norm().item(), rel=1e-5)
    # a change orthogonal to the phase change projects to 0; batched over leading dims
    ortho = torch.randn(50, generator=g)
    ortho -= (ortho @ step) / (step @ step) * step
    out = before_and_after_attribution(torch.stack([clean + ortho, undo]), clean, before, after)
    assert out.shape == (2,) and abs(out[0].item()) < 1e-5


# ---------------------------------------------------------------- the referee's controls

from induction_heads.measure.ablation import matched_control_sets, mean_head_outputs  # noqa: E402
from induction_heads.measure.hooks import hook_name  # noqa: E402
from induction_heads.measure.metrics import per_token_losses  # noqa: E402


def _perturbed_tiny_bridge():
    model = InductionLM(model_config("tiny", "attn-only-2l")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3)) * 0.05)
    return to_bridge(model)


def _naive_replaced(bridge, toks, heads, method, preserve):
    """The reference: one hooked forward pass, the heads' hook_z overwritten by their mean over
    ``toks`` at each position or by the previous sequence's clean output; every pattern written
    back to the clean one if ``preserve``."""
    _, cache = bridge.run_with_cache(toks)
    hooks = []
    for layer, head in (map(int, h.split(".")) for h in heads):
        clean_z = cache["z", layer]
        repl = clean_z.mean(0, keepdim=True).expand_as(clean_z) if method == "mean" else clean_z.roll(1, 0)

        def hook(z, hook, head=head, repl=repl):
            z = z.clone()
            z[:, :, head] = repl[:, :, head]
            return z

        hooks.append((hook_name("z", layer), hook))
    if preserve:
        hooks += [(hook_name("pattern", layer), lambda p, hook, c=cache["pattern", layer]: c)
                  for layer in range(bridge.cfg.n_layers)]
    with torch.no_grad():
        return per_token_losses(bridge.run_with_hooks(toks, fwd_hooks=hooks), toks)


@pytest.mark.parametrize("preserve", [True, False], ids=["pattern-preserving", "full"])
@pytest.mark.parametrize("method", ["mean", "resample"])
def test_mean_and_resample_equal_one_hooked_pass_each(method, preserve):
    bridge = _perturbed_tiny_bridge()
    toks = torch.randint(0, bridge.cfg.d_vocab, (6, 30), generator=torch.Generator().manual_seed(4))
    sets = [["1.0", "0.1"], ["1.1"]]
    out = ablate_heads(bridge, toks, sets, preserve_patterns=preserve, method=method)
    for i, heads in enumerate(sets):
        assert (out[i] - _naive_replaced(bridge, toks, heads, method, preserve)).abs().max() < 1e-4
    # the positions fast path gives the same losses
    pos = torch.tensor([[3, 17, 28]] * 6)
    if preserve:
        sub = ablate_heads(bridge, toks, sets, preserve_patterns=True, positions=pos, method=method)
        assert (sub - out.gather(2, pos[None].expand(2, -1, -1))).abs().max() < 1e-4


@pytest.mark.parametrize("method", ["mean", "resample"])
def test_mean_and_resample_change_nothing_on_identical_sequences(method):
    """Every sequence the same: a head's mean output and its output on another sequence are its
    own output, so the losses are the clean ones."""
    bridge = handbuilt_bridge()
    toks = repeated_tokens()[:1].repeat(4, 1)
    clean = clean_losses(bridge, toks)
    assert (ablate_heads(bridge, toks, [["1.0", "0.0"]], method=method)[0] - clean).abs().max() < 1e-5


def test_mean_outputs_are_the_per_position_mean():
    bridge = handbuilt_bridge()
    toks = repeated_tokens()
    means = mean_head_outputs(bridge, toks, max_sequences=3)
    _, cache = bridge.run_with_cache(toks)
    assert (means[1] - cache["z", 1].mean(0)).abs().max() < 1e-5


@pytest.mark.parametrize("method", ["zero", "mean", "resample"])
def test_every_method_removes_the_handbuilt_circuits_in_context_gain(method):
    """On repeated random tokens, the induction head's output on another sequence or on average
    says nothing about this sequence's next token: at least 90% of the gain of the later copies
    goes. (In a 32-token vocabulary the mean over n sequences keeps part of each one's own
    output: over 4 sequences half the gain stays, so the mean is taken over 128.) Resampling
    does more: the head predicts the other sequence's next token, so later copies get worse."""
    bridge, toks = handbuilt_bridge(), repeated_tokens(128)
    gain_clean = float(in_context_gain(clean_losses(bridge, toks)))
    gain = float(in_context_gain(ablate_heads(bridge, toks, [["1.0"]], method=method)[0]))
    assert gain_clean < -3 and gain > 0.1 * gain_clean
    if method == "resample":
        assert gain > 3


def test_unknown_method_and_single_sequence_resample_are_refused():
    bridge = handbuilt_bridge()
    with pytest.raises(ValueError, match="unknown ablation method 'noise'"):
        ablate_heads(bridge, repeated_tokens(), [["1.0"]], method="noise")
    with pytest.raises(ValueError, match="two sequences"):
        ablate_heads(bridge, repeated_tokens()[:1], [["1.0"]], method="resample")


def test_matched_control_sets():
    # two induction heads in layer 1 of a 2x4 model: the other two heads of layer 1, the one set
    assert matched_control_sets(["1.3", "1.1"], 2, 4) == [["1.0", "1.2"]]
    # one head in each layer: 3 x 3 sets, all of them, each with one head per layer
    sets = matched_control_sets(["0.0", "1.0"], 2, 4)
    assert len(sets) == 9 and all(s[0][0] == "0" and s[1][0] == "1" and "0.0" not in s and "1.0" not in s for s in sets)
    # more sets than draws: distinct, reproducible
    many = matched_control_sets(["1.0", "1.1"], 2, 8, n_draws=5, seed=1)
    assert len(many) == 5 and len({tuple(s) for s in many}) == 5 and many == matched_control_sets(["1.0", "1.1"], 2, 8, 5, 1)
    assert matched_control_sets(["1.0", "1.1", "1.2"], 2, 4) == []  # one other head in layer 1: no match
