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
    assert effects[0] == ("attn-only-2l: its window starts 3.0x later on natural code (3.0M against 1.0M tokens); "
                          "repeat top-1 0.34 against 0.10 on natural code (higher with the repeated windows).")
    assert effects[1].startswith("attn-only-1l: a window on the repeat recipe: no, on natural code: no;")
    assert "(higher with the repeated windows)" in effects[2] and "on natural code: no" in effects[2]
