"""Known-answer tests of the copying diagnostics (measure/copying.py): the hand-built circuit
copies perfectly (top-1 1 at every gain above 0, no misses, full OV circuit G * I); variants of it
whose direct path raises a chosen token give misses of a known class, gap and split; small
constructed cases pin the successor table, the frequency bins and the OV margins."""

import math

import numpy as np
import pytest
import torch
from induction_heads.measure import handbuilt
from induction_heads.measure.handbuilt import G, TOK, V, handbuilt_bridge, repeated_tokens

from induction_heads.measure.circuits import CircuitWeights
from induction_heads.measure.copying import (MISS_CLASSES, copy_misses, frequency_bins, frequent_tokens,
                                             full_ov_circuit, gain_reading, head_gain_logits, most_frequent_successor,
                                             ov_map, scored_positions, top1_by_bin, top1_under_head_gain)
from induction_heads.measure.repeats import repeat_test

torch.set_num_threads(1)

B = 15.0  # the direct-path logit the variants add (above the copy's G = 10)


def direct_path_variant(target_of) -> object:
    """A fresh hand-built bridge whose unembedding also reads the token subspace: the current
    token ``a`` raises the logit of ``target_of[a]`` by ``B`` along the direct path (embedding to
    unembedding), so it beats the copied token (``G``) wherever it is another token."""
    bridge = handbuilt_bridge.__wrapped__()  # not the cached one: its weights change here
    w = handbuilt.handbuilt_weights()["W_U"].clone()
    w[TOK + torch.arange(V), target_of] = B
    bridge.load_state_dict({"unembed.weight": w.T}, strict=False)
    return bridge


# ------------------------------------------------------------------ corpus statistics

def test_most_frequent_successor_counts_bigrams():
    stream = np.array([1, 2, 1, 2, 1, 3, 0, 4, 3, 1], dtype=np.uint16)
    succ = most_frequent_successor(stream, 6)
    # 1 -> 2 twice, 1 -> 3 once; 2 -> 1; 3 -> 0 and 3 -> 1 tie (smaller id); 0 -> 4; 4 -> 3; 5 never seen
    assert succ.tolist() == [4, 2, 1, 0, 3, -1]
    assert most_frequent_successor(np.array([7, 7]), 8)[7] == 7
    with pytest.raises(ValueError, match="outside"):
        most_frequent_successor(np.array([1, 9]), 5)


def test_frequent_tokens_are_the_top_share():
    counts = torch.tensor([5, 100, 7, 100, 50] + [1] * 35)  # 40 tokens: top 5% = 2
    assert frequent_tokens(counts).nonzero().flatten().tolist() == [1, 3]
    assert frequent_tokens(counts, share=0.1).nonzero().flatten().tolist() == [1, 2, 3, 4]


def test_scored_positions_are_copies_after_the_first():
    # BOS a b c a b c a b c: predictions of copies 2.. are of tokens 5, 6 and 8, 9 (first of each left out)
    assert scored_positions(3, 3).tolist() == [[4, 5], [7, 8]]


# ------------------------------------------------------------------ gain

def test_head_gain_scales_the_handbuilt_logits_linearly():
    bridge, toks = handbuilt_bridge(), repeated_tokens(n_sequences=3)
    one = head_gain_logits(bridge, toks, ["1.0"], 1.0)
    assert torch.allclose(one, bridge(toks))  # k = 1 is the model itself
    assert torch.allclose(head_gain_logits(bridge, toks, ["1.0"], 2.5), 2.5 * one, atol=1e-4)  # logits = G x head 1.0
    assert head_gain_logits(bridge, toks, ["1.0"], 0.0).abs().max() == 0
    assert torch.allclose(head_gain_logits(bridge, toks, [], 3.0), one)  # no heads: nothing scaled
    assert torch.allclose(head_gain_logits(bridge, toks, ["1.1"], 0.0), one, atol=1e-5)  # 1.1 writes junk only


def test_handbuilt_gain_curve_is_zero_then_one():
    toks = repeated_tokens(n_sequences=6)
    top1 = top1_under_head_gain(handbuilt_bridge(), toks, 25, ["1.0"], ks=(0.0, 0.5, 1.0, 5.0))
    assert top1.shape == (4, 6)
    assert top1[0].max() == 0  # all logits 0: the argmax is the BOS
    assert (top1[1:] == 1).all()
    assert torch.allclose(top1[2].mean(), repeat_test(handbuilt_bridge(), toks, 25)["top1"][1:].mean())


