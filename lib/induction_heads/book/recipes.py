"""The natural-code control set (Methods, "Natural code"): the core claims on both training
recipes, side by side. The ``small`` recipe opens half of the training sequences with a window
of the corpus shown twice; the ``-natural`` runs train the same models on the corpus alone
(:func:`induction_heads.engine.config.natural_recipe`). Each natural run is compared with its
twin on the repeat recipe (:func:`induction_heads.book.argument1.recipe_pairs`), and the same
registered claims (:data:`RECIPE_CLAIMS`, :mod:`induction_heads.book.claims`: the definitions,
thresholds and readings chapters 02-04 use) are checked model by model on each recipe's runs, so
that a claim that holds on one recipe only shows as such. :func:`recipe_checks` checks them;
:func:`recipe_table`, :func:`recipe_verdicts` and :func:`recipe_verdict` turn them into the
section's count table, closing table and plain verdict.
"""

from __future__ import annotations

import re
from typing import Mapping, NamedTuple, Sequence

from ..engine.config import NATURAL_MODELS, parse_model_name
from .argument1 import recipe_pairs
from .chapter import NOT_JUDGED, PIPELINE_ONLY, Table
from .checks import Verdict
from .claims import ClaimDef, number, register, registered, verdict_rule
from .tables import ARGUMENTS, range_with_intervals, window_text

__all__ = ["SANITY", "natural_claims", "RECIPE_CLAIMS", "recipe_rows", "recipe_table", "recipe_numbers", "recipe_effects",
           "RecipeSide", "RecipeCheck", "NATURAL_DEVIATIONS", "natural_name", "recipe_checks", "checks_by_statement",
           "check_table", "recipe_verdicts", "recipe_changes", "recipe_verdict"]

NAN = float("nan")

# The registered claims the natural set checks on both recipes: its five models cover Arguments 1-3
# and the referee's knockout (the claims chapters 02-04 assert model by model and that hold on the
# repeat recipe; the loss bump, the copying onset and the copying level are Argument 1's
# departures, compared between the recipes by :func:`recipe_changes`).
RECIPE_CLAIMS = ("arg1.window", "arg1.share-in-window", "arg1.head", "arg1.head-in-window", "arg1.one-layer-no-window",
                 "arg1.one-layer-no-head", "arg2.smeared-earlier", "arg2.knockout-no-head", "arg2.knockout-no-window",
                 "arg2.knockout-icl", "arg3.removes-most")


