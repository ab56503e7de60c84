"""The natural-code control set (Methods, "Natural code"): the core claims on both training
recipes, side by side. The ``small`` recipe opens half of the training sequences with a window
of the corpus shown twice; the ``-natural`` runs train the same models on the corpus alone
(:func:`induction_heads.engine.config.natural_recipe`). Each natural run is compared with its
twin on the repeat recipe (:func:`induction_heads.book.argument1.recipe_pairs`), and the same
statements (:func:`induction_heads.book.tables.argument_statements`) are counted on each recipe's
runs, so that a claim that holds on one recipe only shows as such. :func:`recipe_checks` checks,
model by model, the claims chapters 02-04 assert on the repeat recipe, with their thresholds, on
both recipes; :func:`recipe_verdicts` and :func:`recipe_verdict` turn them into the section's
closing table and its plain verdict.
"""

from __future__ import annotations

import re
from typing import Mapping, NamedTuple, Sequence

from ..engine.config import NATURAL_MODELS, model_family, parse_model_name
from ..measure.heads import THRESHOLDS
from . import argument1, argument2, argument3
from .argument1 import PhaseChangeReadings, recipe_pairs
from .chapter import PIPELINE_ONLY, Table
from .checks import Verdict, verdict_of
from .tables import ARGUMENTS, Statement, argument_statements, range_with_intervals, value_ci, window_span, window_text

__all__ = ["RECIPE_ARGUMENTS", "recipe_rows", "recipe_statements", "recipe_table", "recipe_numbers", "recipe_effects",
           "RecipeSide", "RecipeCheck", "NATURAL_DEVIATIONS", "natural_name", "recipe_checks", "checks_by_statement",
           "check_table", "recipe_verdicts", "recipe_changes", "recipe_verdict"]

NAN = float("nan")

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
            timing = f"its window starts {wn['start'] / wr['start']:.1f}x later on natural code ({wn['start'] / 1e6:.2f}M against {wr['start'] / 1e6:.2f}M tokens)"
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


# ------------------------------------------------------------------ the claims checked on both recipes

class RecipeSide(NamedTuple):
    """One statement about one model, checked on one recipe: the run it reads (``run``: the
    model checked; ``missing``: the runs it needs that are not trained yet), whether it holds
    (None: not trained yet), the numbers it rests on (for ``book.claim``'s ``check``) and the same
    as text for the side-by-side table, intervals included where the summary has them."""

    run: str
    ok: bool | None
    numbers: dict
    shown: str
    missing: tuple[str, ...] = ()
    deviation: bool = False  # recorded in the decisions log as not holding (asserted to still fail)

    @property
    def trained(self) -> bool:
        return not self.missing


class RecipeCheck(NamedTuple):
    """A statement of the chapters 02-04 about one model (``model``: its name on the repeat
    recipe), checked on both recipes with the same threshold."""

    argument: str  # :data:`ARGUMENTS`' name of the argument
    key: str  # the statement's id: window, icl-in-window, head, head-in-window, one-layer, smeared-earlier,
    # knockout-head, knockout-window, knockout-icl, ablation
    statement: str  # the claim as the chapters word it, threshold included
    model: str
    repeat: RecipeSide
    natural: RecipeSide

    @property
    def holds_on(self) -> str:
        """``both recipes``, ``the repeat recipe only``, ``natural code only``, ``neither`` or
        ``not trained yet`` (either side)."""
        r, n = self.repeat.ok, self.natural.ok
        if r is None or n is None:
            return "not trained yet"
        return {(True, True): "both recipes", (True, False): "the repeat recipe only",
                (False, True): "natural code only", (False, False): "neither"}[(r, n)]


# Statements measured *not* to hold on natural code, each recorded in the decisions log ("The
# `small` size's training recipe"): (natural run, statement key). The chapter checks them as
# deviations, asserted to still fail.
NATURAL_DEVIATIONS: frozenset[tuple[str, str]] = frozenset()


def natural_name(name: str) -> str:
    """The ``-natural`` run of a repeat-recipe model (``attn-only-2l-seed1`` ->
    ``attn-only-2l-natural-seed1``: the recipe comes before the seed in a name)."""
    m = re.match(r"^(.*?)(-seed\d+)?$", name)
    return f"{m.group(1)}-natural{m.group(2) or ''}"