def test_gain_reading_known_curves():
    ks = (0.0, 1.0, 2.0, 3.0)
    c = lambda *y: torch.tensor(y, dtype=torch.float64)  # noqa: E731
    r = gain_reading(ks, c(0.0, 0.5, 0.95, 0.97))
    assert (r.limit, r.k_reached, r.k_best, r.level) == ("gain", 2.0, 3.0, 0.97)
    r = gain_reading(ks, c(0.0, 0.3, 0.5, 0.51))
    assert (r.limit, r.level, r.k_best, r.k_reached) == ("specificity", 0.51, 3.0, None)
    assert math.isclose(r.last_slope, 0.01, abs_tol=1e-9)
    r = gain_reading(ks, c(0.0, 0.6, 0.55, 0.5))  # peaks and falls: levelled off at the peak
    assert (r.limit, r.level, r.k_best) == ("specificity", 0.6, 1.0)
    r = gain_reading((0.0, 2.0, 4.0), c(0.1, 0.3, 0.5))  # 0.1 per unit of k: still rising
    assert r.limit == "undecided" and math.isclose(r.last_slope, 0.1)
    with pytest.raises(ValueError, match="ascending"):
        gain_reading((1.0, 0.0), c(0.1, 0.2))


# ------------------------------------------------------------------ misses

def test_handbuilt_has_no_misses():
    toks = repeated_tokens(n_sequences=5)
    m = copy_misses(handbuilt_bridge(), toks, 25, successor=torch.zeros(V, dtype=torch.long))
    assert m.correct.shape == (5, 3 * 24) and m.correct.all()
    assert len(m.winner) == 0 and m.gap_heads.shape == (2, 2, 0)
    assert m.class_counts().sum() == 0 and math.isnan(m.class_shares()["other"].value)
    assert torch.equal(m.target, toks[:, 1:][:, scored_positions(25, 4).flatten()])


def test_successor_winner_gap_split_by_path():
    shift = (torch.arange(V) + 7) % (V - 1) + 1  # a -> another non-BOS token
    toks = repeated_tokens(n_sequences=4)
    m = copy_misses(direct_path_variant(shift), toks, 25, successor=shift)
    expect_miss = shift[m.current] != m.target  # where the successor is the copied token, the copy wins
    assert expect_miss.any() and torch.equal(~m.correct, expect_miss)
    assert torch.equal(m.winner, shift[m.current[expect_miss]])
    assert (m.winner_class == MISS_CLASSES.index("successor")).all()
    # gap = B (direct path, for the winner) - G (head 1.0, for the copied token); nothing else
    assert torch.allclose(m.gap, torch.full_like(m.gap, B - G), atol=1e-4)
    assert torch.allclose(m.gap_embed, torch.full_like(m.gap, B), atol=1e-4)
    assert torch.allclose(m.gap_heads[1, 0], torch.full_like(m.gap, -G), atol=1e-4)
    assert m.gap_heads[0].abs().max() < 1e-4 and m.gap_heads[1, 1].abs().max() < 1e-4
    assert m.gap_mlp.abs().max() == 0 and m.gap_bias.abs().max() < 1e-4
    parts = m.mean_gap_parts("successor")
    assert math.isclose(parts["gap"], B - G, abs_tol=1e-4) and math.isclose(parts["1.0"], -G, abs_tol=1e-4)
    assert math.isnan(m.mean_gap_parts("other")["gap"])
    shares = m.class_shares()
    assert shares["successor"].value == 1 and shares["successor"].lo == 1 and shares["other"].value == 0


def test_class_order_and_offsets():
    shift = (torch.arange(V) + 7) % (V - 1) + 1
    toks = repeated_tokens(n_sequences=4)
    bridge = direct_path_variant(shift)
    m = copy_misses(bridge, toks, 25)  # no successor table: in sequence, else other
    first = toks[m.sequence, 1:26]
    in_seq = (first == m.winner[:, None]).any(1)
    assert in_seq.any() and (~in_seq).any()  # the constructed winners fall in both classes
    assert torch.equal(m.winner_class == MISS_CLASSES.index("in sequence"), in_seq)
    assert torch.equal(m.winner_class == MISS_CLASSES.index("other"), ~in_seq)
    assert (m.offset[~in_seq] == 0).all() and (m.offset[in_seq] != 0).all()
    every = torch.ones(V, dtype=torch.bool)
    m2 = copy_misses(bridge, toks, 25, frequent=every)  # in sequence still comes before frequent
    assert torch.equal(m2.winner_class == MISS_CLASSES.index("frequent"), ~in_seq)
    counts = m2.class_counts()
    assert counts.shape == (4, 4) and counts.sum() == len(m2.winner) and counts[:, 0].sum() == 0

    # the direct path raises the current token itself: every winner is in the sequence, one place back
    m3 = copy_misses(direct_path_variant(torch.arange(V)), toks, 25)
    assert (~m3.correct).all()
    assert (m3.winner_class == MISS_CLASSES.index("in sequence")).all() and (m3.offset == -1).all()


