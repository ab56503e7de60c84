"""Every figure of the book is legible in the text column: drawn on inputs shaped like the
chapters' (the `small` zoo's eleven models of two or more layers, its twelve rungs, four heads a
layer), no text the reader sees is smaller than the house minimum (style.MIN_FONT_PT, after the
figure is shrunk to the column), and every figure fits the column without being shrunk.

``IH_FIGURE_DIR=<folder>`` also saves each figure there as the notebook would show it."""

import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

from induction_heads.book import argument1, figures
from induction_heads.book.argument6 import IclAfter
from induction_heads.book.figures import argument4 as a4
from induction_heads.book.figures import argument5 as a5
from induction_heads.book.figures import argument6 as a6
from induction_heads.book.figures import attention, style
from induction_heads.engine.zoo import Trajectory
from induction_heads.measure.phase import PhaseWindow, per_token_loss_pca
from induction_heads.measure.scaling import LossRates, PowerLawFit

S, CTX, H = 12, 64, 4
TOKENS = torch.cat([torch.zeros(1), torch.logspace(4, 7, S - 1)])
WINDOW = PhaseWindow(3e5, 3e6, 1e6)
MODELS = [f"attn-only-{n}l" for n in (2, 3, 4, 6)] + ["attn-only-2l-d64", "attn-only-2l-d256"] + \
    [f"mlp-{n}l" for n in (2, 3, 4, 6)] + ["smeared-2l"]  # eleven, the longest names of the zoo
RUNGS = ["attn-only-1l", *MODELS[:6], "mlp-1l", *MODELS[6:10]]  # twelve


def _layers(name: str) -> int:
    return int(name.split("-")[-1].rstrip("l")) if name.split("-")[-1].endswith("l") else \
        int(name.split("-")[-2].rstrip("l"))


