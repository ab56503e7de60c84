"""The book's one palette: every colour that stands for a class of things (a head class, a class
of predicted token, a training recipe, the ICL score, the phase-change window, a model's depth),
defined once, so that a class has the same colour on every page and two classes drawn together
never share one. :mod:`.style` re-exports these names; figure modules take their colours from here.

Rules the tests pin (tests/book/test_style.py): the ICL score's line, the head classes, the window
and the token classes are pairwise distinct (the ICL line is near-black, the previous-token heads
blue); a token an induction head could predict has the induction head's colour on purpose."""

from __future__ import annotations

from matplotlib.colors import to_rgb

__all__ = [
    "HEAD_CLASS_COLORS",
    "TOKEN_CLASS_COLORS",
    "RECIPE_COLORS",
    "ICL_COLOR",
    "REPEAT_COLOR",
    "WINDOW_COLOR",
    "ABLATED_COLOR",
    "CONTEXT_COLOR",
    "CONTRAST_LINE",
    "DEPTH_COLORS",
    "MODEL_PALETTE",
    "depth_color",
    "color_distance",
]

# One colour per head class (measure.heads.classify_heads) in every figure.
HEAD_CLASS_COLORS: dict[str, str] = {"induction": "#c0392b", "previous-token": "#2874a6", "other": "0.6"}
# The ICL score (loss at a late context index minus an early one): near-black, so it is never
# mistaken for a class of heads drawn in the same figure (the previous-token heads are blue).
ICL_COLOR = "#1a1a1a"
# Top-1 accuracy on repeated random tokens (drawn beside the largest prefix-matching score, red).
REPEAT_COLOR = "#1f77b4"
WINDOW_COLOR = "#f5b041"  # the phase-change window: the paper's orange band
ABLATED_COLOR = "0.45"  # a curve with heads ablated, beside its clean curve
CONTEXT_COLOR = "0.78"  # the lines a figure does not highlight, drawn behind the few it does
CONTRAST_LINE = "0.6"  # the one model a hero figure sets beside its subject (the one-layer model, the vanilla one)
# One colour per class of predicted token (measure.icl_classes): the induction head's colour for
# the tokens it could predict.
TOKEN_CLASS_COLORS: dict[str, str] = {"induction-predictable": HEAD_CLASS_COLORS["induction"],
                                      "repeated-other": "#7d3c98", "novel": "0.55"}
# The two training recipes, one colour each wherever they are drawn together.
RECIPE_COLORS: dict[str, str] = {"repeat": "C0", "natural": "C3"}
# A model's depth (its number of layers), for figures of many runs that colour by depth: one hue
# per depth (green for one layer, whose runs never form induction heads), deeper ones darker.
DEPTH_COLORS: dict[int, str] = {1: "#41ab5d", 2: "#3182bd", 3: "#807dba", 4: "#a6761d", 6: "#252525"}
# Twenty distinct colours for the models (or rungs) of a figure that shows each one: matplotlib's
# ten, then ten darker ones (so the ladder's eleven or more rungs never share a colour).
MODEL_PALETTE: list[str] = [f"C{i}" for i in range(10)] + ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
                                                           "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]


def depth_color(layers: int | None) -> str:
    """The colour of a model with ``layers`` layers (:data:`DEPTH_COLORS`; grey when unknown, the
    darkest for a depth the table does not list)."""
    if layers is None:
        return CONTEXT_COLOR
    if layers in DEPTH_COLORS:
        return DEPTH_COLORS[layers]
    return DEPTH_COLORS[max(d for d in DEPTH_COLORS if d <= layers)] if layers > 1 else DEPTH_COLORS[1]


def color_distance(a: str, b: str) -> float:
    """Euclidean distance between two colours in RGB (0 to about 1.73): two class colours drawn
    together should be at least 0.25 apart."""
    return sum((x - y) ** 2 for x, y in zip(to_rgb(a), to_rgb(b))) ** 0.5
