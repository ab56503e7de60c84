"""Each argument's hero figure (the first figure of its chapter, under the claim) drawn on
hand-made inputs, what it draws counted: the lines and panels it should have, its window where the
model has one, and axes that frame the data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from induction_heads.book.claims import ClaimDef, Reading, Threshold
from induction_heads.book.figures import argument1, argument2, argument5, thumbnails
from induction_heads.book.figures.palette import CONTRAST_LINE, HEAD_CLASS_COLORS, ICL_COLOR
from induction_heads.measure.intervals import Interval
from induction_heads.measure.phase import PhaseWindow

S = 10
TOKENS = torch.cat([torch.zeros(1), torch.logspace(3, 7, S - 1)])
WINDOW = PhaseWindow(1e5, 1e6, 3e5)


def trajectory(drop: float, head: float, layers: int = 2, heads: int = 2) -> dict[str, torch.Tensor]:
    """A run whose ICL score falls to ``-drop`` and whose head (1, 1) reaches a prefix-matching
    score ``head`` in the second half of training; head (0, 0) a previous-token head."""
    late = (torch.arange(S) >= S // 2).float()
    pm = torch.zeros(S, layers, heads)
    pm[:, -1, -1] = head * late
    prev = torch.zeros(S, layers, heads)
    prev[:, 0, 0] = 0.9 * late
    ov = torch.full((S, layers, heads), -0.3)
    ov[:, -1, -1] = torch.linspace(-0.2, 0.95, S)
    return {"tokens": TOKENS, "icl_score": -drop * late, "prefix_matching": pm, "previous_token": prev,
            "ov_positivity": ov}


def _lines(ax):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1 or ln.get_linestyle() != "-"]


def test_phase_change_hero_draws_the_model_and_its_one_layer_contrast_in_two_rows():
    runs = {"m-2l": trajectory(0.8, 0.8), "m-1l": trajectory(0.1, 0.05, layers=1)}
    fig = argument1.phase_change_hero(runs, {"m-2l": WINDOW, "m-1l": None}, "m-2l", "m-1l")
    top, bottom = fig.axes
    assert top.get_shared_x_axes().joined(top, bottom) and bottom.get_xscale() == "log"
    drawn = [ln for ln in top.get_lines() if len(ln.get_xdata()) == S - 1]  # the step-0 snapshot left out
    assert [ln.get_color() for ln in drawn] == [CONTRAST_LINE, ICL_COLOR]  # the model drawn over its contrast
    heads = [ln for ln in bottom.get_lines() if len(ln.get_xdata()) == S - 1]
    assert [ln.get_color() for ln in heads] == [CONTRAST_LINE, HEAD_CLASS_COLORS["induction"]]
    assert max(heads[1].get_ydata()) == pytest.approx(0.8) and bottom.get_ylim() == (0, 1.05)
    assert len(top.patches) == len(bottom.patches) == 1  # the model's window, shaded in both rows
    assert top.get_ylim()[0] < -0.8 < 0 < top.get_ylim()[1]  # the fall and the zero line inside the frame
    assert len(fig.legends[0].get_texts()) == 4
    plt.close("all")


def test_phase_change_hero_without_a_contrast_or_a_window():
    fig = argument1.phase_change_hero({"m-2l": trajectory(0.8, 0.8)}, {}, "m-2l")
    top, bottom = fig.axes
    assert not top.patches and len([ln for ln in top.get_lines() if len(ln.get_xdata()) == S - 1]) == 1
    assert len(fig.legends[0].get_texts()) == 3  # no contrast entry
    plt.close("all")


def test_smeared_hero_draws_one_panel_per_pair_each_window_thick():
    runs = {"a-1l": trajectory(0.1, 0), "s-1l": trajectory(0.7, 0.8), "a-2l": trajectory(0.8, 0.8),
            "s-2l": trajectory(0.7, 0.8)}
    wins = {"a-1l": None, "s-1l": WINDOW, "a-2l": PhaseWindow(1e6, 5e6, 2e6), "s-2l": WINDOW}
    fig = argument2.smeared_hero(runs, wins, [("a-1l", "s-1l"), ("a-2l", "s-2l"), ("a-3l", "s-3l")])
    assert len(fig.axes) == 2  # the pair without runs is left out
    one, two = fig.axes
    assert one.get_title() == "a-1l against s-1l"
    thick = lambda ax: [ln for ln in ax.get_lines() if ln.get_linewidth() == 5]  # noqa: E731
    assert len(thick(one)) == 1 and len(thick(two)) == 2  # a window only where the model has one
    assert {ln.get_color() for ln in thick(two)} == {CONTRAST_LINE, ICL_COLOR}
    for ln in thick(two):
        x = np.asarray(ln.get_xdata())
        assert len(x) and x.min() >= 1e5 and x.max() <= 5e6  # inside the windows
    assert len(fig.legends[0].get_texts()) == 3
    plt.close("all")


def test_circuit_hero_draws_the_previous_token_head_and_each_induction_heads_two_scores():
    m = trajectory(0.8, 0.8)
    fig = argument5.circuit_hero(m["tokens"], m, "0.0", ["1.1"], WINDOW)
    (ax,) = fig.axes
    drawn = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == S - 1]
    assert [(ln.get_color(), ln.get_linestyle()) for ln in drawn] == [
        (HEAD_CLASS_COLORS["previous-token"], "-"), (HEAD_CLASS_COLORS["induction"], "-"),
        (HEAD_CLASS_COLORS["induction"], "--")]
    lo, hi = ax.get_ylim()
    lowest = min(min(ln.get_ydata()) for ln in drawn)  # the OV positivity after the step-0 snapshot
    assert lowest < 0 and lowest - 0.1 < lo < lowest and hi == 1.05  # frames the data, not a fixed -1
    assert len(ax.patches) == 1 and len(fig.legends[0].get_texts()) == 4
    plt.close("all")


def test_claim_readings_name_every_model_sorted_with_its_interval_and_the_threshold():
    d = ClaimDef("test.hero", 3, "removes {threshold} of its ICL", paper="p", reading="share",
                 threshold=Threshold(0.7, "at least", "book", "after the data"))
    c = d.open("small")
    for n, v in {"a": Interval(1.1, 0.9, 1.3), "b": Interval(0.5, 0.4, 0.6), "c": Interval(0.95, 0.8, 1.05)}.items():
        c.measure(n, v)
    fig = thumbnails.claim_readings(d, c, "share removed", marks=(1.0,))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "c", "a"]  # the largest reading on top
    dots = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert [ln.get_color() for ln in dots] == [thumbnails.FAILS, thumbnails.HOLDS, thumbnails.HOLDS]
    bars = [ln for ln in ax.get_lines() if ln.get_marker() in ("None", "") and ln.get_linestyle() == "-"]
    assert sorted(tuple(ln.get_xdata()) for ln in bars) == [(0.4, 0.6), (0.8, 1.05), (0.9, 1.3)]
    lo, hi = ax.get_xlim()
    assert lo < 0.4 and hi > 1.3 and hi - lo < 1.2  # the readings, intervals and lines framed, no more
    assert {ln.get_linestyle() for ln in ax.get_lines() if list(ln.get_xdata()) in ([0.7, 0.7], [1.0, 1.0])} == {"--", ":"}
    assert len(fig.legends[0].get_texts()) == 3  # holds, does not hold, the threshold
    plt.close("all")


def test_every_argument_chapter_opens_with_its_hero_and_a_takeaway_caption():
    """Chapters 02-07 (Arguments 1-6): the first cell after the claim that draws or shows anything
    is the hero (``argN-hero``), whose caption opens with the takeaway in bold; no table comes
    before it."""
    import json
    import re
    from pathlib import Path

    import yaml

    chapters = Path(__file__).resolve().parents[2] / "chapters"
    captions = yaml.safe_load((chapters / "figures.yml").read_text())
    for k in range(1, 7):
        (path,) = chapters.glob(f"0{k + 1}_argument{k}_*.ipynb")
        cells = json.loads(path.read_text())["cells"]
        code = [c for c in cells[1:] if c["cell_type"] == "code" and "colab-setup" not in c.get("metadata", {}).get("tags", [])
                and "parameters" not in c.get("metadata", {}).get("tags", [])]
        first = next(i for i, c in enumerate(code) if re.search(r"^(fig = |book\.Table\(|\w+_table$)", "".join(c["source"]), re.M))
        assert code[first]["id"] == f"arg{k}-hero", (path.name, code[first]["id"])
        caption = captions[path.name][f"arg{k}-hero"]["caption"]
        assert re.match(r"\*\*[^*]+\.\*\* ", caption), caption[:80]