def _run(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    L = _layers(name)
    return {"tokens": TOKENS, "icl_score": torch.linspace(0, -1, S), "train_loss": torch.linspace(6, 3, S),
            "loss_by_position": torch.rand(S, CTX, generator=g) + 3, "per_token_loss": torch.rand(S, 50, generator=g),
            "prefix_matching": torch.rand(S, L, H, generator=g), "previous_token": torch.rand(S, L, H, generator=g),
            "copying": torch.rand(S, L, H, generator=g) * 2 - 1, "repeat_top1": torch.rand(S, 4, generator=g),
            "ablation_delta_icl": torch.randn(S, L, H, generator=g)}


def _labels(L: int) -> list[str]:
    return [f"{layer}.{h}" for layer in range(L) for h in range(H)]


def _classes(L: int) -> list[str]:
    return (["previous-token"] + ["other"] * (L * H - 2) + ["induction"])


def _checked(names):
    """A claim with a threshold checked on ``names`` (the zoo's longest names, some twice)."""
    from induction_heads.book.claims import ClaimDef, Threshold
    from induction_heads.measure.intervals import Interval

    d = ClaimDef("test.legible", 3, "removes {threshold}", paper="p", reading="share",
                 threshold=Threshold(0.7, "at least", "book", "after the data"))
    c = d.open("small")
    for i, n in enumerate(names):
        c.measure(f"{n}-seed{i}", Interval(0.5 + 0.03 * i, 0.4 + 0.03 * i, 0.7 + 0.03 * i))
    return d, c


class _Zoo(dict):
    size = "small"

    class _R:
        def __init__(self, m):
            self.trajectory = m


def _figures():
    runs = {n: _run(n, i) for i, n in enumerate(RUNGS)}
    wins = {n: WINDOW for n in RUNGS}
    six = MODELS[:6]
    # the zoo's forty-odd runs, the longest names included
    extra = [f"{m}-{v}" for m in ("attn-only-2l", "mlp-2l", "attn-only-3l", "mlp-3l", "smeared-2l")
             for v in ("seed1", "seed2", "natural", "k-knockout", "k-knockout-seed1", "k-knockout-natural")]
    zoo = _Zoo({n: _Zoo._R(runs[n]) for n in RUNGS} | {n: _Zoo._R(_run("attn-only-2l", 9)) for n in extra})
    pca = per_token_loss_pca({n: runs[n]["per_token_loss"] for n in six})
    fams = {n: "mlp" if n.startswith("mlp") else "attn-only" for n in RUNGS}
    g = torch.Generator().manual_seed(0)
    pattern = torch.softmax(torch.randn(4, 49, 49, generator=g), -1)
    lags = torch.arange(-8, 9)
    yield "training_curves", lambda: figures.training_curves(zoo)
    # the heroes: each argument's first figure
    yield "phase_change_hero", lambda: figures.argument1.phase_change_hero(runs, wins, "attn-only-2l-d256", "attn-only-1l")
    yield "smeared_hero", lambda: figures.argument2.smeared_hero(
        runs, wins, [("attn-only-1l", "attn-only-2l-d256"), ("mlp-1l", "attn-only-2l-d64")])
    yield "claim_readings", lambda: figures.thumbnails.claim_readings(*_checked(MODELS * 2), "a long reading's name",
                                                                      marks=(1.0,))
    yield "circuit_hero", lambda: a5.circuit_hero(
        TOKENS, runs["attn-only-2l"] | {"ov_positivity": torch.rand(S, 2, H) * 2 - 1}, "0.0", ["1.1", "1.3"], WINDOW)
    yield "icl_curves", lambda: figures.icl_curves({n: runs[n] for n in RUNGS}, wins, ncols=3)
    yield "loss_heatmaps", lambda: figures.loss_heatmaps(runs["attn-only-2l"], WINDOW, title="attn-only-2l")
    yield "prefix_matching_curves", lambda: figures.prefix_matching_curves({n: runs[n] for n in RUNGS}, wins, ncols=3)
    yield "repeat_curves", lambda: figures.repeat_curves({n: runs[n] for n in six}, wins, {n: 1e6 for n in six}, ncols=3)
    yield "loss_curves", lambda: figures.loss_curves({n: runs[n] for n in RUNGS}, {n: (1e5, 1e6) for n in RUNGS})
    yield "pca_trajectories", lambda: figures.pca_trajectories(pca, wins, {n: TOKENS for n in six}, title="PCA")
    yield "token_loss_strip", lambda: figures.token_loss_strip(["def", " f", "(", "x", "):\n", " return"] * 20,
                                                               torch.rand(120), torch.rand(120), title="strip")
    yield "ablation_grid", lambda: figures.ablation_grid({n: runs[n] for n in six[:3]}, wins,
                                                         {n: runs[n]["ablation_delta_icl"] for n in six[:3]},
                                                         {n: _classes(_layers(n)) for n in six[:3]}, "ΔICL when ablated (nats)")
    yield "repeat_loss_profiles", lambda: figures.repeat_loss_profiles({n: torch.rand(120) for n in MODELS}, 30,
                                                                       torch.rand(100), 25)
    yield "loss_heatmap_pairs", lambda: figures.loss_heatmap_pairs(
        {f"{n}-k-knockout": runs[n] for n in six[:4]} | {n: runs[n] for n in six[:4]}, wins,
        [(f"{n}-k-knockout", n) for n in six[:4]])
    yield "copy_losses", lambda: a4.copy_losses({n: torch.rand(128) for n in MODELS}, 64, title="copy")
    yield "head_attribution", lambda: a4.head_attribution({n: torch.randn(_layers(n), H) for n in MODELS},
                                                          {n: _classes(_layers(n)) for n in MODELS},
                                                          {n: _labels(_layers(n)) for n in MODELS},
                                                          "share of the copy-2 logit gain")
    yield "lag_curves", lambda: a4.lag_curves(lags, {n: {"clean": torch.rand(17), "induction heads ablated": torch.rand(17)}
                                                     for n in MODELS})
    yield "fuzzy_bars", lambda: a4.fuzzy_bars({k: {"induction heads": (0.5, 0.4, 0.6), "shuffled control": (0.1, 0.05, 0.2)}
                                               for k in ("case", "synonym", "renamed", "reordered")}, title="fuzzy")
    yield "head_scores_bar", lambda: a4.head_scores_bar(torch.rand(6, H), _classes(6), _labels(6), 0.1, "colon share",
                                                        title="novel items", reference=0.7, reference_label="paper's head (13B)")
    yield "circuit_curves", lambda: a5.circuit_curves(TOKENS, torch.rand(S, 2, H) * 2 - 1, torch.randn(S, 2, H),
                                                      _classes(2), WINDOW, title="attn-only-2l")
    yield "qk_ov_plane", lambda: a5.qk_ov_plane(TOKENS, torch.randn(S, H), torch.rand(S, H) * 2 - 1, _labels(2)[H:],
                                                _classes(2)[H:], WINDOW, title="attn-only-2l: QK/OV plane")
    long_run = {"tokens": TOKENS[1:], "repeat_top1_by_sequence": torch.rand(S - 1, 20, 4),
                "repeat_loss_by_sequence": torch.rand(S - 1, 20, 4) * 5, "prefix_matching": torch.rand(S - 1, 2, H),
                "ov_positivity": torch.rand(S - 1, 2, H), "copied_logit_heads": torch.randn(S - 1, 2, H),
                "copied_logit_direct": torch.randn(S - 1), "copied_logit": torch.randn(S - 1)}
    yield "long_run", lambda: a5.long_run(Trajectory(long_run), 2.46e7, "1.3", WINDOW, anchor=(2e8, 5e8))
    yield "recipe_pairs", lambda: figures.recipe_pairs(
        {n: runs[n] for n in MODELS[:4]}, wins, [(MODELS[0], MODELS[1]), (MODELS[2], MODELS[3]), (MODELS[1], MODELS[0])])
    yield "onset_spread", lambda: figures.onset_spread(
        {m: [(m, 1e6), (m + "-seed1", 3e6), (m + "-seed2", None)] for m in MODELS[:5]})
    fams5 = ["attn-only-2l", "attn-only-3l", "mlp-2l", "mlp-3l", "smeared-2l"]  # every family with seeds, at tiny
    by_seq = torch.linspace(0, -1, S)[:, None] + torch.randn(S, 32, generator=g) / 4  # around _run's ICL curve
    seeded = {f"{m}{s}": _run(m, i) | {"icl_score_by_sequence": by_seq}
              for i, m in enumerate(fams5) for s in ("", "-seed1", "-seed2")}
    by_model = {m: [m, f"{m}-seed1", f"{m}-seed2"] for m in fams5}
    yield "seed_curves", lambda: figures.seed_curves({m: {m: argument1.seed_curves(seeded, r)}
                                                      for m, r in by_model.items()})
    yield "seed_curves_together", lambda: figures.seed_curves(
        {"attn-only-2l against smeared-2l": {m: argument1.seed_curves(seeded, by_model[m], "max_prefix_matching")
                                             for m in ("attn-only-2l", "smeared-2l")}},
        ylabel="largest prefix-matching score", ylim=(0, 1))
    yield "composition_heatmaps", lambda: a5.composition_heatmaps({m: torch.randn(2, H, 2, H) for m in "QKV"}, 0.1, "x")
    yield "icl_by_rung", lambda: a6.icl_by_rung({n: runs[n] for n in RUNGS}, wins, fams)
    yield "icl_after_by_rung", lambda: a6.icl_after_by_rung({n: IclAfter(-0.1, -0.5, -0.6) for n in RUNGS}, (-0.7, -0.5),
                                                            "95% prediction interval of the attn-only-2l seeds")
    yield "advantage_by_position", lambda: a6.advantage_by_position(torch.rand(CTX), torch.rand(CTX), RUNGS[1], RUNGS[-1],
                                                                    1e7, a6.rung_colors(RUNGS))
    yield "loss_rate_crossing", lambda: a6.loss_rate_crossing(LossRates(TOKENS[1:], torch.rand(S - 1), torch.rand(S - 1)),
                                                              RUNGS[1], RUNGS[-1], wins, [1e6], a6.rung_colors(RUNGS))
    yield "induction_layers", lambda: a6.induction_layers({n: [0] * (_layers(n) - 1) + [2] for n in RUNGS}, fams)
    yield "prefix_vs_copying", lambda: a6.prefix_vs_copying({n: runs[n] for n in RUNGS}, ncols=3)
    yield "onset_law", lambda: a6.onset_law([(64 * 256 * b / 8, 1e6 * b, f"attn-only-2l-b{b}") for b in (4, 8, 16, 32)],
                                            PowerLawFit(0.5, 3.0, 0.1, (0.4, 0.6), 4), 3.9)
    yield "pythia_over_training", lambda: a6.pythia_over_training(
        {n: {"tokens": TOKENS, "icl_score": torch.rand(S), "prefix_matching": torch.rand(S, 6, 8)} for n in ("70m", "160m")})
    yield "attention_png", lambda: attention.attention_png(pattern, [f"t{i}" for i in range(49)],
                                                           [f"1.{h} (induction)" for h in range(4)], title="attention")


CASES = list(_figures())


@pytest.fixture(autouse=True)
def _house_style():
    with matplotlib.rc_context(style.HOUSE_RC):
        yield
    plt.close("all")


@pytest.mark.parametrize("name,draw", CASES, ids=[c[0] for c in CASES])
def test_every_figure_is_legible_in_the_column(name, draw):
    fig = draw()
    sizes = style.text_sizes(fig)
    out = os.environ.get("IH_FIGURE_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(out) / f"{name}.png", bbox_inches="tight")
    width_px = style.png_width(fig)
    assert width_px <= style.COLUMN_PX, f"{name}: {width_px:.0f} px wide, shrunk in the column"
    smallest = sizes[0]
    assert smallest[1] >= style.MIN_FONT_PT - 0.01, f"{name}: {smallest[0]!r} at {smallest[1]:.1f} pt"


@pytest.mark.parametrize("name,draw", CASES, ids=[c[0] for c in CASES])
def test_no_legend_has_more_than_eight_entries(name, draw):
    entries = style.legend_entries(draw())
    assert all(n <= style.MAX_LEGEND for n in entries), f"{name}: legends of {entries} entries"


def test_text_sizes_scales_a_figure_wider_than_the_column():
    with matplotlib.rc_context(style.HOUSE_RC):
        wide, narrow = plt.figure(figsize=(2 * style.COLUMN_IN, 2)), plt.figure(figsize=(4, 2))
        for fig in (wide, narrow):
            fig.add_axes((0, 0, 1, 1)).axis("off")
            fig.patch.set_visible(True)
            fig.text(0.5, 0.5, "label", fontsize=10)
        assert style.text_sizes(narrow) == [("label", 10.0)]
        (text, points), = style.text_sizes(wide)
        assert text == "label" and 4.5 < points < 5.5  # about half: the PNG is about twice the column


def test_model_colours_are_distinct_for_twenty_models():
    assert len({style.model_color(i) for i in range(20)}) == 20
    assert style.model_linestyle(0) == "-" and style.model_linestyle(20) == "--"


def test_onset_spread_refuses_models_without_any_window():
    with pytest.raises(ValueError, match="no onset to draw"):
        figures.onset_spread({"attn-only-2l": [("attn-only-2l", None), ("attn-only-2l-seed1", None)]})
