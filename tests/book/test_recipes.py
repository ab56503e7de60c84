"""The natural-code comparison (book/recipes.py) on summary rows whose answers are known."""

from __future__ import annotations

from induction_heads.book import recipes


def _row(layers: int, window: float | None, prefix: float, repeat: float, ci: tuple[float, float], **over) -> dict:
    return {"layers": layers, "attn_only": True, "smeared_key": False, "tokens_trained": 24_576_000,
            "icl_score_final": -0.7, "icl_score_final_ci": [-0.8, -0.6],
            "icl_share_in_window": 0.8 if window else None,
            "phase_change_window": {"start": window, "end": 2 * window} if window else None,
            "max_prefix_matching_score": prefix, "max_prefix_matching_score_ci": [prefix - 0.01, prefix + 0.01],
            "induction_heads": ["1.0"] if window else [], "loss_bump": bool(window),
            "repeat_top1": repeat, "repeat_top1_ci": list(ci), "passage_top1_second_copy": 0.8,
            "ablation_icl_fraction_removed": 0.95 if window else None,
            "ablation_icl_fraction_removed_mean": 0.93 if window else None,
            "ablation_icl_fraction_removed_mean_ci": [0.8, 1.1] if window else None,
            "argument4": {"copying_gain_share": None}, "argument6": {"rung": False}, **over}


ROWS = {
    "attn-only-1l": _row(1, None, 0.03, 0.0, (0.0, 0.0)),
    "attn-only-2l": _row(2, 1e6, 0.8, 0.34, (0.31, 0.38)),
    "attn-only-2l-natural": _row(2, 3e6, 0.8, 0.10, (0.08, 0.12), tokens_trained=73_728_000),
    "attn-only-1l-natural": _row(1, None, 0.03, 0.0, (0.0, 0.0)),
    "mlp-2l": _row(2, 2e6, 0.8, 0.15, (0.12, 0.17), attn_only=False),
    "mlp-2l-natural": _row(2, None, 0.45, 0.05, (0.03, 0.07), attn_only=False, tokens_trained=73_728_000),
    "smeared-2l": _row(2, 5e5, 0.8, 0.3, (0.2, 0.4), smeared_key=True),  # no natural twin: not compared
}


def test_recipe_rows_key_both_recipes_by_the_repeat_name():
    repeat, natural = recipes.recipe_rows(ROWS)
    assert list(repeat) == list(natural) == ["attn-only-2l", "attn-only-1l", "mlp-2l"]
    assert natural["attn-only-2l"] is ROWS["attn-only-2l-natural"]


def test_recipe_statements_show_a_claim_that_holds_on_one_recipe_only():
    s = {(arg[0], label): (r, n) for arg, label, r, n in recipes.recipe_statements(ROWS)}
    r, n = s[("1", "window, most ICL in it, induction heads (2+ layers)")]
    assert (r.passed, r.total) == (2, 2) and (n.passed, n.total) == (1, 2)  # mlp-2l-natural: no window
    r, n = s[("1", "neither in one layer")]
    assert (r.passed, r.total) == (n.passed, n.total) == (1, 1)
    text = repr(recipes.recipe_table(ROWS))
    assert "2/2 (reproduced)" in text and "1/2 (partly)" in text


def test_recipe_numbers_and_effects():
    lines = repr(recipes.recipe_numbers(ROWS)).splitlines()
    assert len(lines) == 2 + 6 and "attn-only-2l-natural" in lines[3] and "73.7M" in lines[3]
    effects = recipes.recipe_effects(ROWS)
    assert effects[0] == ("attn-only-2l: its window starts 3.0x later on natural code (3.00M against 1.00M tokens); "
                          "repeat top-1 0.34 against 0.10 on natural code (higher with the repeated windows).")
    assert effects[1].startswith("attn-only-1l: a window on the repeat recipe: no, on natural code: no;")
    assert "(higher with the repeated windows)" in effects[2] and "on natural code: no" in effects[2]


# ------------------------------------------------------------------ the claims checked on both recipes

import math  # noqa: E402

from induction_heads.book.argument1 import PhaseChangeReadings  # noqa: E402
from induction_heads.measure.phase import PhaseWindow  # noqa: E402

NAN = float("nan")


