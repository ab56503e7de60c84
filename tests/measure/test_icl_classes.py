"""Known-answer tests of the ICL score's split by class (icl_classes.py)."""

import pytest
import torch

from induction_heads.measure.handbuilt import handbuilt_bridge, repeated_tokens
from induction_heads.measure.icl_classes import (INDUCTION, NOVEL, REPEATED, icl_by_class, loss_by_position_by_class,
                                                 token_classes)
from induction_heads.measure.metrics import icl_score, per_token_losses

torch.set_num_threads(1)


def test_classes_of_a_constructed_sequence():
    """``5 7 5 7 5 9 5 8``: position i predicts token i + 1 from token i."""
    toks = torch.tensor([[5, 7, 5, 7, 5, 9, 5, 8]])
    # i=0 (5, new) N; i=1 (7, new) N; i=2 (5 seen, followed by 7; target 7) I; i=3 (7 seen, followed
    # by 5; target 5) I; i=4 (5, followed by 7 before; target 9) R; i=5 (9 new) N; i=6 (5 followed by
    # 7 and by 9 before; target 8) R
    assert token_classes(toks).tolist() == [[NOVEL, NOVEL, INDUCTION, INDUCTION, REPEATED, NOVEL, REPEATED]]
    # any earlier occurrence counts: 5 was followed by 7, then by 9; target 7 again
    assert token_classes(torch.tensor([[5, 7, 5, 9, 5, 7]]))[0, -1] == INDUCTION


def test_repeated_random_tokens_are_induction_predictable_after_the_first_copy():
    toks = repeated_tokens()  # BOS + 25 random tokens x 4
    classes = token_classes(toks)
    assert (classes[:, 26:] == INDUCTION).all()  # from the second copy's first token on
    assert (classes[:, 1:25] == NOVEL).float().mean() > 0.9  # the first copy: mostly new tokens


def _split(losses, classes):
    return icl_by_class(losses, classes)


def test_the_terms_sum_to_the_icl_score_and_shares_are_closed_form():
    g = torch.Generator().manual_seed(0)
    losses = torch.rand(6, 127, generator=g) * 5
    classes = torch.randint(0, 3, (6, 127), generator=g)
    split = _split(losses, classes)
    assert split.icl == pytest.approx(float(icl_score(losses.mean(0))), abs=1e-6)
    assert float(split.contribution.sum()) == pytest.approx(split.icl, abs=1e-12)
    # windows of 127 positions: 12 +/- 2 and 124 +/- 2 (icl_indices(128) = (12, 125), moved in by one)
    early = classes[:, 10:15]
    assert split.share_early.tolist() == pytest.approx([(early == c).float().mean().item() for c in range(3)])
    late = classes[:, 122:127]
    n_ind = (late == INDUCTION).sum()
    assert float(split.loss_late[INDUCTION]) == pytest.approx(float(losses[:, 122:127][late == INDUCTION].sum() / n_ind))


def test_a_class_absent_from_a_window_has_no_loss_and_no_term():
    losses = torch.ones(2, 127)
    classes = torch.full((2, 127), NOVEL)
    classes[:, 60:] = INDUCTION
    losses[:, 60:] = 0.25
    split = _split(losses, classes)
    assert torch.isnan(split.loss_early[INDUCTION]) and torch.isnan(split.loss_late[NOVEL])
    assert split.contribution.tolist() == pytest.approx([0.25, 0.0, -1.0])
    assert split.icl == pytest.approx(-0.75)
    assert split.share_all.tolist() == pytest.approx([67 / 127, 0.0, 60 / 127])


def test_loss_by_position_by_class():
    losses = torch.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])
    classes = torch.tensor([[NOVEL, INDUCTION, INDUCTION], [NOVEL, NOVEL, REPEATED]])
    curves = loss_by_position_by_class(losses, classes)
    assert curves[NOVEL].tolist() == [2.0, 4.0, pytest.approx(float("nan"), nan_ok=True)]
    assert curves[INDUCTION, 1:].tolist() == [2.0, 3.0] and torch.isnan(curves[INDUCTION, 0])
    assert curves[REPEATED, 2] == 5.0


def test_the_handbuilt_circuit_learns_in_context_only_on_induction_predictable_tokens():
    """The hand-built circuit copies perfectly: its loss falls only where an induction head can
    predict the next token."""
    bridge, toks = handbuilt_bridge(), repeated_tokens()
    with torch.no_grad():
        losses = per_token_losses(bridge(toks), toks)
    curves = loss_by_position_by_class(losses, token_classes(toks))
    assert float(curves[INDUCTION][26:].max()) < 0.5 * float(curves[NOVEL][1:25].nanmean())