# ------------------------------------------------------------------ frequency

def test_frequency_bins_and_top1_by_bin():
    edges = frequency_bins(torch.arange(1.0, 9.0), 4)
    assert torch.allclose(edges, torch.tensor([1.0, 2.75, 4.5, 6.25, 8.0], dtype=torch.float64))
    e = torch.tensor([0.0, 10.0, 20.0, 30.0])
    counts = torch.tensor([[1.0, 5.0, 15.0, 30.0], [9.0, 12.0, 25.0, 40.0]])  # 30 and 40: last bin, inclusive
    correct = torch.tensor([[True, False, True, True], [True, True, False, False]])
    by_bin = top1_by_bin(correct, counts, e)
    assert [b.value for b in by_bin] == [2 / 3, 1.0, 1 / 3]
    assert all(b.lo <= b.value <= b.hi for b in by_bin)
    same = top1_by_bin(torch.tensor([[True, False]] * 5), torch.tensor([[1.0, 15.0]] * 5), torch.tensor([0.0, 10, 20]))
    assert [(b.value, b.lo, b.hi) for b in same] == [(1.0, 1.0, 1.0), (0.0, 0.0, 0.0)]  # no spread over sequences
    empty = top1_by_bin(torch.tensor([[True]]), torch.tensor([[1.0]]), torch.tensor([0.0, 10, 20, 30]))
    assert empty[0].value == 1 and math.isnan(empty[1].value)


# ------------------------------------------------------------------ the OV map

def test_handbuilt_full_ov_circuit_is_g_identity():
    w = CircuitWeights.from_bridge(handbuilt_bridge())
    circuit = full_ov_circuit(w, ["1.0"])
    assert torch.allclose(circuit, G * torch.eye(V, dtype=torch.float64))
    m = ov_map(circuit)
    assert m.own_share == 1 and (m.rank == 0).all() and torch.allclose(m.margin, torch.full((V,), G))
    # a row G e_s: margin G over a population std of G sqrt(V - 1) / V
    assert torch.allclose(m.relative_margin, torch.full((V,), V / math.sqrt(V - 1)))
    assert torch.allclose(full_ov_circuit(w, ["1.0", "1.1"]), circuit)  # 1.1 writes nothing W_U reads
    junk = ov_map(full_ov_circuit(w, ["1.1"]))  # all-zero rows: every logit ties, none own-top
    assert junk.own_share == 0 and junk.margin.abs().max() == 0
    with pytest.raises(ValueError, match="no heads"):
        full_ov_circuit(w, [])


def test_ov_map_closed_form_margins():
    M = torch.tensor([[3.0, 1, 0, 0], [2, 1, 0, 0], [0, 0, 5, 5], [0, 0, 1, 4]])
    eye = torch.eye(4)
    w = CircuitWeights(eye, eye.expand(1, 1, 4, 4), eye.expand(1, 1, 4, 4), eye.expand(1, 1, 4, 4),
                       eye.expand(1, 1, 4, 4), M)
    m = ov_map(full_ov_circuit(w, ["0.0"]))
    assert m.own_top.tolist() == [True, False, False, True] and m.own_share == 0.5
    assert m.margin.tolist() == [2.0, -1.0, 0.0, 3.0] and m.rank.tolist() == [0, 1, 0, 0]
    assert math.isclose(float(m.relative_margin[0]), 2 / math.sqrt(1.5), rel_tol=1e-6)
    assert m.median_margin() == 0.0  # torch's median of an even count is the lower middle value
    sub = ov_map(full_ov_circuit(w, ["0.0"]), torch.tensor([3, 1]))
    assert sub.tokens.tolist() == [3, 1] and sub.margin.tolist() == [3.0, -1.0] and sub.own_share == 0.5
    # two heads summed: W_E (W_V W_O + W_V' W_O') W_U
    D = torch.diag(torch.tensor([-3.0, 1, 0, 0]))
    two = CircuitWeights(eye, torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.stack([eye, eye])[None],
                         torch.stack([eye, D])[None], M)
    assert torch.allclose(full_ov_circuit(two, ["0.0", "0.1"]), ((eye + D) @ M).double())
    assert ov_map(full_ov_circuit(two, ["0.0", "0.1"])).own_top.tolist() == [False, False, False, True]
