"""Known-answer tests of the weight-based circuit measurements (circuits.py)."""

import math

import pytest
import torch
from induction_heads.measure.handbuilt import C, D_HEAD, D_MODEL, V, handbuilt_bridge, repeated_tokens

from induction_heads.measure.circuits import (
    CircuitWeights,
    composition_baseline,
    composition_scores,
    copying_score,
    k_composition_trace,
    ov_eigenvalue_positivity,
)
from induction_heads.engine.config import model_config
from induction_heads.engine.model import InductionLM, to_bridge

torch.set_num_threads(1)


def random_weights(L=2, H=8, d=64, r=16, vocab=50, seed=0) -> CircuitWeights:
    g = torch.Generator().manual_seed(seed)
    mk = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    return CircuitWeights(mk(vocab, d), mk(L, H, d, r), mk(L, H, d, r), mk(L, H, d, r), mk(L, H, r, d), mk(d, vocab))


def with_ov(w: CircuitWeights, W_V: torch.Tensor, W_O: torch.Tensor) -> CircuitWeights:
    return CircuitWeights(w.W_E, w.W_Q, w.W_K, W_V, W_O, w.W_U)


def test_ov_positivity_identity_negative_random():
    d, vocab = 24, 40
    w = random_weights(L=1, H=2, d=d, r=d, vocab=vocab)
    eye = torch.eye(d).expand(1, 2, d, d)
    # W_OV = +-I and W_U = W_E^T: the full OV circuit is +-W_E W_E^T (PSD / NSD)
    pos = CircuitWeights(w.W_E, w.W_Q, w.W_K, eye, eye, w.W_E.T)
    neg = CircuitWeights(w.W_E, w.W_Q, w.W_K, eye, -eye, w.W_E.T)
    assert torch.allclose(ov_eigenvalue_positivity(pos), torch.ones(1, 2), atol=1e-5)
    assert torch.allclose(ov_eigenvalue_positivity(neg), -torch.ones(1, 2), atol=1e-5)
    # random heads: Re(trace) has mean 0; the ratio's spread is about 1.5 / d_head = 0.09, so
    # the mean of 128 heads lies within 0.05 of 0 at about 6 standard errors
    rnd = ov_eigenvalue_positivity(random_weights(L=1, H=128, seed=1))
    assert rnd.abs().max() <= 1 and abs(rnd.mean().item()) < 0.05


def test_handbuilt_ov_positivity():
    p = ov_eigenvalue_positivity(handbuilt_bridge())
    assert p[1, 0] == pytest.approx(1.0, abs=1e-6)  # full OV circuit = G * identity
    assert p[[0, 0, 1], [0, 1, 1]].abs().max() < 1e-6  # the other heads never reach W_U


def test_handbuilt_copying_score_closed_form():
    """Repeated tokens without BOS: in repeats 2-4 head 1.0 attends only to copies of the right
    next token (ratio 1). At position 0 it can only attend to itself (ratio 1); at positions
    i = 1..24 of the first repeat it attends uniformly to positions 1..i (key 0 is masked out),
    raising i tokens equally: ratio 1/i. Score = 2 * mean - 1."""
    harmonic_24 = sum(1 / i for i in range(1, 25))
    expected = 2 * (1 + harmonic_24 + 75) / 100 - 1
    score = copying_score(handbuilt_bridge(), repeated_tokens(bos=False))
    assert score[1, 0].item() == pytest.approx(expected, abs=1e-5)
    assert torch.allclose(score[[0, 0, 1], [0, 1, 1]], torch.tensor(-1.0))  # raise nothing


