"""The front page's miniatures of the argument heroes (figures.thumbnails.hero_thumbnails), drawn
from the committed tiny zoo: each the hero's data for the hero's models (the curves compared with
the runs' own trajectories, so a wrong model or head fails), its lines counted, the window marked
where the run has one, axes that frame the data, no legend or tick labels, at the claim
thumbnail's size (the verdict strip's six images: tests/book/test_analysis.py)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from induction_heads.book import argument1 as book_argument1, argument6 as book_argument6
from induction_heads.book.figures import thumbnails
from induction_heads.book.figures.palette import CONTRAST_LINE, HEAD_CLASS_COLORS, ICL_COLOR
from induction_heads.engine.zoo import Zoo
from induction_heads.measure.phase import PhaseWindow


@pytest.fixture(scope="module")
def tiny():
    zoo = Zoo.load("tiny")
    traj = zoo.trajectories()
    return zoo, traj, book_argument1.windows(traj)


@pytest.fixture(scope="module")
def heroes():
    figs = thumbnails.hero_thumbnails("tiny")
    yield figs
    plt.close("all")


def _curves(ax):
    """The data lines of a panel: not the zero line, not a thick window stroke."""
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2 and ln.get_linewidth() < 2]


def _thick(ax):
    return [ln for ln in ax.get_lines() if ln.get_linewidth() >= 2]


def _after_step0(m, key="icl_score"):
    keep = m["tokens"] > 0
    return np.asarray(m["tokens"][keep], dtype=float), np.asarray(m[key][keep], dtype=float)


def _frames(ax, lines):
    """The x axis runs from the first to the last drawn token; the y axis holds every drawn value."""
    xs = np.concatenate([np.asarray(ln.get_xdata(), dtype=float) for ln in lines])
    ys = np.concatenate([np.asarray(ln.get_ydata(), dtype=float) for ln in lines])
    assert ax.get_xlim() == pytest.approx((xs.min(), xs.max()))
    lo, hi = ax.get_ylim()
    assert lo <= ys.min() and ys.max() <= hi


def test_every_miniature_is_small_plain_and_labelled(heroes):
    assert sorted(heroes) == [1, 2, 5, 6]  # the tiny zoo has every hero's runs
    for i, fig in heroes.items():
        assert tuple(fig.get_size_inches()) == pytest.approx(thumbnails.THUMB_SIZE), i
        assert not fig.legends and all(ax.get_legend() is None for ax in fig.axes), i
        for ax in fig.axes:
            assert not ax.get_xticks().size and not ax.get_yticks().size, i  # no tick labels
            assert ax.get_xscale() == "log" and not ax.get_xlabel() and not ax.get_ylabel()
        assert fig.get_label() and "over training" in fig.get_label(), i  # the alt text


def test_argument1_miniature_draws_the_two_layer_model_over_the_one_layer_contrast(tiny, heroes):
    _, traj, win = tiny
    model, contrast = thumbnails.HERO_MODELS[1]
    top, bottom = heroes[1].axes
    icl, heads = _curves(top), _curves(bottom)
    assert [ln.get_color() for ln in icl] == [CONTRAST_LINE, ICL_COLOR]
    assert [ln.get_color() for ln in heads] == [CONTRAST_LINE, HEAD_CLASS_COLORS["induction"]]
    for ln, name in zip(icl, (contrast, model)):
        np.testing.assert_allclose(ln.get_ydata(), _after_step0(traj[name])[1])
    keep = traj[model]["tokens"] > 0
    np.testing.assert_allclose(heads[1].get_ydata(), traj[model]["prefix_matching"].flatten(1).amax(1)[keep])
    assert len(top.patches) == len(bottom.patches) == (win[model] is not None)
    _frames(top, icl)
    _frames(bottom, heads)
    assert bottom.get_ylim() == (0, 1.05)


def test_argument1_miniature_shades_the_window_in_both_rows(tiny):
    _, traj, _ = tiny
    model, contrast = thumbnails.HERO_MODELS[1]
    t = _after_step0(traj[model])[0]
    w = PhaseWindow(float(t[2]), float(t[5]), float(t[3]))
    fig = thumbnails.phase_change_thumbnail(traj, {model: w, contrast: None}, model, contrast)
    for ax in fig.axes:
        (band,) = ax.patches
        x = band.get_window_extent().transformed(ax.transData.inverted()).intervalx  # its span in tokens
        assert min(x) == pytest.approx(w.start) and max(x) == pytest.approx(w.end)
    assert "window shaded" in fig.get_label()
    plt.close(fig)


def test_argument2_miniature_draws_each_vanilla_model_beside_its_smeared_twin(tiny, heroes):
    _, traj, win = tiny
    axes = heroes[2].axes
    assert len(axes) == len(thumbnails.HERO_MODELS[2]) == 2
    for ax, (vanilla, smeared) in zip(axes, thumbnails.HERO_MODELS[2]):
        lines = _curves(ax)
        assert [ln.get_color() for ln in lines] == [CONTRAST_LINE, ICL_COLOR]
        for ln, name in zip(lines, (vanilla, smeared)):
            np.testing.assert_allclose(ln.get_ydata(), _after_step0(traj[name])[1])
        assert len(_thick(ax)) == sum(win[n] is not None for n in (vanilla, smeared))
        _frames(ax, lines)


def test_argument2_miniature_marks_a_window_thick_inside_it(tiny):
    _, traj, _ = tiny
    pairs = thumbnails.HERO_MODELS[2]
    t = _after_step0(traj["smeared-2l"])[0]
    w = PhaseWindow(float(t[2]), float(t[6]), float(t[4]))
    fig = thumbnails.smeared_thumbnail(traj, {"smeared-2l": w}, pairs)
    assert [len(_thick(ax)) for ax in fig.axes] == [0, 1]
    (stroke,) = _thick(fig.axes[1])
    x = np.asarray(stroke.get_xdata(), dtype=float)
    assert x.min() >= w.start and x.max() <= w.end and stroke.get_color() == ICL_COLOR
    plt.close(fig)


def test_argument5_miniature_follows_the_chapters_heads(tiny, heroes):
    _, traj, win = tiny
    m = traj[thumbnails.HERO_MODELS[5]]
    (ax,) = heroes[5].axes
    final_prev = m["previous_token"][-1]
    prev = int(final_prev[0].argmax())
    assert thumbnails.argument5.circuit_heads(m)[0] == f"0.{prev}"
    lines = _curves(ax)
    induction = thumbnails.argument5.circuit_heads(m)[1]
    assert len(lines) == 1 + 2 * len(induction)
    assert lines[0].get_color() == HEAD_CLASS_COLORS["previous-token"]
    keep = m["tokens"] > 0
    np.testing.assert_allclose(lines[0].get_ydata(), m["previous_token"][keep, 0, prev])
    assert len(ax.patches) == (win[thumbnails.HERO_MODELS[5]] is not None)
    _frames(ax, lines)


def test_argument5_miniature_draws_each_induction_heads_two_scores_and_the_window(tiny):
    _, traj, _ = tiny
    m = traj[thumbnails.HERO_MODELS[5]]
    t = _after_step0(m)[0]
    fig = thumbnails.circuit_thumbnail(m["tokens"], m, "0.0", ["1.1", "1.0"], PhaseWindow(t[1], t[4], t[2]), "x")
    (ax,) = fig.axes
    lines = _curves(ax)
    assert [ln.get_linestyle() for ln in lines] == ["-", "-", "--", "-", "--"] and len(ax.patches) == 1
    keep = m["tokens"] > 0
    np.testing.assert_allclose(lines[4].get_ydata(), m["ov_positivity"][keep, 1, 0])
    assert "induction heads 1.1, 1.0" in fig.get_label() and "window shaded" in fig.get_label()
    _frames(ax, lines)
    plt.close(fig)


def test_argument6_miniature_draws_every_rung_in_its_familys_panel(tiny, heroes):
    zoo, traj, win = tiny
    rungs = book_argument6.ladder("tiny", zoo)
    families = list(dict.fromkeys(r.family for r in rungs))
    axes = heroes[6].axes
    assert len(axes) == len(families)
    colours = thumbnails.argument6.rung_colors([r.name for r in rungs])
    for ax, fam in zip(axes, families):
        names = [r.name for r in rungs if r.family == fam]
        lines = _curves(ax)
        assert [ln.get_label() for ln in lines] == names
        assert [ln.get_color() for ln in lines] == [colours[n] for n in names]
        for ln, n in zip(lines, names):
            np.testing.assert_allclose(ln.get_ydata(), _after_step0(traj[n])[1])
        assert len(_thick(ax)) == sum(win[n] is not None for n in names)
        _frames(ax, lines)



def test_the_miniatures_draw_the_models_their_chapters_heroes_draw():
    """HERO_MODELS names the models of the hero cells of chapters 02, 03 and 06: a chapter that
    changes its hero's models fails here until the front page follows."""
    import json
    from pathlib import Path

    chapters = Path(__file__).resolve().parents[2] / "chapters"

    def source(pattern, cell):
        (path,) = chapters.glob(pattern)
        return "".join(next(c for c in json.loads(path.read_text())["cells"] if c.get("id") == cell)["source"])

    model, contrast = thumbnails.HERO_MODELS[1]
    assert f'phase_change_hero(traj, win, "{model}", "{contrast}")' in source("02_*.ipynb", "arg1-hero")
    pairs = ", ".join(f'("{v}", "{s}")' for v, s in thumbnails.HERO_MODELS[2])
    assert f"smeared_hero(traj, win, [{pairs}])" in source("03_*.ipynb", "arg2-hero")
    assert f'name = "{thumbnails.HERO_MODELS[5]}"' in source("06_*.ipynb", "arg5-setup")
    assert "circuit_heads(m)" in source("06_*.ipynb", "arg5-setup")  # the same heads as the miniature
