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
import math

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from .config import ModelConfig

__all__ = ["InductionLM", "SmearedKeyLinear", "smear", "to_bridge", "bridge_config"]


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


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
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

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, with_pattern: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        b, t, _ = x.shape
        h, dh = self.cfg.n_heads, self.cfg.d_head
        q, k, v = (m(x).view(b, t, h, dh).transpose(1, 2) for m in (self.q, self.k, self.v))
        cos, sin = cos[:t], sin[:t]
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        if with_pattern:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(dh)
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            pattern = scores.masked_fill(mask, float("-inf")).softmax(-1)
            z = pattern @ v
        else:
            pattern = None
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(z.transpose(1, 2).reshape(b, t, h * dh)), pattern


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
        self.attn = Attention(cfg)
        if not cfg.attn_only:
            self.ln2 = nn.LayerNorm(cfg.d_model, eps=cfg.ln_eps)
            self.fc_in = nn.Linear(cfg.d_model, cfg.d_mlp)
            self.fc_out = nn.Linear(cfg.d_mlp, cfg.d_model)

    def forward(self, x, cos, sin, with_pattern=False):
        a, pattern = self.attn(self.ln1(x), cos, sin, with_pattern)
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
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
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
        x = self.embed(tokens)
        patterns = []
        for block in self.blocks:
            x, pattern = block(x, self.rot_cos, self.rot_sin, with_patterns)
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


def to_bridge(model: InductionLM, tokenizer=None):
    """Convert the fast twin exactly into a TransformerLens 4 ``TransformerBridge`` (eval mode).

    Smeared-key models get :class:`SmearedKeyLinear` as their key projection inside the native
    model, so ``blocks.L.attn.hook_k`` shows the smeared (pre-rotary) keys and ``W_K`` is the
    un-smeared projection.
    """
    import transformer_lens.model_bridge.sources.native  # noqa: F401  (registers the adapter)
    from transformer_lens.model_bridge.sources._bridge_builder import build_bridge_from_module
    from transformer_lens.model_bridge.sources.native import NativeModel

    tl_cfg = bridge_config(model.cfg)
    native = NativeModel(copy.deepcopy(tl_cfg))
    if model.cfg.smeared_key:
        for blk in native.layers:
            blk.attn.k = SmearedKeyLinear(model.cfg.d_model, model.cfg.n_heads, model.cfg.d_head)
    if not model.cfg.final_ln:
        native.ln_out = torch.nn.Identity()
    missing, unexpected = native.load_state_dict(_native_state_dict(model), strict=True), None
    del missing, unexpected
    bridge = build_bridge_from_module(
        native, "TransformerLensNative", tl_config=tl_cfg, tokenizer=tokenizer
    )
    if not model.cfg.final_ln:
        bridge.ln_final.use_native_layernorm_autograd = True  # runs the wrapped nn.Identity
    bridge.eval()
    return bridge
