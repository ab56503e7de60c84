"""Figures drawn on hand-made inputs, what they draw counted: the Argument 2 chapter's
interventions (each model beside its control) and the seed curves of chapters 02 and 03."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from induction_heads.book.argument1 import SeedCurves
from induction_heads.book.figures import loss_heatmap_pairs, seed_curves
from induction_heads.measure.phase import PhaseWindow

S = 8
TOKENS = torch.cat([torch.zeros(1), torch.logspace(3, 6, S - 1)])


def run(loss: float) -> dict[str, torch.Tensor]:
    lbp = torch.full((S, 15), loss)
    lbp[0] = 1.0  # the step-0 snapshot is not drawn (tokens 0 on a log axis) and must not set the scale
    return {"tokens": TOKENS, "loss_by_position": lbp}


def test_loss_heatmap_pairs_draw_each_model_beside_its_control_on_one_scale():
    a, b = run(2.0), run(3.0)
    fig = loss_heatmap_pairs({"x-knockout": a, "x": b}, {"x": PhaseWindow(1e4, 1e5, 3e4)}, [("x-knockout", "x")])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["x (control)", "x-knockout"]  # the control first, then what it controls
    limits = {panel.collections[0].get_clim() for panel in panels}
    assert limits == {(2.0, 3.0)}  # one colour scale across the pair
    assert len(panels[0].get_lines()) == 2 and not panels[1].get_lines()  # the window only where it exists
    plt.close("all")


def seeds(n: int, banded: int = 0) -> SeedCurves:
    """``n`` seeds at -1, -2, ...; the first ``banded`` of them with a band of half a nat either side."""
    curves = -torch.arange(1, n + 1, dtype=torch.float64)[:, None].expand(n, S).clone()
    bands = tuple((c - 0.5, c + 0.5) if i < banded else None for i, c in enumerate(curves))
    names = tuple(f"m-seed{i}" for i in range(n))
    return SeedCurves(TOKENS.double(), curves, curves.quantile(0.5, dim=0), names, bands)


def test_seed_curves_draw_every_seed_faintly_the_median_bold_and_the_bands():
    fig = seed_curves({"attn-only-2l": {"attn-only-2l": seeds(3, banded=2)},
                       "two models": {"attn-only-2l": seeds(3), "smeared-2l": seeds(2)}})
    one, both = [ax for ax in fig.axes if ax.get_title()]
    assert (one.get_title(), both.get_title()) == ("attn-only-2l", "two models")
    # three faint seeds and a bold median, and the zero line
    lines = one.get_lines()
    assert len(lines) == 5 and len(one.collections) == 2  # a band for each of the two seeds that have one
    assert sorted(line.get_linewidth() for line in lines[:4]) == [0.8, 0.8, 0.8, 2.0]
    bold = next(line for line in lines if line.get_linewidth() == 2.0)
    assert list(bold.get_ydata()) == [-2.0] * (S - 1)  # the step-0 snapshot is not drawn on the log axis
    assert one.get_xscale() == "log"
    assert len(both.get_lines()) == 3 + 1 + 2 + 1 + 1 and not both.collections
    colours = {line.get_color() for line in both.get_lines() if line.get_linewidth() == 2.0}
    assert len(colours) == 2  # one colour per model
    first = {line.get_color() for line in one.get_lines() if line.get_linewidth() == 2.0}
    assert first <= colours  # attn-only-2l keeps its colour from panel to panel
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["one seed (faint)", "median over seeds (bold)", "95% band over evaluation sequences (one seed)",
                      "attn-only-2l", "smeared-2l"]
    plt.close("all")


def test_seed_curves_without_bands_or_with_one_model_per_panel_say_only_what_is_drawn():
    fig = seed_curves({"a": {"a": seeds(2)}, "b": {"b": seeds(3)}}, ylabel="largest prefix-matching score", ylim=(0, 1))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["one seed (faint)", "median over seeds (bold)"]
    assert fig.axes[0].get_ylim() == (0, 1) and fig.axes[0].get_ylabel() == "largest prefix-matching score"
    plt.close("all")


def test_seed_curves_refuse_an_empty_panel_and_a_single_seed():
    with pytest.raises(ValueError, match="panel 'x' has no model"):
        seed_curves({"x": {}})
    with pytest.raises(ValueError, match="smeared-2l: 1 seed"):
        seed_curves({"x": {"attn-only-2l": seeds(3), "smeared-2l": seeds(1)}})
    plt.close("all")


# --- figures that say one thing (issue 38): few legend entries, framed axes, nothing colliding or cut ---

from matplotlib.colors import to_hex  # noqa: E402

from induction_heads.book import figures as F  # noqa: E402
from induction_heads.book.figures import argument4 as a4, argument5 as a5, attention, palette, style  # noqa: E402

WIN = PhaseWindow(1e4, 1e5, 3e4)
ZOO_NAMES = ([f"attn-only-{d}l" for d in (1, 2, 3, 4, 6)] + [f"mlp-{d}l" for d in (1, 2, 3, 4, 6)]
             + [f"attn-only-2l-{v}" for v in ("d64", "d256", "b4", "b16", "b32", "h1", "h2", "cooldown", "long",
                                              "seed1", "seed2", "translation")])  # 22 models


def curve(i: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(i)
    return {"tokens": TOKENS, "icl_score": torch.linspace(0, -1, S) + 0.01 * i, "train_loss": torch.linspace(6, 3, S),
            "loss_by_position": torch.rand(S, 15, generator=g) + 3}


class _Zoo(dict):
    size = "small"


class _Run:
    def __init__(self, m):
        self.trajectory = m


def test_no_legend_grows_with_the_zoo():
    runs = {n: curve(i) for i, n in enumerate(ZOO_NAMES)}
    zoo = _Zoo({n: _Run(runs[n]) for n in ZOO_NAMES} | {f"{n}-natural": _Run(runs[n]) for n in ZOO_NAMES})  # 44 runs
    drawn = {
        "training_curves": F.training_curves(zoo),
        "loss_curves": F.loss_curves(runs, {ZOO_NAMES[1]: (1e4, 3e4), ZOO_NAMES[6]: (2e4, 5e4)}),
        "loss_curves, every model bumped": F.loss_curves(runs, {n: (1e4, 3e4) for n in ZOO_NAMES}),
        "copy_losses": a4.copy_losses({n: torch.rand(30) for n in ZOO_NAMES}, 15),
        "repeat_loss_profiles": F.repeat_loss_profiles({n: torch.rand(30) for n in ZOO_NAMES}, 10, torch.rand(30), 10),
    }
    for name, fig in drawn.items():
        entries = style.legend_entries(fig)
        assert entries and max(entries) <= style.MAX_LEGEND, f"{name}: legends of {entries} entries"
    # the few that matter stay named: the two models with a loss bump
    labels = {t.get_text() for t in drawn["loss_curves"].legends[0].get_texts()}
    assert {ZOO_NAMES[1], ZOO_NAMES[6]} <= labels
    # a small figure keeps one entry per model
    few = F.loss_curves({n: runs[n] for n in ZOO_NAMES[:4]})
    assert {t.get_text() for t in few.legends[0].get_texts()} == set(ZOO_NAMES[:4])
    plt.close("all")


def test_training_curves_colour_a_large_zoo_by_depth():
    zoo = _Zoo({n: _Run(curve(i)) for i, n in enumerate(ZOO_NAMES)})
    fig = F.training_curves(zoo)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["1 layer", "2 layers", "3 layers", "4 layers", "6 layers"]
    ax_loss = fig.axes[0]
    by_name = dict(zip(ZOO_NAMES, ax_loss.get_lines()))
    assert to_hex(by_name["attn-only-2l-d64"].get_color()) == to_hex(by_name["mlp-2l"].get_color())
    assert to_hex(by_name["attn-only-1l"].get_color()) != to_hex(by_name["attn-only-2l"].get_color())
    plt.close("all")


def test_panel_titles_of_long_model_names_never_run_into_each_other():
    names = ["attn-only-2l-k-knockout", "attn-only-2l", "attn-only-2l-k-knockout-seed1", "attn-only-2l-seed1",
             "attn-only-2l-no-prev-token", "attn-only-2l-clamped-induction", "attn-only-2l-warmup10x"]
    runs = {n: curve(i) | {"prefix_matching": torch.rand(S, 2, 4)} for i, n in enumerate(names)}
    runs["attn-only-2l-clamped-induction"]["prefix_matching"][:, 1, 0] = 1.0  # a head held at 1
    for fig in (F.icl_curves(runs, {n: WIN for n in names}, ncols=4),
                F.prefix_matching_curves(runs, {n: WIN for n in names}, ncols=4)):
        assert style.overlapping_texts(fig) == []
    lo, hi = fig.axes[0].get_ylim()
    assert lo < 0 and hi > 1  # a score of 0 or 1 is inside the frame, not on it
    plt.close("all")


def test_loss_heatmap_pairs_draw_a_shared_control_once_and_compactly():
    pairs = [("a-knockout", "a"), ("a-clamped", "a"), ("a-warmup", "a"), ("b-knockout", "b")]
    runs = {n: run(2.0 + i / 10) for i, n in enumerate(["a", "b", "a-knockout", "a-clamped", "a-warmup", "b-knockout"])}
    fig = loss_heatmap_pairs(runs, {}, pairs)
    titles = [ax.get_title().replace("\n", "") for ax in fig.axes if ax.get_title()]
    assert titles == ["a (control)", "a-knockout", "a-clamped", "a-warmup", "b (control)", "b-knockout"]
    assert fig.get_figheight() <= 5.0  # six heatmaps in two rows of four, not six rows of two
    plt.close("all")


def _ablation_inputs(outlier: float):
    g = torch.Generator().manual_seed(0)
    per_head = torch.randn(S, 2, 4, generator=g) * 0.2
    per_head[S // 2:, 1, 0] -= 1.0  # the induction head, a few times the others
    per_head[S // 2:, 0, 1] += outlier  # one other head far from the rest
    runs = {"m": {"tokens": TOKENS, "icl_score": torch.linspace(0, -1, S)}}
    classes = ["previous-token", "other", "other", "other", "induction", "other", "other", "other"]
    return runs, {"m": WIN}, {"m": per_head}, {"m": classes}, per_head[1:]


def test_ablation_grid_frames_its_lines():
    # lines of one size: linear limits around the data, not five times wider than its 1st-99th percentiles
    runs, wins, per_head, classes, drawn = _ablation_inputs(0.0)
    fig = F.ablation_grid(runs, wins, per_head, classes, "ΔICL (nats)")
    ax = fig.axes[1]
    lo, hi = ax.get_ylim()
    p1, p99 = np.percentile(drawn.numpy(), [1, 99])
    assert ax.get_yscale() == "linear" and lo <= p1 and hi >= p99
    assert hi - lo <= 5 * (p99 - p1)
    # one line far beyond the rest: a symlog axis that holds every line and says so
    runs, wins, per_head, classes, drawn = _ablation_inputs(-17.0)
    fig = F.ablation_grid(runs, wins, per_head, classes, "ΔICL (nats)")
    ax = fig.axes[1]
    lo, hi = ax.get_ylim()
    assert ax.get_yscale() == "symlog" and "symlog" in ax.get_ylabel()
    assert lo <= float(drawn.min()) and hi >= float(drawn.max())
    plt.close("all")


def test_icl_line_and_previous_token_heads_have_distinct_colours():
    runs, wins, per_head, classes, _ = _ablation_inputs(0.0)
    fig = F.ablation_grid(runs, wins, per_head, classes, "ΔICL (nats)")
    entries = {t.get_text(): h.get_color() for t, h in zip(fig.legends[0].get_texts(), fig.legends[0].legend_handles)
               if hasattr(h, "get_color")}
    icl = next(c for k, c in entries.items() if k.startswith("ICL score"))
    assert palette.color_distance(icl, entries["previous-token head"]) >= 0.25
    assert palette.color_distance(icl, entries["induction head"]) >= 0.25
    plt.close("all")


def test_qk_ov_plane_frames_the_paths_and_its_labels_never_collide():
    t = torch.cat([torch.zeros(1), torch.logspace(3, 7, 11)])
    rise = torch.sigmoid((torch.log10(t.clamp(min=1)) - 5) * 4)
    k = torch.stack([rise * 0.02, rise * 0.85, rise * 0.05, rise * 0.9], 1)
    ov = torch.stack([rise * 0.2, rise * 0.98, rise * 0.0, rise * 0.97], 1)  # 1.1 and 1.3 end side by side
    fig = a5.qk_ov_plane(t, k, ov, ["1.0", "1.1", "1.2", "1.3"], ["other", "induction", "other", "induction"], WIN)
    assert style.overlapping_texts(fig) == []
    ax = fig.axes[0]
    x = a5.normalise_by_max_abs(k, dim=(0, 1))
    xlo, xhi = ax.get_xlim()
    ylo, yhi = ax.get_ylim()
    assert xlo <= 0 <= float(x.max()) <= xhi and ylo <= 0 <= float(ov.max()) <= yhi
    assert (xhi - xlo) <= 1.5 * float(x.max() - x.min()) + 0.3 and (yhi - ylo) <= 1.5 * float(ov.max() - ov.min()) + 0.3
    plt.close("all")


def test_token_labels_are_shortened_visibly_never_cut():
    assert style.short_token("<|endoftext|>") == "<|eot|>"
    assert style.short_token(" assert") == "\u00b7assert"
    assert style.short_token("a_very_long_identifier", 8) == "a_very_\u2026"
    tokens = ["<|endoftext|>", " a", "b\n", "a_very_long_identifier"] * 3
    fig = attention.attention_png(torch.rand(1, 12, 12), tokens, ["1.1"])
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "<|eot|>" in labels and not any(lb.startswith("<|endoftex") for lb in labels)
    assert all(lb.endswith("\u2026") or any(lb == style.short_token(t, 10) for t in tokens) for lb in labels)
    strip = F.token_loss_strip(tokens, torch.rand(12), torch.rand(12))
    cells = [t.get_text() for t in strip.axes[0].texts]
    assert "<|eot|>" in cells and "a_very_\u2026" in cells
    plt.close("all")
