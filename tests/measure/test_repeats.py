"""Known-answer tests of the repeat test (repeats.py): the hand-built induction circuit completes
repeats almost perfectly; an untrained model stays at chance; the scored positions are the right
ones."""

import math

import pytest
import torch
from induction_heads.measure.handbuilt import V, handbuilt_bridge

from induction_heads.engine.config import model_config
from induction_heads.engine.model import InductionLM
from induction_heads.measure.repeats import copy_positions, passage_twice, repeat_scores, repeat_test, repeated_sequences

torch.set_num_threads(1)


def test_repeated_sequences_shape_and_copies():
    toks = repeated_sequences(torch.arange(1, V), n_sequences=5, length=25, repeats=4, seed=1)
    assert toks.shape == (5, 101) and (toks[:, 0] == 0).all()
    body = toks[:, 1:].view(5, 4, 25)
    assert (body == body[:, :1]).all()
    assert all(len(set(row.tolist())) == 25 for row in body[:, 0])  # distinct within a copy
    with pytest.raises(ValueError, match="exceeds the pool"):
        repeated_sequences(torch.arange(1, 10), length=30)


def test_passage_twice():
    ev = torch.arange(3 * 128).view(3, 128)
    p = passage_twice(ev, n_passages=2, length=63)
    assert p.shape == (2, 127) and torch.equal(p[:, 1:64], ev[:2, :63]) and torch.equal(p[:, 64:], ev[:2, :63])
    with pytest.raises(ValueError, match="fewer or shorter"):
        passage_twice(ev, n_passages=4)


def test_copy_positions_leave_out_each_copys_first_token():
    idx = copy_positions(length=3, copies=2)
    # tokens: BOS a b c a b c; out[:, i] predicts token i + 1; scored targets 2, 3 and 5, 6
    assert idx.tolist() == [[1, 2], [4, 5]]


def test_scores_known_answers():
    toks = torch.tensor([[0, 5, 6, 7, 5, 6, 7]])
    perfect = torch.full((1, 7, 10), -1e4)
    perfect[0, torch.arange(6), toks[0, 1:]] = 1e4  # certain and right everywhere
    s = repeat_scores(perfect, toks, length=3)
    assert s["top1"].tolist() == [1.0, 1.0] and s["loss"].abs().max() < 1e-6
    s = repeat_scores(torch.zeros(1, 7, 10), toks, length=3)
    assert torch.allclose(s["loss"], torch.full((2,), math.log(10)))
    with pytest.raises(ValueError, match="whole copies"):
        repeat_scores(torch.zeros(1, 7, 10), toks, length=4)


def test_handbuilt_circuit_completes_repeats():
    toks = repeated_sequences(torch.arange(1, V), n_sequences=8, length=25, repeats=4)
    s = repeat_test(handbuilt_bridge(), toks, length=25)
    assert s["top1"][1:].min() > 0.99 and s["loss"][1:].max() < 0.05
    assert s["top1"][0] < 0.2  # nothing to copy in the first showing


def test_untrained_model_is_at_chance():
    cfg = model_config("tiny", "attn-only-2l")
    toks = repeated_sequences(torch.arange(1, cfg.d_vocab), n_sequences=8, length=30, repeats=4)
    s = repeat_test(InductionLM(cfg).eval(), toks, length=30)
    assert s["top1"].max() < 0.05
    assert (s["loss"] - math.log(cfg.d_vocab)).abs().max() < 0.1