def test_handbuilt_composition():
    """The only composition in the model is K-composition 0.0 -> 1.0. Its raw score is known:
    W_OV(0.0) maps tok to prev (identity block), W_QK(1.0) = c * sum_t tok_t (prev_t - pos_0)^T,
    so comp = c sqrt(V) / (sqrt(V) * c sqrt(2V)) = 1 / sqrt(2V)."""
    bridge = handbuilt_bridge()
    raw = {m: composition_scores(bridge, m, subtract_baseline=False) for m in "QKV"}
    assert raw["K"][0, 0, 1, 0].item() == pytest.approx(1 / math.sqrt(2 * V), abs=1e-6)
    for m, s in raw.items():
        defined = s[0, :, 1, :].clone()
        if m == "K":
            defined[0, 0] = 0
        assert defined.abs().max() < 1e-6, m
        assert s[1].isnan().all() and s[0, :, 0].isnan().all()  # source layer must be earlier
    base = composition_baseline(D_MODEL, D_HEAD)
    scores = torch.stack([composition_scores(bridge, m)[0, :, 1, :] for m in "QKV"])
    assert torch.allclose(scores, torch.stack([raw[m][0, :, 1, :] for m in "QKV"]) - base)
    assert scores.flatten().argmax().item() == 1 * 4 + 0 * 2 + 0  # mode K, 0.0 -> 1.0


def test_composition_random_weights_near_baseline():
    # random heads compose like random matrices: after the baseline the mean of 128 pairs per
    # mode is within 0.005 (the per-pair spread is about 0.008 for these shapes)
    w = random_weights(seed=2)
    for m in "QKV":
        s = composition_scores(w, m)
        s = s[~s.isnan()]
        assert abs(s.mean().item()) < 0.005 and s.abs().max() < 0.05, m


def test_composition_agrees_with_transformer_lens():
    bridge = to_bridge(InductionLM(model_config("tiny", "attn-only-2l")))
    raw = CircuitWeights.from_bridge(bridge, fold_ln=False)
    for m in "QKV":
        ours = composition_scores(raw, m, subtract_baseline=False)
        tl = torch.as_tensor(bridge.all_composition_scores(m).scores).detach()
        ok = ~ours.isnan()
        assert torch.allclose(ours[ok], tl[ok], atol=1e-5), m
        assert (tl[~ok] == 0).all()  # TransformerLens writes 0 where we write NaN


def test_ln_folding_is_exact_up_to_scale():
    """ln1(x) @ W_Q = (x @ folded W_Q) / std(x) + ln1.b @ W_Q for a LayerNorm with a non-trivial
    weight."""
    model = InductionLM(model_config("tiny", "attn-only-2l"))
    with torch.no_grad():
        model.blocks[0].ln1.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(0))
        model.blocks[0].ln1.bias.normal_(generator=torch.Generator().manual_seed(1))
    bridge = to_bridge(model)
    folded = CircuitWeights.from_bridge(bridge).W_Q[0, 0]
    x = torch.randn(5, bridge.cfg.d_model, generator=torch.Generator().manual_seed(2))
    ln = bridge.blocks[0].ln1
    std = (x.var(-1, unbiased=False, keepdim=True) + bridge.cfg.eps).sqrt()
    expected = (ln(x) - ln.b) @ bridge.W_Q[0, 0]
    assert torch.allclose(x @ folded / std, expected.detach(), atol=1e-5)


def test_handbuilt_k_composition_trace():
    """With previous-token scores [1, 0] in layer 0, head 1.0's term is query token a against a
    key holding previous token b: score c [a == b], c = C sqrt(d_head), trace c V. Head 1.1
    reads only the token subspace: 0. Layer-0 heads have no earlier head: NaN."""
    prev = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    trace = k_composition_trace(handbuilt_bridge(), prev)
    assert trace[1, 0].item() == pytest.approx(C * math.sqrt(D_HEAD) * V, rel=1e-5)
    assert trace[1, 1].abs() < 1e-3 and trace[0].isnan().all()
    # the uniform head 0.1 writes only junk, so its weight does not matter
    assert torch.allclose(k_composition_trace(handbuilt_bridge(), prev + torch.tensor([[0, 0.7], [0, 0]]))[1], trace[1])


def test_circuits_run_on_zoo_bridges():
    for name in ("smeared-2l", "mlp-2l"):
        bridge = to_bridge(InductionLM(model_config("tiny", name)))
        L, H = bridge.cfg.n_layers, bridge.cfg.n_heads
        tokens = repeated_tokens(n_sequences=2, bos=False)
        assert ov_eigenvalue_positivity(bridge).shape == (L, H)
        assert copying_score(bridge, tokens).shape == (L, H)
        assert composition_scores(bridge, "K").shape == (L, H, L, H)
        assert k_composition_trace(bridge, torch.ones(L, H)).shape == (L, H)
