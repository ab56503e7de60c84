"""The model zoo: a plain PyTorch "fast twin" for training, converted exactly into a
TransformerLens 4 ``TransformerBridge`` for every analysis.

Architecture (pre-LayerNorm GPT, no dropout, untied embeddings, no unembedding bias):
token embedding -> n_layers x [LN -> attention (rotary on q and k) -> (+ LN -> GELU MLP)]
-> final LN -> unembedding. No positional embedding is added to the residual stream: position
only enters through the rotary rotation of queries and keys, like the paper's models, so an
induction head has to be built by K-composition with a previous-token head.

Smeared keys (paper §Argument 2): one learnable scalar alpha per head, and
``k_j <- sigmoid(alpha) * k_j + (1 - sigmoid(alpha)) * k_{j-1}`` (the first key unchanged),
applied to the key projection's output before the rotary rotation. That lets one layer attend
to "the token whose predecessor matches me" on its own.
"""

from __future__ import annotations

import copy
import functools
import math

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from ..measure.metrics import ideal_induction_pattern, induction_targets
from .config import ModelConfig

__all__ = ["InductionLM", "SmearedKeyLinear", "smear", "to_bridge", "bridge_config", "induction_target_allowed_mask"]


def smear(k: Float[Tensor, "batch pos head d_head"], alpha: Float[Tensor, "head"]):
    """The smeared-key mix: ``sigmoid(alpha) * k_j + (1 - sigmoid(alpha)) * k_{j-1}``."""
    s = torch.sigmoid(alpha)[None, None, :, None]
    prev = torch.cat([k[:, :1], k[:, :-1]], dim=1)
    return s * k + (1 - s) * prev


class SmearedKeyLinear(nn.Linear):
    """A key projection followed by the smear. Used by both the fast twin and the bridge, so
    ``W_K``/``b_K`` keep their meaning and ``hook_k`` shows the smeared keys."""

    def __init__(self, d_model: int, n_heads: int, d_head: int):
        super().__init__(d_model, n_heads * d_head)
        self.n_heads, self.d_head = n_heads, d_head
        self.smear_alpha = nn.Parameter(torch.zeros(n_heads))

    def forward(self, x: Tensor) -> Tensor:
        k = super().forward(x)
        b, t, _ = k.shape
        return smear(k.view(b, t, self.n_heads, self.d_head), self.smear_alpha).reshape(b, t, -1)


def _rotary_tables(cfg: ModelConfig) -> tuple[Tensor, Tensor]:
    # Same construction as TransformerLens' NativeRotary (adjacent-pair RoPE), so the
    # conversion is exact.
    inv_freq = 1.0 / (cfg.rotary_base ** (torch.arange(0, cfg.d_head, 2).float() / cfg.d_head))
    freqs = torch.outer(torch.arange(cfg.n_ctx).float(), inv_freq)
    return freqs.cos().repeat_interleave(2, -1), freqs.sin().repeat_interleave(2, -1)


def _rotate_half(x: Tensor) -> Tensor:
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def embedding_key_input(embedding: Float[Tensor, "batch pos d_model"], eps: float) -> Tensor:
    """What the keys of a K-composition-knockout layer read: the token embedding, layer-normed
    without a gain or bias (the key projection's own weights can take their place)."""
    return F.layer_norm(embedding, embedding.shape[-1:], eps=eps)


def previous_token_blocked_mask(n: int, device=None) -> Tensor:
    """Causal attention without the previous token: ``True`` where query ``i`` may attend to key
    ``j`` (``j <= i`` and ``j != i - 1``)."""
    allowed = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    return allowed & ~torch.ones(n - 1, dtype=torch.bool, device=device).diag(-1)


def induction_target_allowed_mask(tokens: Int[Tensor, "batch pos"]) -> Bool[Tensor, "batch 1 pos pos"]:
    """Causal attention without the induction targets: ``True`` where query ``i`` may attend to key
    ``j`` (``j <= i``, and ``j`` is not the token after an earlier occurrence of token ``i``:
    :func:`induction_heads.measure.metrics.induction_targets`). Key 0 is never a target, so every
    row keeps a key. One mask per sequence, broadcast over heads."""
    n = tokens.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool, device=tokens.device).tril()
    return (causal & ~induction_targets(tokens).bool())[:, None]


