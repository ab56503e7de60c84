"""The natural-code comparison (book/recipes.py) on summary rows whose answers are known."""

from __future__ import annotations

from induction_heads.book import recipes


SEQS = [-0.9, -0.5, -0.7, -0.3] * 8  # per-sequence final ICL of a run (32 evaluation sequences)


def _row(layers: int, window: float | None, prefix: float, repeat: float, ci: tuple[float, float], **over) -> dict:
    icl = over.get("icl_score_final", -0.7)
    return {"layers": layers, "attn_only": True, "smeared_key": False, "tokens_trained": 24_576_000,
            "peak_icl_rate": 0.5 if window else 0.1, "max_prefix_matching_over_training": prefix,
            "head_share_in_window": 0.8 if window else None,
            "icl_score_final_by_sequence": [v - (-0.6) + icl for v in SEQS],
            "icl_score_final": -0.7, "icl_score_final_ci": [-0.8, -0.6],
            "icl_share_in_window": 0.8 if window else None,
            "phase_change_window": {"start": window, "end": 2 * window} if window else None,
            "max_prefix_matching_score": prefix, "max_prefix_matching_score_ci": [prefix - 0.01, prefix + 0.01],
            "induction_heads": ["1.0"] if window else [], "loss_bump": bool(window),
            "repeat_top1": repeat, "repeat_top1_ci": list(ci), "passage_top1_second_copy": 0.8,
            "ablation_icl_fraction_removed": 0.95 if window else None,
            "ablation_icl_fraction_removed_ci": [0.8, 1.1] if window else None,
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


def test_recipe_table_counts_each_claim_on_each_recipe():
    text = repr(recipes.recipe_table(recipes.recipe_checks(ROWS)))
    assert "has a phase-change window" in text and "2/2 (reproduced)" in text and "1/2 (partly)" in text


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

# Natural code: mlp-2l-natural forms a head without a window (Argument 1 holds on the repeat recipe
# only), the natural knockout's ICL is far from the natural one-layer model's (the referee's ICL
# claim holds on the repeat recipe only), smeared-2l-natural is not trained yet.
CHECK_ROWS = {
    **ROWS,
    "attn-only-2l-k-knockout": _row(2, None, 0.05, 0.0, (0.0, 0.0), icl_score_final=-0.12),
    "attn-only-2l-k-knockout-natural": _row(2, None, 0.03, 0.0, (0.0, 0.0), icl_score_final=-0.40,
                                            icl_score_final_ci=[-0.5, -0.3]),
    "attn-only-1l": _row(1, None, 0.03, 0.0, (0.0, 0.0), icl_score_final=-0.10),
    "attn-only-1l-natural": _row(1, None, 0.04, 0.0, (0.0, 0.0), icl_score_final=-0.10),
}
CHECK_ROWS["attn-only-2l-natural"]["head_share_in_window"] = 0.9


def _checks(**kw):
    return {(c.model, c.key): c for c in recipes.recipe_checks(CHECK_ROWS, **kw)}


def test_natural_name_puts_the_recipe_before_the_seed():
    assert recipes.natural_name("attn-only-2l") == "attn-only-2l-natural"
    assert recipes.natural_name("attn-only-2l-k-knockout-seed1") == "attn-only-2l-k-knockout-natural-seed1"


def test_recipe_checks_read_the_registered_claims_on_both_recipes():
    c = _checks()
    holds = {k: v.holds_on for k, v in c.items()}
    multi = ("arg1.window", "arg1.share-in-window", "arg1.head", "arg1.head-in-window")
    assert holds == {
        **{("attn-only-2l", k): "both recipes" for k in (*multi, "arg3.removes-most")},
        ("mlp-2l", "arg1.window"): "the repeat recipe only", ("mlp-2l", "arg1.share-in-window"): "the repeat recipe only",
        ("mlp-2l", "arg1.head"): "both recipes", ("mlp-2l", "arg1.head-in-window"): "the repeat recipe only",
        **{("smeared-2l", k): "not trained yet" for k in multi},
        ("smeared-2l against attn-only-2l", "arg2.smeared-earlier"): "not trained yet",
        ("attn-only-1l", "arg1.one-layer-no-window"): "both recipes", ("attn-only-1l", "arg1.one-layer-no-head"): "both recipes",
        ("attn-only-2l-k-knockout", "arg2.knockout-no-head"): "both recipes",
        ("attn-only-2l-k-knockout", "arg2.knockout-no-window"): "both recipes",
        ("attn-only-2l-k-knockout", "arg2.knockout-icl"): "the repeat recipe only",
    }
    ko = c[("attn-only-2l-k-knockout", "arg2.knockout-icl")]
    assert ko.natural.run == "attn-only-2l-k-knockout-natural" and ko.natural.ok is False
    # a constant per-sequence gap of -0.30 (the paired difference's interval is that point): 0.30 against the 0.15 margin
    assert math.isclose(ko.natural.numbers["farther_end"], 0.30, abs_tol=1e-9) and ko.natural.numbers["one_layer"] == "attn-only-1l"
    assert math.isclose(ko.repeat.numbers["farther_end"], 0.02, abs_tol=1e-9)
    lead = c[("smeared-2l against attn-only-2l", "arg2.smeared-earlier")]
    assert lead.repeat.ok is True and lead.repeat.numbers["ratio"] == 2.0
    assert lead.natural.ok is None
    assert lead.natural.shown == "not trained yet (smeared-2l-natural against attn-only-2l-natural)"


def test_a_recorded_deviation_is_marked_on_its_natural_side_only():
    c = _checks(deviations=frozenset({("mlp-2l-natural", "arg1.window")}))
    assert c[("mlp-2l", "arg1.window")].natural.deviation and not c[("mlp-2l", "arg1.window")].repeat.deviation
    assert not c[("mlp-2l", "arg1.head")].natural.deviation
    assert "(recorded deviation)" in repr(recipes.check_table([c[("mlp-2l", "arg1.window")]]))


def test_recipe_verdicts_come_from_registered_claims():
    checks = recipes.recipe_checks(CHECK_ROWS)
    verdicts = {v.key: v for v in recipes.recipe_verdicts(checks)}
    v = verdicts["arg1.window"]
    assert v.ours == "repeat recipe 3/3; natural code 1/2" and v.verdict == "partly"  # smeared-2l-natural not trained
    assert v.paper.startswith("Argument 1: has a phase-change window")
    assert "holds on the repeat recipe only for mlp-2l" in v.why and v.why.endswith("not trained yet: smeared-2l-natural")
    assert verdicts["arg3.removes-most"].verdict == "reproduced"
    assert (verdicts["arg2.smeared-earlier"].ours, verdicts["arg2.smeared-earlier"].verdict) == (
        "repeat recipe 1/1; natural code 0/0", "not decided")
    assert {v.verdict for v in recipes.recipe_verdicts(checks, asserted=False)} == {"not judged at this size"}
    natural = {c.claim: c for c in recipes.natural_claims("small", checks)}
    window = natural["has a phase-change window (the smoothed ICL score falls at least 0.15 nats per e-fold) (natural code)"]
    assert [(i.name, i.ok) for i in window.items] == [("attn-only-2l-natural", True), ("mlp-2l-natural", False)]


def test_recipe_verdict_is_computed_text():
    text = recipes.recipe_verdict(recipes.recipe_checks(CHECK_ROWS), CHECK_ROWS)
    assert text[0].startswith("What the repeated windows do not change: 6 of the 11 statements hold on both recipes for every model checked")
    assert text[1].startswith("Holds on one recipe only: has a phase-change window")
    assert text[2].startswith("Not checked yet, waiting for smeared-2l-natural: has a phase-change window")
    assert text[3].startswith("Not checked yet, waiting for smeared-2l-natural against attn-only-2l-natural: smeared-2l's")
    assert text[4] == "What the repeated windows change:"
    assert text[5] == ("The phase change's timing: the window starts later on natural code in 1 of the 1 models with a "
                       "window on both recipes (attn-only-2l 3.0x; natural-code start over repeat-recipe start).")
    assert text[-1] == ("A loss bump (the paper sees one in every model with two or more layers): on the repeat recipe in "
                        "2 of 2 (attn-only-2l, mlp-2l), on natural code in 1 of 2 (attn-only-2l-natural).")


def test_without_natural_runs_every_statement_waits():
    repeat_only = {n: r for n, r in CHECK_ROWS.items() if "natural" not in n}
    checks = recipes.recipe_checks(repeat_only)
    assert checks and {c.holds_on for c in checks} == {"not trained yet"}
    assert all(c.repeat.ok is not None for c in checks)
    assert {v.verdict for v in recipes.recipe_verdicts(checks)} == {"not decided"}
    text = recipes.recipe_verdict(checks, repeat_only)
    assert all(t.startswith("Not checked yet, waiting for ") for t in text)
    assert recipes.recipe_changes(repeat_only) == []
