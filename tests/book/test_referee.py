"""The referee's second round (book/referee.py): the checkpoint labels, the paired difference and
the pre-registered outcomes of the run with induction attention forbidden."""

import pytest
import torch

from induction_heads.book.referee import (EQUIVALENCE_MARGIN, OUTCOMES, class_terms_over_training,
                                          no_induction_outcome, window_label)
from induction_heads.measure.intervals import paired_difference as paired_icl_difference
from induction_heads.engine.zoo import Run
from induction_heads.measure.intervals import Interval
from induction_heads.measure.phase import PhaseWindow


def test_window_label():
    w = PhaseWindow(1e6, 4e6, 2e6)
    assert [window_label(t, w) for t in (5e5, 1e6, 3e6, 4e6, 5e6)] == ["before", "in", "in", "in", "after"]
    assert window_label(3e6, None) == "no window"


def test_paired_difference_is_exact_for_a_constant_shift():
    b = torch.linspace(-1, 0, 50)
    iv = paired_icl_difference(b + 0.1, b)
    assert (iv.value, iv.lo, iv.hi) == pytest.approx((0.1, 0.1, 0.1))
    with pytest.raises(ValueError, match="differ in shape"):
        paired_icl_difference(b, b[:10])


@pytest.mark.parametrize("window, control, iv, outcome", [
    (False, True, Interval(0.02, -0.10, 0.14), OUTCOMES[0]),   # no window, inside +/-0.15
    (False, True, Interval(-0.30, -0.40, -0.20), OUTCOMES[1]),  # better than one layer beyond the margin
    (True, True, Interval(0.0, -0.05, 0.05), OUTCOMES[1]),      # a window all the same
    (False, True, Interval(-0.10, -0.20, 0.00), OUTCOMES[2]),   # straddles -0.15: neither
    (False, False, Interval(0.0, -0.05, 0.05), OUTCOMES[2]),    # the control has no window either
])
def test_no_induction_outcomes(window, control, iv, outcome):
    assert no_induction_outcome(window, control, iv).outcome == outcome
    from induction_heads.book.argument2 import EQUIVALENCE
    from induction_heads.book.referee import NO_INDUCTION

    # one margin, written once: the knockout's; the second run reads it, with its own provenance (pre-registered)
    assert EQUIVALENCE_MARGIN == NO_INDUCTION.value == EQUIVALENCE.value == 0.15 and NO_INDUCTION.when == "before the data"


def test_no_induction_triples():
    from induction_heads.book.referee import no_induction_triples

    assert no_induction_triples() == [
        ("attn-only-2l-no-induction-target", "attn-only-2l", "attn-only-1l"),
        ("attn-only-2l-no-induction-target-seed1", "attn-only-2l-seed1", "attn-only-1l"),
        ("attn-only-2l-no-induction-target-natural", "attn-only-2l-natural", "attn-only-1l-natural"),
    ]


def test_class_terms_over_training_on_the_tiny_zoo(tiny_zoo):
    from induction_heads.engine.runs import load_eval_set
    from induction_heads.measure.icl_classes import icl_by_class, token_classes
    from induction_heads.measure.metrics import per_token_losses

    run = Run("tiny", "attn-only-2l")
    tokens = load_eval_set("tiny")[0][:16]
    terms = class_terms_over_training(run, PhaseWindow(1.0, 2.0, 1.5), tokens)
    assert len(terms) == len(run.checkpoints) and all(k.startswith("after (") for k in terms)
    with torch.no_grad():
        losses = per_token_losses(run.model()(tokens), tokens)
    final = list(terms.values())[-1]
    assert final == pytest.approx(icl_by_class(losses, token_classes(tokens)).contribution.tolist())


def test_the_no_induction_claim_reads_its_outcome_from_rows():
    """The registered claim on constructed summary rows: a run with no window whose per-sequence ICL
    equals the one-layer model's (+0.01 on every sequence) while its control has a window holds; the
    farther end of the paired difference is 0.01 exactly (a constant difference has a point interval)."""
    from induction_heads.book.referee import CLAIMS

    seqs = [-0.5, -0.2, 0.1, -0.3] * 8
    row = lambda w, shift: {"phase_change_window": w, "peak_icl_rate": 0.1,  # noqa: E731
                            "icl_score_final_by_sequence": [v + shift for v in seqs]}
    rows = {"attn-only-2l-no-induction-target": row(None, 0.01), "attn-only-2l": row({"start": 1, "end": 2}, -0.8),
            "attn-only-1l": row(None, 0.0)}
    c = CLAIMS["no-induction"].evaluate("small", rows)
    assert [(i.name, i.ok) for i in c.items] == [("attn-only-2l-no-induction-target", True)]
    assert c.items[0].numbers["farther_end"] == pytest.approx(0.01)
    rows["attn-only-2l-no-induction-target"] = row(None, -0.3)  # better than one layer by more than the margin
    assert not CLAIMS["no-induction"].evaluate("small", rows).items[0].ok
