"""Argument 3's registered claims (book/argument3.py CLAIMS) on constructed summary rows with
known answers: which models they cover, what each reads, the verdict at the book's threshold, the
sentence on shares above 1, and the reported MLP row that is never judged."""

import math

import pytest

from induction_heads.book import argument3
from induction_heads.book.claims import AFTER, registered
from induction_heads.measure.intervals import Interval


def row(mean=None, zero=None, icl=-0.8, removed=None, heads=("1.1",)):
    """A summary row with the fields Argument 3's claims read (shares with their intervals)."""
    r = {"icl_score_final": icl, "induction_heads": list(heads) if mean is not None else [],
         "ablation_icl_fraction_removed_mean": None, "ablation_icl_fraction_removed": None}
    for key, v in (("ablation_icl_fraction_removed_mean", mean), ("ablation_icl_fraction_removed", zero)):
        if v is not None:
            r[key], r[key + "_ci"] = v[0], [v[1], v[2]]
    if removed is not None:
        r["icl_by_class"] = {"removed": removed}
    return r


ROWS = {
    "attn-only-1l": row(),
    "attn-only-2l": row((1.115, 0.942, 1.352), (1.118, 0.944, 1.358), icl=-0.817, removed=[0.912, -0.0012, 0.0]),
    "attn-only-2l-seed1": row((0.90, 0.80, 1.00), (0.91, 0.80, 1.01)),
    "attn-only-3l": row((0.65, 0.50, 0.80), (0.70, 0.55, 0.85)),
    "attn-only-6l": row((1.20, 1.05, 1.40), (1.21, 1.06, 1.41), icl=-0.5),
    "attn-only-2l-k-knockout": row(),          # a variant: not covered
    "attn-only-2l-natural": row((0.2, 0.1, 0.3)),  # a recipe change: not covered
    "smeared-2l": row((0.1, 0.0, 0.2)),       # smeared keys: Argument 2's
    "mlp-2l": row((0.96, 0.80, 1.18), (0.95, 0.80, 1.17)),
    "mlp-3l-seed1": row(),                    # an MLP model without induction heads
}


def test_the_claims_cover_the_plain_attention_only_models_and_report_the_mlp_ones():
    assert argument3.ablation_models(ROWS) == ["attn-only-2l", "attn-only-2l-seed1", "attn-only-3l", "attn-only-6l"]
    assert argument3.mlp_models(ROWS) == ["mlp-2l", "mlp-3l-seed1"]


def test_the_share_removed_is_read_under_the_deciding_method_with_zero_beside_it():
    assert argument3.DECIDING_METHOD == "mean"
    r = argument3.CLAIMS["removes-most"].read(ROWS, "attn-only-2l")
    assert r.value == Interval(1.115, 0.942, 1.352)
    assert r.numbers["zero_ablation"] == Interval(1.118, 0.944, 1.358) and r.numbers["icl_clean"] == -0.817


def test_the_removal_verdict_at_the_books_threshold_names_the_failure_and_its_margin():
    d = argument3.CLAIMS["removes-most"]
    assert d.threshold.value == 0.7 and d.threshold.chosen_by == "book" and d.threshold.when == AFTER
    assert d.paper_threshold is None  # the paper says "almost all", no number
    c = d.evaluate("small", ROWS)
    assert [(i.name, i.ok) for i in c.items] == [("attn-only-2l", True), ("attn-only-2l-seed1", True),
                                                 ("attn-only-3l", False), ("attn-only-6l", True)]
    v = d.verdict(c)
    assert v.key == "arg3.removes-most" and v.verdict == "partly" and v.ours.startswith("3/4 models")
    assert "fails for 1: attn-only-3l (0.65, 0.05 short)" in v.why
    values = [i.numbers["fraction_removed"] for i in c.items]
    assert d.threshold.stable_range(values) == (0.65, 0.90) and "0.65 and 0.90" in v.why
    assert v.near_flip  # 0.65 lies within 10% of 0.7
    assert d.margins(c)[2:5] == ["attn-only-3l", "0.65", "-0.05"]