def _reading(window: float | None, prefix: float, icl: float = -0.7, share: float = 0.8) -> PhaseChangeReadings:
    w = PhaseWindow(window, 2 * window, 1.5 * window) if window else None
    return PhaseChangeReadings(w, icl, share if w else NAN, prefix, share if w else NAN, None, prefix)


# Natural code: mlp-2l-natural forms a head without a window (Argument 1 holds on the repeat
# recipe only), the natural knockout's ICL is far from the natural one-layer model's (the referee's
# ICL statement holds on the repeat recipe only), smeared-2l-natural is not trained yet.
CHECK_ROWS = {
    **ROWS,
    "attn-only-2l-k-knockout": _row(2, None, 0.05, 0.0, (0.0, 0.0), icl_score_final=-0.12),
    "attn-only-2l-k-knockout-natural": _row(2, None, 0.03, 0.0, (0.0, 0.0), icl_score_final=-0.40,
                                            icl_score_final_ci=[-0.5, -0.3]),
    "attn-only-1l": _row(1, None, 0.03, 0.0, (0.0, 0.0), icl_score_final=-0.10),
    "attn-only-1l-natural": _row(1, None, 0.03, 0.0, (0.0, 0.0), icl_score_final=-0.10),
}
READINGS = {
    "attn-only-1l": _reading(None, 0.03), "attn-only-1l-natural": _reading(None, 0.04),
    "attn-only-2l": _reading(1e6, 0.8), "attn-only-2l-natural": _reading(3e6, 0.7, share=0.9),
    "mlp-2l": _reading(2e6, 0.8), "mlp-2l-natural": _reading(None, 0.45),
    "smeared-2l": _reading(5e5, 0.85),
    "attn-only-2l-k-knockout": _reading(None, 0.05, icl=-0.12), "attn-only-2l-k-knockout-natural": _reading(None, 0.03, icl=-0.4),
}


def _checks(**kw):
    return {(c.model, c.key): c for c in recipes.recipe_checks(CHECK_ROWS, READINGS, **kw)}


def test_natural_name_puts_the_recipe_before_the_seed():
    assert recipes.natural_name("attn-only-2l") == "attn-only-2l-natural"
    assert recipes.natural_name("attn-only-2l-k-knockout-seed1") == "attn-only-2l-k-knockout-natural-seed1"


def test_recipe_checks_know_where_each_statement_holds():
    c = _checks()
    holds = {k: v.holds_on for k, v in c.items()}
    assert holds == {
        **{("attn-only-2l", k): "both recipes" for k in ("window", "icl-in-window", "head", "head-in-window", "ablation")},
        ("mlp-2l", "window"): "the repeat recipe only", ("mlp-2l", "icl-in-window"): "the repeat recipe only",
        ("mlp-2l", "head"): "both recipes", ("mlp-2l", "head-in-window"): "the repeat recipe only",
        **{("smeared-2l", k): "not trained yet" for k in ("window", "icl-in-window", "head", "head-in-window",
                                                            "smeared-earlier")},
        ("attn-only-1l", "one-layer"): "both recipes",
        ("attn-only-2l-k-knockout", "knockout-head"): "both recipes",
        ("attn-only-2l-k-knockout", "knockout-window"): "both recipes",
        ("attn-only-2l-k-knockout", "knockout-icl"): "the repeat recipe only",
    }
    ko = c[("attn-only-2l-k-knockout", "knockout-icl")]
    assert ko.natural.run == "attn-only-2l-k-knockout-natural" and ko.natural.ok is False
    assert ko.natural.numbers == {"final_icl": -0.40, "one_layer_final_icl": -0.10, "gap": ko.natural.numbers["gap"]}
    assert math.isclose(ko.natural.numbers["gap"], 0.30)
    assert ko.natural.shown == "-0.40 [-0.50, -0.30] against attn-only-1l-natural's -0.10 [-0.80, -0.60] (0.30 nats apart)"
    assert c[("attn-only-2l", "ablation")].natural.shown == "0.93 [0.80, 1.10]"  # the deciding (mean) share
    lead = c[("smeared-2l", "smeared-earlier")]
    assert lead.repeat.ok is True and lead.repeat.shown == "starts 0.50M against 1.00M (2.0x earlier)"
    assert lead.natural.ok is None and lead.natural.missing == ("smeared-2l-natural",)
    assert lead.natural.shown == "not trained yet (smeared-2l-natural)"