class Attention(nn.Module):
    """Causal multi-head attention with rotary queries and keys, and the zoo's interventions:
    keys from the token embedding (``k_composition_knockout``, layers after the first), no
    attention to the previous token (``block_previous_token``, first layer), head 0's
    attention clamped to the ideal induction pattern (``clamped_induction_head``, last layer), and
    no attention to an induction target (``block_induction_target``, layers after the first)."""

    def __init__(self, cfg: ModelConfig, layer: int = 0):
        super().__init__()
        self.cfg = cfg
        inner = cfg.n_heads * cfg.d_head
        self.q = nn.Linear(cfg.d_model, inner)
        self.k = (
            SmearedKeyLinear(cfg.d_model, cfg.n_heads, cfg.d_head)
            if cfg.smeared_key
            else nn.Linear(cfg.d_model, inner)
        )
        self.v = nn.Linear(cfg.d_model, inner)
        self.o = nn.Linear(inner, cfg.d_model)
        self.keys_from_embedding = cfg.k_composition_knockout and layer > 0
        self.blocks_previous_token = cfg.block_previous_token and layer == 0
        self.clamped = cfg.clamped_induction_head and layer == cfg.n_layers - 1
        self.blocks_induction_target = cfg.block_induction_target and layer > 0

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, with_pattern: bool = False,
        embedding: Tensor | None = None, tokens: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        b, t, _ = x.shape
        h, dh = self.cfg.n_heads, self.cfg.d_head
        key_in = embedding_key_input(embedding, self.cfg.ln_eps) if self.keys_from_embedding else x
        q, k, v = (m(i).view(b, t, h, dh).transpose(1, 2) for m, i in ((self.q, x), (self.k, key_in), (self.v, x)))
        cos, sin = cos[:t], sin[:t]
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        allowed = previous_token_blocked_mask(t, x.device) if self.blocks_previous_token else None
        if self.blocks_induction_target:
            allowed = induction_target_allowed_mask(tokens)
        pattern = None
        if with_pattern or self.clamped:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
            if allowed is None:
                allowed = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
            pattern = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
            if self.clamped:
                pattern = torch.cat([ideal_induction_pattern(tokens)[:, None].to(pattern), pattern[:, 1:]], dim=1)
            z = pattern @ v
        elif allowed is None:
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            z = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return self.o(z.transpose(1, 2).reshape(b, t, h * dh)), pattern


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int = 0):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.attn = Attention(cfg, layer)
        if not cfg.attn_only:
            self.ln2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
            self.fc_in = nn.Linear(cfg.d_model, cfg.d_mlp)
            self.fc_out = nn.Linear(cfg.d_mlp, cfg.d_model)

    def forward(self, x, cos, sin, with_pattern=False, embedding=None, tokens=None):
        a, pattern = self.attn(self.ln1(x), cos, sin, with_pattern, embedding, tokens)
        x = x + a
        if hasattr(self, "fc_in"):
            x = x + self.fc_out(F.gelu(self.fc_in(self.ln2(x))))
        return x, pattern


class InductionLM(nn.Module):
    """The fast twin: what the trainer optimises (fused SDPA attention, no hooks)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.d_vocab, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg, layer) for layer in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps) if cfg.final_ln else nn.Identity()
        if not cfg.tied_embeddings:
            self.unembed = nn.Linear(cfg.d_model, cfg.d_vocab, bias=False)
        cos, sin = _rotary_tables(cfg)
        self.register_buffer("rot_cos", cos, persistent=False)
        self.register_buffer("rot_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2 style initialisation from ``cfg.seed`` (never touches the global RNG)."""
        g = torch.Generator().manual_seed(self.cfg.seed)
        std = self.cfg.init_std
        for name, p in self.named_parameters():
            with torch.no_grad():
                if name.endswith("smear_alpha") or name.endswith("bias"):
                    p.zero_()
                elif ".ln" in name or name.startswith("ln_f"):
                    p.fill_(1.0)
                else:
                    scale = 1 / math.sqrt(2 * self.cfg.n_layers) if name.endswith(("o.weight", "fc_out.weight")) else 1.0
                    p.copy_(torch.randn(p.shape, generator=g) * std * scale)

    def forward(
        self, tokens: Int[Tensor, "batch pos"], with_patterns: bool = False
    ) -> Float[Tensor, "batch pos vocab"] | tuple[Tensor, list[Tensor]]:
        if tokens.shape[1] > self.cfg.n_ctx:
            raise ValueError(f"input length {tokens.shape[1]} exceeds n_ctx={self.cfg.n_ctx}")
        x = embedding = self.embed(tokens)
        patterns = []
        for block in self.blocks:
            x, pattern = block(x, self.rot_cos, self.rot_sin, with_patterns, embedding, tokens)
            patterns.append(pattern)
        logits = F.linear(self.ln_f(x), (self.embed if self.cfg.tied_embeddings else self.unembed).weight)
        return (logits, patterns) if with_patterns else logits

    @property
    def W_U(self) -> Float[Tensor, "d_model vocab"]:
        """The unembedding (the token embedding transposed when ``cfg.tied_embeddings``)."""
        return (self.embed if self.cfg.tied_embeddings else self.unembed).weight.T

    @torch.no_grad()
    def attention_patterns(
        self, tokens: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "layer batch head query key"]:
        """Every layer's attention pattern (same values as the bridge's ``hook_pattern``)."""
        _, patterns = self(tokens, with_patterns=True)
        return torch.stack(patterns)


