"""Direct-path logit attribution (paper §Argument 4's visualisations, footnote 21).

The residual stream at the last layer is a sum of parts: the embedding (``resid_pre`` of block
0: the token embedding, plus the positional embedding where the model adds one), every head's
output ``z @ W_O``, each layer's output bias ``b_O`` and, in models with MLPs, each MLP's output.
The final LayerNorm ``(x - mean(x)) / scale * w + b`` is linear in ``x`` once its ``scale`` is
frozen at the value of the actual forward pass, so every part can be pushed through it and the
unembedding on its own, and the parts add up to the logits exactly.

What the paper defines and what we chose:

- The paper takes each head's attention-weighted values through ``W_O`` and the unembedding and
  reads off one token's logit, after **centring** the logit vector to zero mean (a constant added
  to every logit does not change the softmax). We do exactly that: the attribution of a part to
  token ``t`` is ``part · (W_U[:, t] - mean_v W_U[:, v])`` after the frozen final LayerNorm.
- The paper does not say what to do with the LayerNorm bias and ``b_U``; they are one more part,
  ``"bias"``, together with the heads' ``b_O``.
- In an attention-only model the decomposition is the whole story (embedding path + head paths +
  bias). In a model with MLPs a head's output also reaches the logits *through* later MLPs; the
  head paths here are the **direct** paths only, and the MLPs' direct outputs are a part
  (``"mlp"``) of their own, so the parts still sum to the logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .hooks import hook_name

__all__ = ["DirectPaths", "direct_path_attribution", "head_shares"]


@dataclass(frozen=True)
class DirectPaths:
    """The centred logit of each position's target token, split into parts.

    ``heads[l, h, b, p]`` is head ``l.h``'s direct contribution at position ``p`` of sequence
    ``b``; ``embed``, ``mlp`` and ``bias`` likewise (``mlp`` is zero in attention-only models).
    ``logit`` is the model's own centred logit, equal to the sum of the parts.
    """

    embed: Float[Tensor, "batch pos"]
    heads: Float[Tensor, "layer head batch pos"]
    mlp: Float[Tensor, "batch pos"]
    bias: Float[Tensor, "batch pos"]
    logit: Float[Tensor, "batch pos"]

    def total(self) -> Float[Tensor, "batch pos"]:
        """The sum of the parts (equals :attr:`logit` up to float error)."""
        return self.embed + self.heads.sum((0, 1)) + self.mlp + self.bias


def _final_norm(bridge, cache) -> tuple[bool, Tensor, Tensor, Tensor]:
    """(centre?, frozen scale [b, p, 1], weight [d], bias [d]) of the final normalisation."""
    kind = bridge.cfg.normalization_type
    d = bridge.cfg.d_model
    if kind is None:
        return False, torch.ones(1), torch.ones(d), torch.zeros(d)
    if kind not in ("LN", "LNPre", "RMS", "RMSPre"):
        raise ValueError(f"final normalisation {kind!r} is not supported; expected LN, LNPre, RMS or None")
    ln = bridge.ln_final
    weight = getattr(ln, "weight", None) if not kind.endswith("Pre") else None
    bias = getattr(ln, "bias", None) if kind.startswith("LN") and not kind.endswith("Pre") else None
    return (kind.startswith("LN"), cache["ln_final.hook_scale"],
            torch.ones(d) if weight is None else weight.detach(), torch.zeros(d) if bias is None else bias.detach())


@torch.no_grad()
def direct_path_attribution(
    bridge, tokens: Int[Tensor, "batch seq"], targets: Int[Tensor, "batch seq"] | None = None
) -> DirectPaths:
    """Split the centred logit of ``targets`` (by default the next token: ``tokens[:, 1:]``, so
    position ``p`` is the prediction of token ``p + 1``) into embedding, per-head, MLP and bias
    parts, exactly (see the module docstring)."""
    L = bridge.cfg.n_layers
    names = {hook_name("resid_pre", 0), hook_name("resid_post", L - 1), "ln_final.hook_scale",
             *(hook_name("z", layer) for layer in range(L))}
    if not bridge.cfg.attn_only:
        names |= {hook_name("mlp_out", layer) for layer in range(L)}
    logits, cache = bridge.run_with_cache(tokens, names_filter=lambda n: n in names)
    if targets is None:
        targets, cut = tokens[:, 1:], slice(0, -1)
    else:
        cut = slice(None)
    W_U = bridge.W_U.detach()
    u = (W_U - W_U.mean(1, keepdim=True))[:, targets]  # [d, b, p]: centred unembedding of each target
    centre, scale, w, b = _final_norm(bridge, cache)
    scale = scale[:, cut] if scale.dim() == 3 else scale

    def through(part: Tensor) -> Tensor:  # [..., b, p, d] -> [..., b, p]
        part = part[..., cut, :]
        if centre:
            part = part - part.mean(-1, keepdim=True)
        return torch.einsum("...bpd,dbp->...bp", part / scale * w, u)

    z = torch.stack([cache[hook_name("z", layer)] for layer in range(L)])  # [l, b, p, h, e]
    heads = through(torch.einsum("lbphe,lhed->lhbpd", z, bridge.W_O.detach()))
    b_O = bridge.b_O.detach().sum(0)
    bias = through(b_O.expand_as(cache[hook_name("resid_pre", 0)]))
    bias = bias + torch.einsum("d,dbp->bp", b, u)
    if getattr(bridge, "b_U", None) is not None:
        b_U = bridge.b_U.detach()
        bias = bias + (b_U - b_U.mean())[targets]
    mlp = torch.zeros_like(bias)
    if not bridge.cfg.attn_only:
        mlp = sum(through(cache[hook_name("mlp_out", layer)]) for layer in range(L))
    lp = logits[:, cut].float()
    logit = (lp - lp.mean(-1, keepdim=True)).gather(-1, targets[..., None]).squeeze(-1)
    return DirectPaths(embed=through(cache[hook_name("resid_pre", 0)]), heads=heads, mlp=mlp, bias=bias, logit=logit)


def head_shares(paths: DirectPaths, positions: Int[Tensor, "n"] | None = None) -> dict[str, Float[Tensor, "..."]]:
    """Each part's share of the correct-token logit, averaged over the batch and ``positions``
    (all positions when None): ``part.mean() / logit.mean()``. Shares add up to 1; a share can
    be negative (a part that lowers the correct logit) or above 1 (when others are negative)."""
    sel = (lambda x: x) if positions is None else (lambda x: x[..., positions])
    total = sel(paths.logit).mean()
    return {"embed": sel(paths.embed).mean() / total, "heads": sel(paths.heads).mean((-2, -1)) / total,
            "mlp": sel(paths.mlp).mean() / total, "bias": sel(paths.bias).mean() / total}
