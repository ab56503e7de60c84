"""The long run's readings (book/argument5.py): the pre-registered copying outcome and the head's
readings, on trajectories whose answers are known."""

from __future__ import annotations

import math

import pytest
import torch

from induction_heads.book import argument5
from induction_heads.engine.zoo import Run, Trajectory

TOKENS = torch.tensor([1e6, 1e7, 2.46e7, 5e7, 1e8, 2.46e8])


def _trajectory(top1_by_snapshot: list[float], noise: float = 0.0) -> Trajectory:
    """20 random-token sequences x 4 copies; copy 1 is never predicted (top-1 0), copies 2-4 at
    the snapshot's value, +-noise alternating over sequences (their mean stays the value)."""
    rows = []
    for v in top1_by_snapshot:
        per_seq = torch.tensor([v + (noise if i % 2 else -noise) for i in range(20)])
        rows.append(torch.stack([torch.zeros(20), per_seq, per_seq, per_seq], dim=1))
    return Trajectory({"tokens": TOKENS, "repeat_top1_by_sequence": torch.stack(rows)})


def test_flat_copying_has_overlapping_intervals():
    o = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.3, 0.3, 0.3, 0.3]), 2.46e7)
    assert o.outcome == "flat" and o.mark_tokens == 2.46e7 and o.end_tokens == 2.46e8
    assert o.at_mark == pytest.approx((0.3, 0.3, 0.3)) and o.at_end == pytest.approx((0.3, 0.3, 0.3))  # zero width
    assert o.reached_tokens is None and o.gain_per_tenfold == pytest.approx(0.0)


def test_copying_that_improves_below_the_mark_of_completion():
    o = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.3, 0.4, 0.5, 0.6], noise=0.05), 2.46e7)
    assert o.outcome == "improves, below 0.9" and o.at_end.lo > o.at_mark.hi
    assert o.best == pytest.approx(0.6) and o.best_tokens == 2.46e8
    assert o.gain_per_tenfold == pytest.approx(0.3)  # 0.3 over exactly one tenfold


def test_copying_that_reaches_completion_names_the_first_snapshot_at_it():
    o = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.3, 0.6, 0.92, 0.95]), 2.46e7)
    assert o.outcome == "reaches 0.9" and o.reached_tokens == 1e8
    assert argument5.copying_outcome(_trajectory([0.95, 0.3, 0.3, 0.3, 0.3, 0.3]), 2.46e7).outcome == "flat"  # before the mark


def test_copying_that_declines_is_not_called_flat():
    o = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.5, 0.4, 0.3, 0.2], noise=0.05), 2.46e7)
    assert o.outcome == "declines" and o.at_end.hi < o.at_mark.lo


def test_head_readings_read_the_nearest_snapshot(tiny_zoo):
    run = Run("tiny", "attn-only-2l-long")
    t = run.trajectory.recorded()
    mark = run.tokens_at(run.train_config.marks[0])
    r = argument5.head_readings(t, "1.0", mark * 1.01)  # nearest on a log scale: the mark itself
    i = int((t.tokens_seen == mark).nonzero()[0])
    assert r.tokens_seen == mark and r.prefix_matching == pytest.approx(float(t["prefix_matching"][i, 1, 0]))
    assert r.copied_logit_head == pytest.approx(float(t["copied_logit_heads"][i, 1, 0]))
    assert r.repeat_top1 == pytest.approx(float(t["repeat_top1_by_sequence"][i, :, 1:].mean()))
    assert not math.isnan(r.ov_positivity)


def test_long_run_verdict_says_the_pre_registered_sentence():
    flat = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.3, 0.3, 0.3, 0.3]), 2.46e7)
    assert argument5.long_run_verdict(flat).startswith("Copying is flat (top-1 on copies 2-4 0.30 [0.30, 0.30] at 24.6M")
    assert "not the cause at this scale" in argument5.long_run_verdict(flat)
    up = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.3, 0.4, 0.5, 0.6], noise=0.05), 2.46e7)
    assert "+0.30 per tenfold" in argument5.long_run_verdict(up) and "part of the cause" in argument5.long_run_verdict(up)
    done = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.3, 0.6, 0.92, 0.95]), 2.46e7)
    assert argument5.long_run_verdict(done).startswith("Copying reaches 0.9 at 100M tokens")
    down = argument5.copying_outcome(_trajectory([0.1, 0.3, 0.5, 0.4, 0.3, 0.2], noise=0.05), 2.46e7)
    assert "did not foresee" in argument5.long_run_verdict(down)
