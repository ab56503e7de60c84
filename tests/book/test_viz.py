"""The attention views: deterministic, self-hosted, small, and with a PNG twin."""

import hashlib
import json
import re

import pytest
import torch

from induction_heads.book.figures import attention as viz


def _pattern(n_heads=2, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n_heads, n, n, generator=g), -1).tril()


def _tokens(n=6):
    return [f"t{i}" for i in range(n)]


def test_html_is_deterministic_and_never_probes_the_network(monkeypatch):
    import circuitsvis.utils.render as render

    def no_network(*a, **k):
        raise AssertionError("the helper must not probe the network")

    monkeypatch.setattr(render, "internet_on", no_network)
    monkeypatch.setattr(viz, "_seen_ids", {})
    first = viz.attention_view(_pattern(), _tokens())._repr_html_()
    monkeypatch.setattr(viz, "_seen_ids", {})  # a fresh kernel
    again = viz.attention_view(_pattern(), _tokens())._repr_html_()
    assert first == again
    props = json.dumps(
        {"attention": viz._rounded(_pattern()), "tokens": _tokens(), "attentionHeadNames": ["head 0", "head 1"]},
        separators=(",", ":"),
    )
    want = hashlib.sha1(f"AttentionHeads:{props}".encode()).hexdigest()[:12]
    assert f'id="ih-cv-{want}"' in first


def test_html_loads_one_self_hosted_script_not_an_inlined_bundle():
    html = viz.attention_view(_pattern(), _tokens())._repr_html_()
    assert f'"_static/{viz.static_name()}"' in html
    assert "dataset.content_root" in html  # Sphinx pages say where _static is (data-content_root)
    assert 'type="module"' not in html and "google.com" not in html
    assert len(html) < 5_000  # the bundle is 1.3 MB: it is not in here


def test_ids_never_clash_on_a_page(monkeypatch):
    monkeypatch.setattr(viz, "_seen_ids", {})
    ids = [viz.attention_view(_pattern(seed=s), _tokens()).element_id for s in (0, 0, 1)]
    assert len(set(ids)) == 3
    assert ids[1] == ids[0] + "-2"


def test_weights_are_rounded_and_text_repr_is_a_summary():
    view = viz.attention_view(_pattern(), _tokens(), head_names=["L1H0", "L1H1"])
    values = json.loads(view.props_json)["attention"]
    flat = [v for head in values for row in head for v in row]
    assert all(round(v, 3) == v for v in flat)
    assert all(len(repr(v)) <= 5 for v in flat)  # "0.123", never "0.12300000190734863"
    assert repr(view) == "AttentionHeads view: 2 heads (L1H0, L1H1) over 6 tokens"


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="6x6 but there are 5 tokens"):
        viz.attention_view(_pattern(), _tokens(5))


def test_install_static_copies_the_packaged_bundle(tmp_path):
    dest = viz.install_static(tmp_path / "_static")
    assert dest.name == f"circuitsvis-{viz.circuitsvis_version()}.js"
    text = dest.read_text(encoding="utf-8")
    assert dest.stat().st_size > 500_000
    # The loader calls CircuitsVis.render(id, CircuitsVis.AttentionHeads, props): both must exist.
    assert re.search(r"\bCircuitsVis\b", text) and "AttentionHeads" in text


def test_png_twin_has_one_heatmap_per_head():
    fig = viz.attention_png(_pattern(n_heads=3), _tokens(), title="x")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 3
    assert [ax.get_title() for ax in images] == ["head 0", "head 1", "head 2"]
    # a figure not registered with pyplot: the notebook shows it once, as the cell's value
    import matplotlib.pyplot as plt

    assert fig not in [plt.figure(n) for n in plt.get_fignums()]
