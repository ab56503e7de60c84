"""The natural-code control set (Methods, "Natural code"): the core claims on both training
recipes, side by side. The ``small`` recipe opens half of the training sequences with a window
of the corpus shown twice; the ``-natural`` runs train the same models on the corpus alone
(:func:`induction_heads.engine.config.natural_recipe`). Each natural run is compared with its
twin on the repeat recipe (:func:`induction_heads.book.argument1.recipe_pairs`), and the same
statements (:func:`induction_heads.book.tables.argument_statements`) are counted on each recipe's
runs, so that a claim that holds on one recipe only shows as such.
"""

from __future__ import annotations

from typing import Sequence

from .argument1 import recipe_pairs
from .chapter import Table
from .checks import verdict_of
from .tables import ARGUMENTS, Statement, argument_statements, range_with_intervals, window_text

__all__ = ["RECIPE_ARGUMENTS", "recipe_rows", "recipe_statements", "recipe_table", "recipe_numbers", "recipe_effects"]

# The arguments the natural set can check: its five models cover Arguments 1-3 and the referee's
# knockout (Argument 2's statements).
RECIPE_ARGUMENTS = (0, 1, 2)


def recipe_rows(rows: dict[str, dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(repeat, natural)``: the summary rows of the paired runs on each recipe, both keyed by
    the repeat-recipe name (``attn-only-2l``), so that the same statements read either."""
    pairs = recipe_pairs(rows)
    return {twin: rows[twin] for _, twin in pairs}, {twin: rows[nat] for nat, twin in pairs}


def recipe_statements(rows: dict[str, dict]) -> list[tuple[str, str, Statement | None, Statement | None]]:
    """``(argument, statement, on the repeat recipe, on natural code)`` for every statement of
    :data:`RECIPE_ARGUMENTS` that either recipe's paired runs can check (None: not checkable on
    that recipe, e.g. a comparison whose partner has no natural twin)."""
    repeat, natural = recipe_rows(rows)
    a, b = argument_statements(repeat), argument_statements(natural)
    out = []
    for i in RECIPE_ARGUMENTS:
        on_repeat = {s.label: s for s in a[i] if s.total}
        on_natural = {s.label: s for s in b[i] if s.total}
        for label in dict.fromkeys([*on_repeat, *on_natural]):
            out.append((ARGUMENTS[i][0], label, on_repeat.get(label), on_natural.get(label)))
    return out


def _cell(s: Statement | None) -> str:
    return "-" if s is None else f"{s.passed}/{s.total} ({verdict_of(s.passed, s.total)})"


def recipe_table(rows: dict[str, dict]) -> Table:
    """:func:`recipe_statements` as a table: each statement's count and verdict on each recipe."""
    return Table(["argument", "statement (paired runs)", "repeat recipe", "natural code"],
                 [[arg, label, _cell(r), _cell(n)] for arg, label, r, n in recipe_statements(rows)])


def recipe_numbers(rows: dict[str, dict]) -> Table:
    """The paired runs' headline numbers, one row per run: the window, and at the end of training
    the ICL score, the largest prefix-matching score, the repeat test's top-1 on copies 2-4 and the
    passage's second copy, each with its 95% interval."""
    out = []
    for nat, twin in recipe_pairs(rows):
        for recipe, name in (("repeat", twin), ("natural", nat)):
            r = rows[name]
            w = r["phase_change_window"] or {}
            out.append([name, recipe, f"{r['tokens_trained'] / 1e6:.1f}M", window_text(w.get("start"), w.get("end")),
                        range_with_intervals([r], "icl_score_final"), range_with_intervals([r], "max_prefix_matching_score", ".2f"),
                        range_with_intervals([r], "repeat_top1", ".2f"), range_with_intervals([r], "passage_top1_second_copy", ".2f")])
    return Table(["run", "recipe", "trained", "window", "final ICL", "max prefix matching", "repeat top-1",
                  "passage 2nd copy"], out)


def recipe_effects(rows: dict[str, dict]) -> list[str]:
    """One sentence per paired model on what the repeated windows change: when the window starts
    (how many times later on natural code), and whether the repeat test's final intervals
    separate (higher on the repeat recipe, lower, or overlapping)."""
    out = []
    for nat, twin in recipe_pairs(rows):
        r, n = rows[twin], rows[nat]
        wr, wn = r["phase_change_window"], n["phase_change_window"]
        if wr and wn:
            timing = f"its window starts {wn['start'] / wr['start']:.1f}x later on natural code ({wn['start'] / 1e6:.1f}M against {wr['start'] / 1e6:.1f}M tokens)"
        else:
            timing = f"a window on the repeat recipe: {'yes' if wr else 'no'}, on natural code: {'yes' if wn else 'no'}"
        ci_r, ci_n = r.get("repeat_top1_ci"), n.get("repeat_top1_ci")
        if ci_r and ci_n:
            rel = ("higher with the repeated windows" if ci_n[1] < ci_r[0] else
                   "lower with the repeated windows" if ci_r[1] < ci_n[0] else "not separated by the intervals")
            copying = f"repeat top-1 {r['repeat_top1']:.2f} against {n['repeat_top1']:.2f} on natural code ({rel})"
        else:
            copying = "no repeat test to compare"
        out.append(f"{twin}: {timing}; {copying}.")
    return out
