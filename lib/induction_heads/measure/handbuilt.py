"""A 2-layer attention-only model whose circuit we know exactly, with weights set by hand.

Residual stream (``d_model = 3V + N + J``), every subspace one-hot:

=========  ==============  =========================================================
subspace   dimensions      written by
=========  ==============  =========================================================
``tok``    ``V``           the token embedding ``W_E`` (token t -> e_t)
``pos``    ``N = n_ctx``   the (standard, learned-style) positional embedding
``prev``   ``V``           head 0.0: the token at the *previous* position
``out``    ``V``           head 1.0: the token it copies; the only subspace ``W_U`` reads
``junk``   ``J = 8``       heads 0.1 and 1.1 (read by nothing)
=========  ==============  =========================================================

Heads (``d_head = N``, no LayerNorm, no biases, attention scale ``1/sqrt(d_head)``):

- **0.0, previous-token head.** QK reads positions only: query ``i`` -> ``C e_i``, key ``j`` ->
  ``e_{j+1}``, so the score is ``C`` exactly when ``j = i - 1`` and 0 elsewhere (``C`` = 40
  after scaling: the rest of the row gets less than ``100 e^-40``). OV copies ``tok`` into
  ``prev``.
- **0.1, uniform head.** ``W_Q = W_K = 0``, so it attends uniformly to every earlier position;
  random OV into ``junk``.
- **1.0, induction head.** QK: query token ``a`` against the key's ``prev`` subspace, score
  ``C`` when the key's previous token is ``a`` (K-composition with 0.0). The key at position 0
  also gets ``-1`` on every query direction, so position 0 (which has no previous token, and
  where 0.0 can only attend to itself) is never a match. OV copies ``tok`` into ``out``, and
  ``W_U`` reads ``out`` with gain ``G = 10``. Its full OV circuit is ``G * I``.
- **1.1, other head.** Random QK and OV reading ``tok`` only, writing ``junk``.

So the logits are exactly ``G *`` (head 1.0's attention-weighted one-hot of the attended
tokens), and on repeated random tokens the model predicts every repeat almost perfectly.

The tests use it as the known answer of every metric (``tests/measure/test_metrics.py``,
``test_circuits.py``, ``test_ablation.py``), and the Argument 5 chapter shows it as the reference
mechanism that the trained induction heads are compared with.
"""

from __future__ import annotations

import functools
import math

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .circuits import copying_score, k_composition_trace, ov_eigenvalue_positivity
from .hooks import hook_name
from .metrics import prefix_matching_score, previous_token_score, repeated_random_tokens

__all__ = [
    "V",
    "N",
    "J",
    "D_HEAD",
    "D_MODEL",
    "C",
    "G",
    "handbuilt_weights",
    "handbuilt_bridge",
    "repeated_tokens",
    "attention_patterns",
    "reference_scores",
]

V, N, J = 32, 104, 8  # vocabulary, context (>= 101 = BOS + 25 x 4), junk dims
D_HEAD = N
D_MODEL = 3 * V + N + J
TOK, POS, PREV, OUT, JUNK = 0, V, V + N, 2 * V + N, 3 * V + N
C = 40.0  # post-scaling attention logit of a match
G = 10.0  # unembedding gain


def handbuilt_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    """``W_E, W_pos, W_Q, W_K, W_V, W_O, W_U`` in TransformerLens shapes."""
    g = torch.Generator().manual_seed(seed)
    c = C * math.sqrt(D_HEAD)  # undo the 1/sqrt(d_head) attention scale
    W_E = torch.zeros(V, D_MODEL)
    W_E[torch.arange(V), TOK + torch.arange(V)] = 1
    W_pos = torch.zeros(N, D_MODEL)
    W_pos[torch.arange(N), POS + torch.arange(N)] = 1
    W_Q, W_K, W_V = (torch.zeros(2, 2, D_MODEL, D_HEAD) for _ in range(3))
    W_O = torch.zeros(2, 2, D_HEAD, D_MODEL)
    t = torch.arange(V)
    # 0.0 previous-token head
    W_Q[0, 0, POS + torch.arange(N), torch.arange(N)] = c
    W_K[0, 0, POS + torch.arange(N - 1), torch.arange(1, N)] = 1
    W_V[0, 0, TOK + t, t] = 1
    W_O[0, 0, t, PREV + t] = 1
    # 0.1 uniform head
    W_V[0, 1, TOK : TOK + V] = torch.randn(V, D_HEAD, generator=g) / math.sqrt(V)
    W_O[0, 1, :, JUNK:] = torch.randn(D_HEAD, J, generator=g) / math.sqrt(D_HEAD)
    # 1.0 induction head
    W_Q[1, 0, TOK + t, t] = c
    W_K[1, 0, PREV + t, t] = 1
    W_K[1, 0, POS, :V] = -1
    W_V[1, 0, TOK + t, t] = 1
    W_O[1, 0, t, OUT + t] = 1
    # 1.1 other head
    for W in (W_Q, W_K, W_V):
        W[1, 1, TOK : TOK + V] = torch.randn(V, D_HEAD, generator=g) / math.sqrt(V)
    W_O[1, 1, :, JUNK:] = torch.randn(D_HEAD, J, generator=g) / math.sqrt(D_HEAD)
    W_U = torch.zeros(D_MODEL, V)
    W_U[OUT + t, t] = G
    return dict(W_E=W_E, W_pos=W_pos, W_Q=W_Q, W_K=W_K, W_V=W_V, W_O=W_O, W_U=W_U)