def bridge_config(cfg: ModelConfig):
    """The TransformerLens 4 config equivalent to ``cfg``."""
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig(
        d_model=cfg.d_model,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        n_layers=cfg.n_layers,
        n_ctx=cfg.n_ctx,
        d_vocab=cfg.d_vocab,
        attn_only=cfg.attn_only,
        d_mlp=cfg.d_mlp if not cfg.attn_only else None,
        act_fn="gelu",
        normalization_type="LN",
        eps=cfg.ln_eps,
        positional_embedding_type="rotary",
        rotary_dim=cfg.d_head,
        rotary_base=cfg.rotary_base,
        init_weights=False,
        device="cpu",
    )


def _native_state_dict(model: InductionLM) -> dict[str, Tensor]:
    """The fast twin's weights under TransformerLens NativeModel's parameter names."""
    sd = {"tok_embed.weight": model.embed.weight, "head.weight": model.W_U.T}
    if model.cfg.final_ln:
        sd["ln_out.weight"], sd["ln_out.bias"] = model.ln_f.weight, model.ln_f.bias
    for i, b in enumerate(model.blocks):
        p = f"layers.{i}."
        sd[p + "ln1.weight"], sd[p + "ln1.bias"] = b.ln1.weight, b.ln1.bias
        for m in ("q", "k", "v", "o"):
            lin = getattr(b.attn, m)
            sd[p + f"attn.{m}.weight"], sd[p + f"attn.{m}.bias"] = lin.weight, lin.bias
        if model.cfg.smeared_key:
            sd[p + "attn.k.smear_alpha"] = b.attn.k.smear_alpha
        if not model.cfg.attn_only:
            sd[p + "ln2.weight"], sd[p + "ln2.bias"] = b.ln2.weight, b.ln2.bias
            sd[p + "mlp.fc_in.weight"], sd[p + "mlp.fc_in.bias"] = b.fc_in.weight, b.fc_in.bias
            sd[p + "mlp.fc_out.weight"], sd[p + "mlp.fc_out.bias"] = b.fc_out.weight, b.fc_out.bias
    return {k: v.detach().clone() for k, v in sd.items()}


class _Stash:
    """The token ids and token embedding of the bridge's current forward pass, for the modules
    of an intervention that need them (the native attention only sees the residual stream)."""

    tokens: Tensor | None = None
    embedding: Tensor | None = None


def _stash_tokens(module: nn.Module, args: tuple) -> None:
    module.stash.tokens = args[0]


def _stash_embedding(module: nn.Module, args: tuple, output: Tensor) -> None:
    module.stash.embedding = output


class EmbeddingKeyLinear(nn.Linear):
    """The bridge's key projection in a K-composition-knockout layer: it reads the stashed token
    embedding (:func:`embedding_key_input`) instead of its input, so ``hook_k`` shows the
    knocked-out keys and ``W_K`` keeps its shape."""

    def __init__(self, d_model: int, inner: int, stash: _Stash, eps: float):
        super().__init__(d_model, inner)
        self.stash, self.eps = stash, eps

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(embedding_key_input(self.stash.embedding, self.eps))


