"""The copying diagnostics read on runs (book/copying.py): the hand-built circuit's readings are the
ceiling (top-1 1, no misses, own-token share 1, margin G); on the committed tiny zoo the top-1 at
gain 1 is the run's stored repeat top-1, sequence by sequence; the recipe's facts and the
memorisation test have known answers."""

import math

import numpy as np
import pytest
import torch

from induction_heads.book.copying import (N_SEQUENCES, REPEAT_LENGTH, copying_diagnostics, handbuilt_diagnostics,
                                          loss_curves, recipe_facts, split_losses, stored_repeat_top1,
                                          train_split_tokens, train_windows)
from induction_heads.engine.runs import load_eval_set, load_token_counts
from induction_heads.engine.tokenizer import random_token_pool
from induction_heads.engine.zoo import Run
from induction_heads.measure.intervals import Interval
from induction_heads.measure.copying import MISS_CLASSES, head_gain_logits, top1_under_head_gain
from induction_heads.measure.handbuilt import G, V
from induction_heads.measure.repeats import repeated_sequences

torch.set_num_threads(1)

TINY_RUN = "attn-only-2l-natural"  # recorded with per-sequence repeat scores


def test_handbuilt_readings_are_the_ceiling():
    d = handbuilt_diagnostics(n_sequences=8)
    assert d.heads == ["1.0"] and d.stored_repeat_top1 is None and d.n_sequences == 8
    assert (d.repeat_top1.value, d.repeat_top1.lo, d.repeat_top1.hi) == (1.0, 1.0, 1.0)
    assert d.ks[0] == 0.0 and 1.0 in d.ks and d.gain_top1[0].max() == 0 and (d.gain_top1[1:] == 1).all()
    assert (d.gain.limit, d.gain.level, d.gain.k_reached) == ("gain", 1.0, 0.5) and d.gain_level.value == 1.0
    ov = d.ov["1.0"]
    assert (ov.own_share, ov.own_share_pool, ov.median_margin) == (1.0, 1.0, G)
    assert math.isclose(ov.median_relative_margin, V / math.sqrt(V - 1), rel_tol=1e-6)
    assert d.ov["summed"] == ov
    assert len(d.misses.winner) == 0 and all(math.isnan(s.value) for s in d.miss_shares.values())
    assert [b.value for b in d.top1_by_frequency] == [1.0] * 4
    assert [k for k, _ in d.gain_curve()] == list(d.ks)


def test_tiny_run_gain_one_is_the_stored_repeat_top1(tiny_zoo):
    run = Run("tiny", TINY_RUN)
    d = copying_diagnostics(run, successor=torch.zeros(run.model_config.d_vocab, dtype=torch.long))
    stored = run.trajectory["repeat_top1_by_sequence"][-1][:, 1:].double().mean(-1)
    at_one = d.gain_top1[d.ks.index(1.0)].double()
    assert d.n_sequences == N_SEQUENCES and torch.allclose(at_one, stored)
    assert math.isclose(d.repeat_top1.value, stored_repeat_top1(run), abs_tol=1e-9)
    assert math.isclose(stored_repeat_top1(run), float(run.trajectory["repeat_top1"][-1][1:].mean()), abs_tol=1e-6)
    assert d.heads == [] and d.ov == {}  # the tiny zoo forms no induction head: nothing is scaled
    assert (d.gain_top1 == d.gain_top1[0]).all()
    # every scored prediction is a hit or a classified miss; no winner is the (all-BOS) "successor" but BOS
    assert int(d.misses.correct.sum()) + len(d.misses.winner) == N_SEQUENCES * 3 * (REPEAT_LENGTH - 1)
    succ = d.misses.winner_class == MISS_CLASSES.index("successor")
    assert (d.misses.winner[succ] == 0).all()
    assert math.isclose(sum(s.value for s in d.miss_shares.values()), 1.0, abs_tol=1e-9)


def test_tiny_run_scaled_heads_at_one_are_the_model(tiny_zoo):
    run = Run("tiny", TINY_RUN)
    tokens = repeated_sequences(random_token_pool(load_token_counts("tiny")), N_SEQUENCES, REPEAT_LENGTH)
    bridge, heads = run.bridge(), ["0.0", "0.1", "1.0", "1.1"]
    assert torch.allclose(head_gain_logits(bridge, tokens, heads, 1.0), run.model()(tokens), atol=1e-4)
    top1 = top1_under_head_gain(bridge, tokens, REPEAT_LENGTH, heads, ks=(1.0,))
    assert torch.allclose(top1[0].double(), run.trajectory["repeat_top1_by_sequence"][-1][:, 1:].double().mean(-1))
    assert not torch.allclose(head_gain_logits(bridge, tokens, ["1.0"], 3.0), run.model()(tokens), atol=1e-3)


def test_recipe_facts_and_passes(tiny_zoo):
    run = Run("tiny", "attn-only-2l")
    assert train_split_tokens("tiny") == 1_308_368  # the tiny training stream's length
    f = recipe_facts(run)
    assert (f.tokens_per_step, f.schedule, f.d_vocab, f.d_model, f.n_heads, f.d_head) == \
        (1024, "constant", 512, 32, 2, 16)
    assert f.tokens_trained == run.info["tokens_trained"] and f.split_tokens == 1_308_368
    assert math.isclose(f.passes, run.info["tokens_trained"] / 1_308_368)
    assert recipe_facts(run, split_tokens=f.tokens_trained).passes == 1.0


