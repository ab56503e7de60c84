"""Argument 5's registered claims (book/argument5.py, CLAIMS) on constructed summary rows and
readings whose answers are known: the head claim, the copying score at the paper's threshold, the
OV claim, the sanity check apart, and the copying experiments read by their pre-registered rule."""

from __future__ import annotations

import pytest
import torch

from induction_heads.book import argument5, copying
from induction_heads.book.claims import AFTER

C = argument5.CLAIMS


def _row(top1, lo, hi, heads=("1.1",), prefix=0.8, window=(1e6, 2e6)):
    return {"repeat_top1": top1, "repeat_top1_ci": [lo, hi], "induction_heads": list(heads),
            "max_prefix_matching_score": prefix,
            "phase_change_window": None if window is None else {"start": window[0], "end": window[1]}}


def _rows():
    return {"attn-only-2l": _row(0.34, 0.31, 0.38), "attn-only-2l-h2": _row(0.45, 0.40, 0.50),
            "attn-only-2l-h1": _row(0.92, 0.90, 0.94), "attn-only-2l-cooldown": _row(0.35, 0.31, 0.39),
            "attn-only-2l-b16": _row(0.23, 0.20, 0.27), "attn-only-2l-long-cooldown": _row(0.5, 0.4, 0.6)}


def test_head_claim_reads_the_core_models_induction_heads():
    d = C["head"]
    c = d.evaluate("small", _rows())
    assert [(i.name, i.ok, i.numbers["induction_heads"]) for i in c.items] == [("attn-only-2l", True, "1.1")]
    none = d.evaluate("small", {"attn-only-2l": _row(0.1, 0.0, 0.2, heads=(), prefix=0.25)})
    assert d.verdict(none).verdict == "differs"
    assert d.evaluate("small", {"mlp-2l": _row(0.1, 0, 0.2)}).items == []  # only attn-only-2l is its subject


def test_head_copies_is_judged_at_the_papers_positive_copying():
    d = C["head-copies"]
    assert d.threshold.text(".2f") == "above -0.67" and d.threshold.when == AFTER and d.paper_threshold.text() == "above 0"
    c = d.open("small")
    c.measure("1.1", -0.40)
    c.measure("1.3", -0.45)
    assert c.failures == []  # the book's cutoff holds
    v = d.verdict(c)
    assert v.verdict == "differs" and v.ours.startswith("0/2 heads") and "1.1 (-0.40, 0.40 short)" in v.why


def test_ov_claim_and_its_threshold_written_once():
    d = C["ov-copies"]
    assert d.threshold is argument5.OV_COPIES and argument5.OV_CORNER == argument5.OV_COPIES.value == 0.5
    c = d.open("small")
    c.measure("1.1", 0.98)
    c.measure("1.3", 0.5)  # "above": 0.5 itself fails
    assert c.failures == ["1.3"]
    assert d.verdict(c).verdict == "partly"


def test_later_copies_cheaper_is_a_sanity_check():
    d = C["later-copies-cheaper"]
    assert d.kind == "sanity"
    c = d.open("small")
    c.check("attn-only-2l", True, drop=5.1)
    assert c.verdict().startswith("SANITY CHECK, not evidence (PASS)")


def test_experiments_are_read_by_the_preregistered_rule_from_rows():
    out = argument5.experiment_outcomes(_rows())
    assert {n: o.outcome for n, o in out.items()} == {
        "attn-only-2l-h2": "improves", "attn-only-2l-h1": "reaches 0.9", "attn-only-2l-cooldown": "flat or worse",
        "attn-only-2l-b16": "flat or worse"}  # the long cool-down's reference (the long run) has no row
    d = C["experiments"]
    c = d.evaluate("small", _rows())
    assert [i.name for i in c.items] == list(out) and all(i.ok for i in c.items)
    v = d.verdict(c, why=copying.experiments_text(out.values()))
    assert v.verdict == "not decided" and "attn-only-2l-h1 (capacity): reaches 0.9" in v.why
    assert copying.experiment_question("attn-only-2l-b32") == "batch size"


def test_repeat_table_rows_end_with_the_hand_built_circuit():
    p = {"m": {"loss": torch.tensor([5.0, 1.0, 2.0, 3.0]), "top1": torch.tensor([0.0, 0.5, 0.5, 0.5])}}
    hand = {"loss": torch.tensor([4.0, 0.0, 0.0, 0.0]), "top1": torch.tensor([0.0, 1.0, 1.0, 1.0])}
    rows = argument5.repeat_table_rows(p, hand)
    assert rows == [["m", 5.0, 2.0, 0.0, 0.5], ["hand-built circuit", 4.0, 0.0, 0.0, 1.0]]


def test_the_copying_claim_reads_the_heads_scores_from_the_summary_rows():
    from induction_heads.book import argument5

    rows = {"attn-only-2l": {"induction_heads": ["1.1", "1.3"], "copying_score_induction_heads": [-0.4, 0.1]}}
    d = argument5.CLAIMS["head-copies"]
    c = d.evaluate("small", rows)
    assert [(i.name, i.numbers["copying"]) for i in c.items] == [("attn-only-2l 1.1", -0.4), ("attn-only-2l 1.3", 0.1)]
    v = d.verdict(c)
    assert (v.verdict, v.ours.split(";")[0]) == ("partly", "1/2 heads")  # only 1.3 is positive, the paper's rule
    assert d.subjects({}) == []