def _side(run: str, needs: Sequence[str], rows: dict, readings: dict, test, deviations=frozenset(), key="") -> RecipeSide:
    missing = tuple(n for n in dict.fromkeys(needs) if n not in rows or n not in readings)
    if missing:
        return RecipeSide(run, None, {}, f"not trained yet ({', '.join(missing)})", missing)
    ok, numbers, shown = test()
    return RecipeSide(run, bool(ok), numbers, shown, deviation=(run, key) in deviations)


def recipe_checks(rows: dict[str, dict], readings: Mapping[str, PhaseChangeReadings],
                  natural_models: Sequence[str] = NATURAL_MODELS,
                  deviations: frozenset[tuple[str, str]] = NATURAL_DEVIATIONS) -> list[RecipeCheck]:
    """The per-model claims of chapters 02-04 on the natural-code set and on each natural run's
    twin, with the chapters' thresholds (:mod:`argument1`, :mod:`argument2`, :mod:`argument3`):

    - Argument 1, each model with two or more layers: a phase-change window; at least
      ``SHARE_IN_WINDOW_MIN`` of the final ICL gained in it; an induction head (largest
      prefix-matching score over training at least ``THRESHOLDS.prefix_matching``); at least
      ``SHARE_IN_WINDOW_MIN`` of that head's final score gained in the window. The one-layer model:
      no window and largest prefix matching at most ``NO_HEAD_MAX_PREFIX_MATCHING``.
    - Argument 2: ``smeared-2l``'s window starts before ``attn-only-2l``'s (on the same recipe).
      The referee's test, each K-composition knockout: no head (at most
      ``KNOCKOUT_MAX_PREFIX_MATCHING``), no window while its control has one, a final ICL within
      ``ONE_LAYER_ICL_TOLERANCE`` nats of the one-layer model's of its family.
    - Argument 3, attention-only models with two or more layers (no smeared keys): ablating the
      induction heads together removes at least ``FRACTION_REMOVED_MIN`` of the ICL (the
      summary's share under :data:`~induction_heads.book.argument3.DECIDING_METHOD`, mean ablation; no head: fails).

    ``rows`` are ``model_summary`` rows and ``readings`` :func:`argument1.phase_change_readings`,
    both by run name, of whichever runs exist; the models are those of ``natural_models``
    (their twins: the names without ``-natural``). A side whose runs are missing is *not
    trained yet* (``ok`` None). ``deviations``: ``(natural run, key)`` recorded as not holding."""
    twins = [t for n in natural_models if (t := n.replace("-natural", "", 1)) != n]
    out: list[RecipeCheck] = []
    arg1, arg2, arg3 = ARGUMENTS[0][0], ARGUMENTS[1][0], ARGUMENTS[2][0]
    share_min, head_min = argument1.SHARE_IN_WINDOW_MIN, THRESHOLDS.prefix_matching

    def both(argument: str, key: str, statement: str, model: str, needs, test) -> None:
        """``test(names)`` on each recipe, ``names`` mapping each needed repeat-recipe name to that recipe's run."""
        sides = []
        for natural in (False, True):
            names = {n: natural_name(n) if natural else n for n in needs}
            sides.append(_side(names[model], list(names.values()), rows, readings, lambda: test(names),
                               deviations if natural else frozenset(), key))
        out.append(RecipeCheck(argument, key, statement, model, *sides))

    def window_test(n):
        def test(names):
            w = readings[names[n]].window
            return (w is not None, {"has_window": w is not None},
                    window_span(w, 2) if w is not None else "no window")
        return test

    def icl_share_test(n):
        def test(names):
            r = readings[names[n]]
            return (r.icl_share_in_window >= share_min,
                    {"share_in_window": r.icl_share_in_window, "final_icl": r.final_icl},
                    (f"{_f(r.icl_share_in_window)} of" if r.window is not None else "no window;")
                    + f" final ICL {value_ci(rows[names[n]], 'icl_score_final', '+.2f')}")
        return test

    def head_test(n):
        def test(names):
            r, row = readings[names[n]], rows[names[n]]
            return (r.max_prefix_matching >= head_min, {"max_prefix_matching": r.max_prefix_matching},
                    f"{_f(r.max_prefix_matching)} (at the end {value_ci(row, 'max_prefix_matching_score', '.2f')})")
        return test

    def head_window_test(n):
        def test(names):
            r = readings[names[n]]
            return (r.head_share_in_window >= share_min,
                    {"share_in_window": r.head_share_in_window, "window_start": r.window_start, "window_end": r.window_end},
                    f"{_f(r.head_share_in_window)} in {window_span(r.window, 2)}" if r.window is not None else "no window")
        return test

    def one_layer_test(n):
        def test(names):
            r = readings[names[n]]
            return (r.window is None and r.max_prefix_matching <= argument1.NO_HEAD_MAX_PREFIX_MATCHING,
                    {"max_prefix_matching": r.max_prefix_matching, "has_window": r.window is not None},
                    f"window {window_span(r.window, 2)}, largest prefix matching {_f(r.max_prefix_matching)}")
        return test

    for n in argument1.multi_layer(twins):
        both(arg1, "window", "has a phase-change window", n, [n], window_test(n))
        both(arg1, "icl-in-window", f"a phase-change window holds at least {share_min:.0%} of the final ICL", n, [n],
             icl_share_test(n))
        both(arg1, "head", f"forms an induction head (largest prefix-matching score at least {head_min})", n, [n],
             head_test(n))
        both(arg1, "head-in-window", f"its induction head forms in the window (at least {share_min:.0%} of its final "
             "score gained there)", n, [n], head_window_test(n))
    for n in argument1.one_layer_vanilla(twins):
        both(arg1, "one-layer", "no induction head and no phase change in a one-layer model", n, [n], one_layer_test(n))

    if {"smeared-2l", "attn-only-2l"} <= set(twins):
        def smeared_test(names):
            ws, wv = readings[names["smeared-2l"]].window, readings[names["attn-only-2l"]].window
            s, v = (w.start if w is not None else NAN for w in (ws, wv))
            return (s < v, {"smeared_start": s, "vanilla_start": v},
                    f"starts {_m(s)} against {_m(v)}" + (f" ({v / s:.1f}x earlier)" if s < v else ""))
        both(arg2, "smeared-earlier", "smeared-2l's window starts earlier than attn-only-2l's", "smeared-2l",
             ["smeared-2l", "attn-only-2l"], smeared_test)

    for n in twins:
        if parse_model_name(n).variant != "k-knockout":
            continue
        control = dict(argument2.INTERVENTION_PAIRS).get(n)
        reference = argument2.ONE_LAYER_REFERENCE.get(model_family(n)[0])

        def ko_head(names, n=n):
            m = readings[names[n]].max_prefix_matching
            return (m <= argument2.KNOCKOUT_MAX_PREFIX_MATCHING, {"max_prefix_matching": m},
                    f"largest prefix matching {_f(m)}")
        both(arg2, "knockout-head", "a K-composition knockout forms no induction head (largest prefix matching at most "
             f"{argument2.KNOCKOUT_MAX_PREFIX_MATCHING})", n, [n], ko_head)
        if control is not None:
            def ko_window(names, n=n, control=control):
                w, cw = readings[names[n]].window, readings[names[control]].window
                return (w is None and cw is not None, {"has_window": w is not None, "control_has_window": cw is not None},
                        f"window {window_span(w, 2)}; {names[control]}'s {window_span(cw, 2)}")
            both(arg2, "knockout-window", "a K-composition knockout has no phase-change window, while its control has one",
                 n, [n, control], ko_window)
        if reference is not None:
            def ko_icl(names, n=n, reference=reference):
                a, b = rows[names[n]], rows[names[reference]]
                gap = abs(a["icl_score_final"] - b["icl_score_final"])
                return (gap <= argument2.ONE_LAYER_ICL_TOLERANCE,
                        {"final_icl": a["icl_score_final"], "one_layer_final_icl": b["icl_score_final"], "gap": gap},
                        f"{value_ci(a, 'icl_score_final', '+.2f')} against {names[reference]}'s "
                        f"{value_ci(b, 'icl_score_final', '+.2f')} ({gap:.2f} nats apart)")
            both(arg2, "knockout-icl", f"a K-composition knockout's final ICL lies within {argument2.ONE_LAYER_ICL_TOLERANCE} "
                 "nats of the one-layer model's of its family", n, [n, reference], ko_icl)

    for n in argument1.plain(twins):
        if model_family(n)[1] < 2 or model_family(n)[0] != "attn-only":
            continue

        def ablation(names, n=n):
            row = rows[names[n]]
            key = argument3.SUMMARY_KEYS[argument3.DECIDING_METHOD]
            frac = row.get(key)
            ok = frac is not None and frac >= argument3.FRACTION_REMOVED_MIN
            return (ok, {"fraction_removed": NAN if frac is None else frac, "icl_clean": row["icl_score_final"]},
                    "no induction head to ablate" if frac is None else value_ci(row, key, ".2f"))
        both(arg3, "ablation", f"ablating its induction heads together ({argument3.DECIDING_METHOD} ablation) removes "
             f"at least {argument3.FRACTION_REMOVED_MIN:.0%} of its ICL", n, [n], ablation)
    return out