def test_a_model_without_induction_heads_fails_the_removal_claim_it_is_not_dropped():
    rows = {"attn-only-2l": row((0.9, 0.8, 1.0)), "attn-only-3l": row()}
    c = argument3.CLAIMS["removes-most"].evaluate("small", rows)
    assert [i.name for i in c.items] == ["attn-only-2l", "attn-only-3l"] and c.failures == ["attn-only-3l"]
    assert math.isnan(c.items[1].numbers["fraction_removed"])


def test_shares_above_one_are_explained_with_the_numbers():
    c = argument3.CLAIMS["removes-most"].evaluate("small", ROWS)
    assert argument3.above_one(c) == (["attn-only-2l", "attn-only-6l"], ["attn-only-6l"])
    why = argument3.above_one_why(c)
    # ablated ICL score: -0.817 * (1 - 1.115) = +0.094, -0.5 * (1 - 1.2) = +0.100
    assert why.startswith("above 1 in 2 of 4: with the heads ablated the ICL score turns positive (up to +0.100 nats")
    assert why.endswith("wholly above 1 by its interval in attn-only-6l")
    lines = argument3.above_one_lines(c, ROWS)
    assert len(lines) == 2 and lines[0].startswith(
        "attn-only-2l: mean ablation removes 1.115 [0.942, 1.352] of an ICL score of -0.817, leaving +0.094")
    assert "by class it removes induction-predictable +0.912; repeated-other -0.001; novel +0.000" in lines[0]
    assert argument3.interval_line(c) == ("the 95% interval of the share removed (mean ablation) clears 70% in 3 of 4 "
                                          "models and lies wholly above 1 in 1")
    none = argument3.CLAIMS["removes-most"].evaluate("small", {"attn-only-2l": row((0.9, 0.8, 1.0))})
    assert argument3.above_one_why(none) == "" and argument3.above_one_lines(none, {}) == []


def test_the_mlp_row_is_reported_not_judged():
    d = argument3.CLAIMS["mlp"]
    c = d.evaluate("small", ROWS)
    assert c.failures == [] and [i.name for i in c.items] == ["mlp-2l", "mlp-3l-seed1"]
    v = d.verdict(c)
    assert v.verdict == "not decided" and v.why.startswith("reported, not asserted")
    assert v.ours == "2 models; fraction_removed 0.96"
    assert d.margins(c) == []  # no threshold: no margin


def test_boolean_claims_are_judged_by_their_checks():
    d = argument3.CLAIMS["top-head"]
    c = d.open("small")
    c.check("attn-only-2l", True, head="1.1", delta_icl=0.3)
    c.check("attn-only-3l", True, head="2.3", delta_icl=0.2)
    v = d.verdict(c)
    assert (v.verdict, v.ours) == ("reproduced", "2/2 models; delta_icl 0.20 to 0.30")


def test_every_claim_of_chapter_04_is_registered_once():
    keys = {d.key for d in argument3.CLAIMS.values()}
    assert keys == {"arg3.top-head", "arg3.removes-most", "arg3.control", "arg3.mlp"}
    assert all(registered()[k] is d for k, d in ((d.key, d) for d in argument3.CLAIMS.values()))


@pytest.mark.parametrize("specific, controls", [(True, [0.1, 0.2]), (False, [0.1, 0.95])])
def test_control_numbers(specific, controls):
    iv = Interval(1.0, 0.9, 1.1)
    c = argument3.AblationControls((), {"zero": iv, "mean": iv, "resample": iv}, {},
                                   [(("1.0",), Interval(v, v - 0.05, v + 0.05)) for v in controls], {})
    assert c.specific is specific
    n = argument3.control_numbers(c)
    assert n == {"induction_heads": iv, "largest_control": max(controls), "control_sets": 2}
    rows = argument3.control_rows({"m": c})
    assert rows[0] == ["m", "together: ", *["1.000 [0.900, 1.100]"] * 3]
    assert [r[:2] for r in rows[1:]] == [["m", "control: 1.0"]] * 2 and rows[1][2] == "-" and rows[1][4] == "-"


def test_head_class_rows():
    import torch

    traj = {"m": {"prefix_matching": torch.zeros(3, 2, 2)}}
    rows = argument3.head_class_rows(traj, {"m": ["other", "previous-token", "induction", "induction"]})
    assert rows == [["m", "1.0, 1.1", "0.1"]]
    assert argument3.head_class_rows(traj, {"m": ["other"] * 4}) == [["m", "none", "none"]]
