"""The referee's second round (book/referee.py): the checkpoint labels, the paired difference and
the pre-registered outcomes of the run with induction attention forbidden."""

import pytest
import torch

from induction_heads.book.referee import (EQUIVALENCE_MARGIN, OUTCOMES, class_terms_over_training,
                                          no_induction_outcome, paired_icl_difference, window_label)
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
    from induction_heads.book.argument2 import ONE_LAYER_ICL_TOLERANCE

    assert EQUIVALENCE_MARGIN is ONE_LAYER_ICL_TOLERANCE == 0.15  # one margin, defined once


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