def test_a_recorded_deviation_is_marked_on_its_natural_side_only():
    c = _checks(deviations=frozenset({("mlp-2l-natural", "window")}))
    assert c[("mlp-2l", "window")].natural.deviation and not c[("mlp-2l", "window")].repeat.deviation
    assert not c[("mlp-2l", "head")].natural.deviation
    assert "(recorded deviation)" in repr(recipes.check_table([c[("mlp-2l", "window")]]))


def test_check_table_and_verdicts_say_which_recipe_and_by_how_much():
    groups = recipes.checks_by_statement(recipes.recipe_checks(CHECK_ROWS, READINGS))
    window = groups["has a phase-change window"]
    lines = repr(recipes.check_table(window)).splitlines()
    assert lines[3].split() == ["mlp-2l", "yes:", "2.00M-4.00M", "no:", "no", "window", "the", "repeat", "recipe", "only"]
    verdicts = {v.paper: v for v in recipes.recipe_verdicts(recipes.recipe_checks(CHECK_ROWS, READINGS))}
    v = verdicts["Argument 1: has a phase-change window"]
    assert v.ours == "repeat recipe 3/3; natural code 1/2" and v.verdict == "partly"
    assert v.why == ("holds on the repeat recipe only for mlp-2l (2.00M-4.00M on the repeat recipe against no window on "
                     "natural code); not trained yet: smeared-2l-natural")
    assert verdicts["Argument 3: ablating its induction heads together (mean ablation) removes at least 70% of its ICL"].verdict == "reproduced"
    lead = verdicts["Argument 2: smeared-2l's window starts earlier than attn-only-2l's"]
    assert (lead.ours, lead.verdict) == ("repeat recipe 1/1; natural code 0/0", "not decided")
    assert {v.verdict for v in recipes.recipe_verdicts(recipes.recipe_checks(CHECK_ROWS, READINGS), asserted=False)} == {"not judged at this size"}


def test_recipe_verdict_is_computed_text():
    text = recipes.recipe_verdict(recipes.recipe_checks(CHECK_ROWS, READINGS), CHECK_ROWS)
    assert text[0].startswith("What the repeated windows do not change: 5 of the 10 statements hold on both recipes")
    assert "no induction head and no phase change in a one-layer model (attn-only-1l)" in text[0]
    assert text[1].startswith("Holds on one recipe only: has a phase-change window: holds on the repeat recipe only for "
                              "mlp-2l (2.00M-4.00M on the repeat recipe against no window on natural code)")
    assert "nats of the one-layer model's of its family: holds on the repeat recipe only for attn-only-2l-k-knockout" in text[1]
    assert text[2].startswith("Not checked yet, waiting for smeared-2l-natural: has a phase-change window (smeared-2l);")
    assert text[3] == "What the repeated windows change:"
    assert text[4] == ("The phase change's timing: the window starts later on natural code in 1 of the 1 models with a "
                       "window on both recipes (attn-only-2l 3.0x; natural-code start over repeat-recipe start).")
    assert text[5] == "mlp-2l has a window on the repeat recipe only."
    assert text[6].startswith("Top-1 on the repeats of random tokens (copies 2-4), repeat recipe against natural code: "
                              "attn-only-2l 0.34 against 0.10, mlp-2l 0.15 against 0.05; higher with the repeated windows, "
                              "the 95% intervals apart, in 2 of 2 models.")
    assert text[-1] == ("A loss bump (the paper sees one in every model with two or more layers): on the repeat recipe in "
                        "2 of 2 (attn-only-2l, mlp-2l), on natural code in 1 of 2 (attn-only-2l-natural).")


def test_without_natural_runs_every_statement_waits():
    repeat_only = {n: r for n, r in CHECK_ROWS.items() if "natural" not in n}
    checks = recipes.recipe_checks(repeat_only, READINGS)
    assert checks and {c.holds_on for c in checks} == {"not trained yet"}
    assert all(c.repeat.ok is not None for c in checks)
    assert {v.verdict for v in recipes.recipe_verdicts(checks)} == {"not decided"}
    text = recipes.recipe_verdict(checks, repeat_only)
    assert all(t.startswith("Not checked yet, waiting for ") for t in text)
    assert recipes.recipe_changes(repeat_only) == []