def _f(v: float) -> str:
    return "none" if v is None or v != v else f"{v:.2f}"


def _m(tokens: float) -> str:
    return "none" if tokens != tokens else f"{tokens / 1e6:.2f}M"


def checks_by_statement(checks: Sequence[RecipeCheck]) -> dict[str, list[RecipeCheck]]:
    """The checks grouped by statement (in order): one ``book.claim`` and one table each."""
    out: dict[str, list[RecipeCheck]] = {}
    for c in checks:
        out.setdefault(c.statement, []).append(c)
    return out


def _side_cell(s: RecipeSide) -> str:
    if s.ok is None:
        return s.shown
    return f"{'yes' if s.ok else 'no'}: {s.shown}" + (" (recorded deviation)" if s.deviation else "")


def check_table(checks: Sequence[RecipeCheck]) -> Table:
    """One statement's checks side by side: per model, each recipe's run, whether the statement
    holds and the numbers it rests on, and on which recipes it holds."""
    return Table(["model", "repeat recipe", "natural code", "holds on"],
                 [[c.model, _side_cell(c.repeat), _side_cell(c.natural), c.holds_on] for c in checks])


def _one_recipe(c: RecipeCheck) -> str:
    return f"{c.model} ({c.repeat.shown} on the repeat recipe against {c.natural.shown} on natural code)"