@functools.cache
def handbuilt_bridge(seed: int = 0):
    """The hand-built model as a native ``TransformerBridge`` (eval mode; built once per
    session, so callers must not change its weights)."""
    import transformer_lens.model_bridge.sources.native  # noqa: F401  (registers boot_native)
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    cfg = TransformerBridgeConfig(
        d_model=D_MODEL, d_head=D_HEAD, n_heads=2, n_layers=2, n_ctx=N, d_vocab=V,
        attn_only=True, normalization_type=None, positional_embedding_type="standard",
        init_weights=False, device="cpu",
    )
    bridge = TransformerBridge.boot_native(cfg)
    w = handbuilt_weights(seed)
    inner = lambda W: W.transpose(-1, -2).reshape(-1, D_MODEL)  # [h, d, dh] -> [h*dh, d]  # noqa: E731
    sd = {"embed.weight": w["W_E"], "pos_embed.weight": w["W_pos"],
          "unembed.weight": w["W_U"].T, "unembed.bias": torch.zeros(V)}
    for layer in range(2):
        p = f"blocks.{layer}.attn."
        sd[p + "q.weight"], sd[p + "k.weight"], sd[p + "v.weight"] = (
            inner(w[k][layer]) for k in ("W_Q", "W_K", "W_V"))
        sd[p + "o.weight"] = w["W_O"][layer].reshape(-1, D_MODEL).T  # [d, h*dh]
        for m in "qkvo":
            sd[p + f"{m}.bias"] = torch.zeros(D_MODEL if m == "o" else 2 * D_HEAD)
    missing, unexpected = bridge.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    assert not [k for k in missing if "ln" not in k], missing
    bridge.eval()
    return bridge


def repeated_tokens(
    n_sequences: int = 4, bos: bool = True, seed: int = 0, length: int = 25, repeats: int = 4
) -> torch.Tensor:
    """``length`` (25) distinct random non-BOS tokens repeated ``repeats`` (4) times (BOS = token
    0 prepended if ``bos``): the paper's evaluator input in the hand-built vocabulary."""
    return repeated_random_tokens(torch.arange(1, V), n_sequences, length, repeats, 0 if bos else None, seed)


@torch.no_grad()
def attention_patterns(bridge, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, "layer batch head query key"]:
    """Every layer's ``hook_pattern`` of a ``TransformerBridge`` on ``tokens``, stacked."""
    _, cache = bridge.run_with_cache(tokens, names_filter=lambda n: n.endswith("attn.hook_pattern"))
    return torch.stack([cache[hook_name("pattern", layer)] for layer in range(bridge.cfg.n_layers)])


def reference_scores(seed: int = 0) -> dict[str, Float[Tensor, "layer head"]]:
    """The hand-built model's head scores, measured as the trainer's recorder measures a trained
    model's (:class:`induction_heads.measure.recorder.Recorder`): prefix matching on BOS + 25 random tokens x 4,
    copying on the same without BOS, OV eigenvalue positivity, and the K-composition trace
    weighted by the previous-token scores. The previous-token score is read on the repeated
    tokens too: the hand-built vocabulary has no text, and head 0.0 attends by position alone.
    """
    bridge = handbuilt_bridge(seed)
    tokens = repeated_tokens(seed=seed)
    pattern = attention_patterns(bridge, tokens)
    prev = previous_token_score(pattern)
    return {
        "prefix_matching": prefix_matching_score(pattern, tokens),
        "previous_token": prev,
        "copying": copying_score(bridge, repeated_tokens(bos=False, seed=seed)),
        "ov_positivity": ov_eigenvalue_positivity(bridge),
        "k_composition_trace": k_composition_trace(bridge, prev),
    }