def recipe_rows(rows: dict[str, dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(repeat, natural)``: the summary rows of the paired runs on each recipe, both keyed by
    the repeat-recipe name (``attn-only-2l``), so that the same claims read either."""
    pairs = recipe_pairs(rows)
    return {twin: rows[twin] for _, twin in pairs}, {twin: rows[nat] for nat, twin in pairs}


def _cell(checks: Sequence["RecipeCheck"], attr: str) -> str:
    sides = [getattr(c, attr) for c in checks if getattr(c, attr).ok is not None]
    if not sides:
        return "-"
    held = sum(s.ok for s in sides)
    return f"{held}/{len(sides)} ({verdict_rule(held, len(sides))})"


def recipe_table(checks: Sequence["RecipeCheck"]) -> Table:
    """Each claim's count and verdict on each recipe (:func:`recipe_checks`)."""
    return Table(["argument", "claim (paired runs)", "repeat recipe", "natural code"],
                 [[group[0].argument, statement, _cell(group, "repeat"), _cell(group, "natural")]
                  for statement, group in checks_by_statement(checks).items()])


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
    key: str  # the registered claim's key (:data:`RECIPE_CLAIMS`)
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


def _side(definition: ClaimDef, rows: Mapping[str, dict], model: str, run: str, deviations=frozenset()) -> RecipeSide:
    """One claim read for one model on one recipe's rows (keyed by the repeat-recipe name)."""
    if model not in definition.subjects(rows):
        return RecipeSide(run, None, {}, f"not trained yet ({run})", (run,))
    r = definition.read(rows, model)
    if r.ok is None:
        ok, numbers = definition.threshold.holds(r.value), {definition.reading: r.value, **r.numbers}
    else:
        ok, numbers = bool(r.ok), dict(r.numbers)
    shown = ", ".join(f"{k} {_f(v)}" for k, v in numbers.items())
    return RecipeSide(run, ok, numbers, shown, deviation=(run, definition.key) in deviations)


def recipe_checks(rows: dict[str, dict], deviations: frozenset[tuple[str, str]] = NATURAL_DEVIATIONS,
                  keys: Sequence[str] = RECIPE_CLAIMS, natural_models: Sequence[str] = NATURAL_MODELS) -> list[RecipeCheck]:
    """Each registered claim of ``keys`` checked model by model on both recipes: ``rows`` are
    summary rows of whichever runs exist; each recipe's rows are those of ``natural_models`` and of
    their twins (keyed by the repeat-recipe name), so a model the claim covers on one recipe whose
    run on the other is missing is *not trained yet* there (``ok`` None). ``deviations``:
    ``(natural run, claim key)`` recorded as not holding."""
    twins = [t for n in natural_models if (t := n.replace("-natural", "", 1)) != n]
    repeat = {t: rows[t] for t in twins if t in rows}
    natural = {t: rows[natural_name(t)] for t in twins if natural_name(t) in rows}
    defs = registered()
    out = []
    for key in keys:
        d = defs.get(key)
        if d is None or d.read is None:
            continue
        for model in dict.fromkeys([*d.subjects(repeat), *d.subjects(natural)]):
            argument = ARGUMENTS[d.argument - 1][0]
            out.append(RecipeCheck(argument, key, d.claim_text(), model, _side(d, repeat, model, model),
                                   _side(d, natural, model, " against ".join(map(natural_name, model.split(" against "))),
                                         deviations)))
    return out


def _f(v) -> str:
    if isinstance(v, (bool, str)):
        return str(v)
    x = number(v)
    if x != x:
        return "none"
    return f"{x:,.0f}" if abs(x) >= 1e4 else v.format(".2f") if hasattr(v, "format") else f"{x:.2f}"


def natural_claims(size: str, checks: Sequence[RecipeCheck]) -> list:
    """Each claim of :func:`recipe_checks` on the natural runs, as the registered claim's check
    (:class:`~induction_heads.book.checks.Claim`, its statement marked "natural code"), not shown;
    a claim none of whose natural runs is trained yet is left out (:func:`recipe_verdict` names it)."""
    defs = registered()
    out = []
    for statement, group in checks_by_statement(checks).items():
        sides = [c.natural for c in group if c.natural.trained]
        if not sides:
            continue
        claim = defs[group[0].key].open(size)
        claim.claim = f"{statement} (natural code)"
        for side in sides:
            (claim.deviation if side.deviation else claim.check)(side.run, side.ok, **side.numbers)
        out.append(claim)
    return out


# ------------------------------------------------------------------ the sanity checks of Methods

SANITY = {
    "beats-uniform": register(ClaimDef(
        "methods.beats-uniform", 0, "ends with a training loss below a uniform guess over the vocabulary",
        paper="(a sanity check: a trained model beats a uniform guess)", kind="sanity", unit="runs")),
    "loss-fell": register(ClaimDef(
        "methods.loss-fell", 0, "ends with a lower training loss than it started with (runs trained from scratch; a "
        "cool-down continues a trained run)", paper="(a sanity check: training lowers the loss)", kind="sanity",
        unit="runs")),
    "bridge-exact": register(ClaimDef(
        "methods.bridge-exact", 0, "the TransformerLens bridge reproduces the fast twin's logits (largest difference "
        "below 1e-4)", paper="(a sanity check of the analysis pipeline)", kind="sanity", unit="models")),
}


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
    return c.argument.split(":")[0]


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
        verdict = ("not decided" if not counts[1][2] else verdict_rule(passed, total)) if asserted else NOT_JUDGED
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
        out.append(Verdict(f"{_argument(group[0])}: {statement}", ours, verdict, "; ".join(why), key=group[0].key))
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