def test_loss_curves_are_the_recorded_ones(tiny_zoo):
    run = Run("tiny", TINY_RUN)
    c = loss_curves(run)
    t = run.trajectory
    keep = t.tokens_seen > 0
    assert len(c.tokens) == int(keep.sum()) and c.tokens[0] > 0
    assert torch.allclose(c.heldout_loss, t["loss_by_position"][keep].double().mean(-1))
    assert torch.allclose(c.gap, c.heldout_loss - t["train_loss"][keep].double())


def test_train_windows_are_evenly_spaced():
    w = train_windows(np.arange(100), 3, 10)
    assert w[:, 0].tolist() == [0, 44, 89] and (w[:, 1:] - w[:, :-1] == 1).all()


def test_split_losses_of_the_same_windows_agree(tiny_zoo):
    run = Run("tiny", TINY_RUN)
    held = load_eval_set("tiny")[0][:4]
    stream = np.concatenate([held.flatten().numpy(), [0]])  # the held-out windows, as a "training split"
    (s,) = split_losses(run, stream, steps=[run.checkpoints[-1]], n_windows=4)
    assert s.step == run.checkpoints[-1] and s.tokens == run.tokens_at(s.step)
    assert s.train == s.heldout and s.gap == 0.0 and 0 < s.train.lo <= s.train.value <= s.train.hi
    with pytest.raises(ValueError):
        split_losses(run, stream, steps=[-1], n_windows=4)


# ---------------------------------------------------------------- kept sample, experiments, the finding

def test_kept_train_sample_equals_the_stream(tiny_zoo):
    from induction_heads.book.copying import _sample_from_stream, train_sample

    kept, fresh = train_sample("tiny"), _sample_from_stream("tiny")
    assert torch.equal(kept.successor, fresh.successor) and torch.equal(kept.windows, fresh.windows)


@pytest.mark.parametrize("top1, outcome", [
    (Interval(0.92, 0.90, 0.94), "reaches 0.9"),
    (Interval(0.45, 0.40, 0.50), "improves"),      # wholly above [0.31, 0.38]
    (Interval(0.40, 0.36, 0.44), "flat or worse"),  # overlaps
    (Interval(0.20, 0.15, 0.25), "flat or worse"),
])
def test_experiment_outcome(top1, outcome):
    from induction_heads.book.copying import experiment_outcome

    assert experiment_outcome("x", "ref", top1, Interval(0.34, 0.31, 0.38)).outcome == outcome


def test_gain_closes_and_the_finding_on_the_handbuilt_ceiling():
    from induction_heads.book.copying import copying_finding, gain_closes, handbuilt_diagnostics

    d = handbuilt_diagnostics(n_sequences=4)
    assert math.isnan(gain_closes(d, 3.0))  # nothing to close: it copies perfectly
    text = copying_finding(d)
    assert "hand-built completes 1.00" in text and "misses none" in text


def test_the_gap_by_path_adds_up(tiny_zoo):
    from induction_heads.book.copying import gap_by_path

    d = copying_diagnostics(Run("tiny", "attn-only-2l"), n_sequences=4)
    g = gap_by_path(d)
    parts = sum(v for k, v in g.items() if k != "gap" and v == v)
    assert parts == pytest.approx(g["gap"], abs=1e-3)


def test_an_experiment_without_an_induction_head_is_open():
    """The pre-registered rule: a run that formed no induction head (no window, or its largest final
    prefix-matching score below the book's threshold) leaves the test open, whatever its top-1."""
    from induction_heads.book.argument1 import FORMS_HEAD
    from induction_heads.book.argument5 import experiment_outcomes, formed_head
    from induction_heads.book.copying import NO_HEAD_OUTCOME, experiment_outcome

    ref = Interval(0.34, 0.31, 0.38)
    assert experiment_outcome("x", "ref", Interval(0.95, 0.9, 0.99), ref, formed_head=False).outcome == NO_HEAD_OUTCOME
    window = {"start": 1, "end": 2}
    assert formed_head({"phase_change_window": window, "max_prefix_matching_score": FORMS_HEAD.value})
    assert not formed_head({"phase_change_window": window, "max_prefix_matching_score": FORMS_HEAD.value - 0.01})
    assert not formed_head({"phase_change_window": None, "max_prefix_matching_score": 0.9})
    # a cool-down continues a run that formed its heads: no window of its own, its heads count
    assert formed_head({"phase_change_window": None, "max_prefix_matching_score": 0.9}, continues=True)
    assert not formed_head({"phase_change_window": None, "max_prefix_matching_score": 0.1}, continues=True)
    row = lambda top1, prefix, w: {"repeat_top1": top1, "repeat_top1_ci": [top1 - 0.01, top1 + 0.01],  # noqa: E731
                                   "max_prefix_matching_score": prefix, "phase_change_window": w}
    rows = {"attn-only-2l": row(0.34, 0.8, window), "attn-only-2l-h1": row(0.004, 0.046, window),
            "attn-only-2l-h2": row(0.6, 0.8, window), "attn-only-2l-cooldown": row(0.35, 0.76, None)}
    out = experiment_outcomes(rows)
    assert out["attn-only-2l-h1"].outcome == NO_HEAD_OUTCOME and out["attn-only-2l-h2"].outcome == "improves"
    assert out["attn-only-2l-cooldown"].outcome == "flat or worse"