def _argument(c: RecipeCheck) -> str:
    return f"Argument {c.argument.split('.')[0]}"


def _waiting(checks: Sequence[RecipeCheck]) -> dict[tuple[str, ...], list[RecipeCheck]]:
    """The checks not trained yet, by the runs they wait for."""
    out: dict[tuple[str, ...], list[RecipeCheck]] = {}
    for c in checks:
        missing = tuple(dict.fromkeys([*c.repeat.missing, *c.natural.missing]))
        if missing:
            out.setdefault(missing, []).append(c)
    return out


def recipe_verdicts(checks: Sequence[RecipeCheck], asserted: bool = True) -> list[Verdict]:
    """One closing-table row per statement: the count on each recipe, and a verdict over both
    (*reproduced* when it holds for every model on both recipes, *partly* when on one recipe
    only or for some models, *not decided* while no natural run of it is trained, *not judged at
    this size* at a size that asserts no claims; a side not trained yet is left out of the count and
    named)."""
    out = []
    for statement, group in checks_by_statement(checks).items():
        counts = []
        for recipe, attr in (("repeat recipe", "repeat"), ("natural code", "natural")):
            sides = [getattr(c, attr) for c in group if getattr(c, attr).ok is not None]
            counts.append((recipe, sum(s.ok for s in sides), len(sides)))
        passed, total = sum(p for _, p, _ in counts), sum(t for _, _, t in counts)
        ours = "; ".join(f"{recipe} {p}/{t}" for recipe, p, t in counts)
        verdict = "not decided" if asserted and not counts[1][2] else verdict_of(passed, total, asserted)
        why = []
        for kind in ("the repeat recipe only", "natural code only"):
            these = [c for c in group if c.holds_on == kind]
            if these:
                why.append(f"holds on {kind} for " + "; ".join(map(_one_recipe, these)))
        these = [c.model for c in group if c.holds_on == "neither"]
        if these:
            why.append("holds on neither recipe for " + ", ".join(these))
        if not why and any(c.holds_on == "both recipes" for c in group):
            why.append("holds on both recipes for every model checked")
        missing = sorted({n for c in group for s in (c.repeat, c.natural) for n in s.missing})
        if missing:
            why.append(f"not trained yet: {', '.join(missing)}")
        if not asserted:
            why = [f"the size {PIPELINE_ONLY}"]
        out.append(Verdict(f"{_argument(group[0])}: {statement}", ours, verdict, "; ".join(why)))
    return out