@functools.cache
def _clamped_attention_class() -> type:
    from transformer_lens.model_bridge.sources.native.model import NativeAttention

    class ClampedInductionAttention(NativeAttention):
        """Native attention whose head 0 attends by the ideal induction pattern of the stashed
        tokens; the clamp is applied before the bridge's ``hook_pattern``, which shows it."""

        stash: _Stash

        def forward(self, hidden_states, attention_mask=None, position_ids=None, pattern_fn=None, **kwargs):
            def clamp(p: Tensor) -> Tensor:
                p = torch.cat([ideal_induction_pattern(self.stash.tokens)[:, None].to(p), p[:, 1:]], dim=1)
                return pattern_fn(p) if pattern_fn is not None else p

            return super().forward(hidden_states, attention_mask, position_ids, pattern_fn=clamp, **kwargs)

    return ClampedInductionAttention


@functools.cache
def _no_induction_target_attention_class() -> type:
    from transformer_lens.model_bridge.sources.native.model import NativeAttention

    class NoInductionTargetAttention(NativeAttention):
        """Native attention that may not attend to the induction targets of the stashed tokens
        (:func:`induction_target_allowed_mask`), masked before the softmax like the fast twin."""

        stash: _Stash

        def forward(self, hidden_states, attention_mask=None, position_ids=None, pattern_fn=None, **kwargs):
            blocked = ~induction_target_allowed_mask(self.stash.tokens)
            if attention_mask is not None:
                blocked = self._combine_attention_mask(blocked, attention_mask, batch=hidden_states.shape[0])
            return super().forward(hidden_states, blocked, position_ids, pattern_fn=pattern_fn, **kwargs)

    return NoInductionTargetAttention


def _install_interventions(native: nn.Module, cfg: ModelConfig) -> None:
    """Give the native model the fast twin's interventions (``ModelConfig`` says which)."""
    stash = _Stash()
    native.tok_embed.stash = stash
    native.tok_embed.register_forward_pre_hook(_stash_tokens)
    native.tok_embed.register_forward_hook(_stash_embedding)
    if cfg.k_composition_knockout:
        for blk in native.layers[1:]:
            blk.attn.k = EmbeddingKeyLinear(cfg.d_model, cfg.n_heads * cfg.d_head, stash, cfg.ln_eps)
    if cfg.block_previous_token:
        native.layers[0].attn.causal_mask = ~previous_token_blocked_mask(cfg.n_ctx)
    if cfg.clamped_induction_head:
        attn = native.layers[cfg.n_layers - 1].attn
        attn.__class__ = _clamped_attention_class()
        attn.stash = stash
    if cfg.block_induction_target:
        for blk in native.layers[1:]:
            blk.attn.__class__ = _no_induction_target_attention_class()
            blk.attn.stash = stash


def to_bridge(model: InductionLM, tokenizer=None):
    """Convert the fast twin exactly into a TransformerLens 4 ``TransformerBridge`` (eval mode).

    Smeared-key models get :class:`SmearedKeyLinear` as their key projection inside the native
    model, so ``blocks.L.attn.hook_k`` shows the smeared (pre-rotary) keys and ``W_K`` is the
    un-smeared projection. Interventions are installed the same way (:class:`EmbeddingKeyLinear`,
    the first layer's mask, the clamped head), so every hook shows what the fast twin computes.
    """
    import transformer_lens.model_bridge.sources.native  # noqa: F401  (registers the adapter)
    from transformer_lens.model_bridge.sources._bridge_builder import build_bridge_from_module
    from transformer_lens.model_bridge.sources.native import NativeModel

    tl_cfg = bridge_config(model.cfg)
    native = NativeModel(copy.deepcopy(tl_cfg))
    if model.cfg.smeared_key:
        for blk in native.layers:
            blk.attn.k = SmearedKeyLinear(model.cfg.d_model, model.cfg.n_heads, model.cfg.d_head)
    _install_interventions(native, model.cfg)
    if not model.cfg.final_ln:
        native.ln_out = torch.nn.Identity()
    native.load_state_dict(_native_state_dict(model), strict=True)
    bridge = build_bridge_from_module(
        native, "TransformerLensNative", tl_config=tl_cfg, tokenizer=tokenizer
    )
    if not model.cfg.final_ln:
        bridge.ln_final.use_native_layernorm_autograd = True  # runs the wrapped nn.Identity
    bridge.eval()
    return bridge