def recipe_changes(rows: dict[str, dict]) -> list[str]:
    """What the repeated windows change, over every paired model (:func:`recipe_pairs`): how
    much later the windows start on natural code, the repeat test's top-1 and the passage's
    second copy on each recipe (and in how many models the 95% intervals separate), and the loss
    bump on each recipe. One sentence each; none without pairs."""
    pairs = recipe_pairs(rows)
    if not pairs:
        return []
    out = []
    ratios = [(twin, rows[nat]["phase_change_window"]["start"] / rows[twin]["phase_change_window"]["start"])
              for nat, twin in pairs if rows[nat]["phase_change_window"] and rows[twin]["phase_change_window"]]
    if ratios:
        later = sum(r > 1 for _, r in ratios)
        out.append(f"The phase change's timing: the window starts later on natural code in {later} of the {len(ratios)} "
                   f"models with a window on both recipes ({', '.join(f'{t} {r:.1f}x' for t, r in ratios)}; "
                   "natural-code start over repeat-recipe start).")
    one_sided = [(twin, bool(rows[twin]["phase_change_window"])) for nat, twin in pairs
                 if bool(rows[nat]["phase_change_window"]) != bool(rows[twin]["phase_change_window"])]
    for twin, on_repeat in one_sided:
        out.append(f"{twin} has a window on {'the repeat recipe' if on_repeat else 'natural code'} only.")
    for key, what in (("repeat_top1", "Top-1 on the repeats of random tokens (copies 2-4)"),
                      ("passage_top1_second_copy", "Top-1 on a held-out passage's second copy")):
        have = [(nat, twin) for nat, twin in pairs if rows[twin].get(key) is not None and rows[nat].get(key) is not None
                and rows[twin]["layers"] >= 2 and parse_model_name(twin).variant is None]
        if not have:
            continue
        higher = [t for n, t in have if rows[n].get(key + "_ci") and rows[t].get(key + "_ci")
                  and rows[n][key + "_ci"][1] < rows[t][key + "_ci"][0]]
        out.append(f"{what}, repeat recipe against natural code: "
                   + ", ".join(f"{t} {rows[t][key]:.2f} against {rows[n][key]:.2f}" for n, t in have)
                   + f"; higher with the repeated windows, the 95% intervals apart, in {len(higher)} of {len(have)} models.")
    deep = [(nat, twin) for nat, twin in pairs if rows[twin]["layers"] >= 2 and not rows[twin]["smeared_key"]
            and parse_model_name(twin).variant is None]
    if deep:
        def with_bump(i):
            names = [p[i] for p in deep if rows[p[i]]["loss_bump"]]
            return f"{len(names)} of {len(deep)}" + (f" ({', '.join(names)})" if names else "")
        out.append(f"A loss bump (the paper sees one in every model with two or more layers): on the repeat recipe in "
                   f"{with_bump(1)}, on natural code in {with_bump(0)}.")
    return out


def recipe_verdict(checks: Sequence[RecipeCheck], rows: dict[str, dict]) -> list[str]:
    """The plain verdict on the repeated windows: which statements hold on both recipes (what
    they do not change), which on one recipe only (which one, and the numbers on each side),
    which wait for runs not trained yet, then :func:`recipe_changes` (what they change)."""
    groups = checks_by_statement(checks)
    on_both, one_only, neither = [], [], []
    for statement, group in groups.items():
        checked = [c for c in group if c.holds_on != "not trained yet"]
        if checked and all(c.holds_on == "both recipes" for c in checked):
            on_both.append(f"{statement} ({', '.join(c.model for c in checked)})")
        for c in checked:
            if c.holds_on in ("the repeat recipe only", "natural code only"):
                one_only.append(f"{statement}: holds on {c.holds_on} for {_one_recipe(c)}")
        models = [c.model for c in checked if c.holds_on == "neither"]
        if models:
            neither.append(f"{statement} ({', '.join(models)})")
    out = []
    if on_both:
        out.append(f"What the repeated windows do not change: {len(on_both)} of the {len(groups)} statements hold on both "
                   "recipes for every model checked: " + "; ".join(on_both) + ".")
    if one_only:
        out.append("Holds on one recipe only: " + "; ".join(one_only) + ".")
    if neither:
        out.append("Holds on neither recipe: " + "; ".join(neither) + ".")
    for missing, group in _waiting(checks).items():
        out.append(f"Not checked yet, waiting for {', '.join(missing)}: "
                   + "; ".join(f"{c.statement} ({c.model})" for c in group) + ".")
    changes = recipe_changes(rows)
    return out + (["What the repeated windows change:", *changes] if changes else [])
