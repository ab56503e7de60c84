"""Head ablations (paper §Argument 3, §Methods (2), §Analyses).

A head is ablated by **zeroing its output** (its ``hook_z``, which equals zeroing its
``W_O`` columns and so its whole contribution to the residual stream). Two variants:

- **pattern-preserving** (the paper's Model Analysis Table): every layer's attention pattern is
  forced to its value in the clean run, so only downstream *value* computations change and the
  head's influence on later heads' attention is kept. In an attention-only model this removes
  exactly the path terms that run through the head's output (footnote 30).
- **full**: nothing is frozen; later patterns are recomputed from the ablated residual stream.

Many ablations share one forward pass: the batch is repeated once per ablation and a
different set of heads is zeroed in each copy (a per-copy ``[layer, head]`` keep-mask),
chunked so that at most ``max_sequences`` sequences go through the model at once. With frozen
patterns a layer's attention is just ``pattern @ v``, so pattern-preserving ablations skip
queries, keys and softmax altogether and start at the first ablated layer from the clean
run's cached residual stream. Every function returns per-token losses (``loss[..., i]`` predicts token ``i + 1``), from which
ΔICL and the before-and-after projection both follow.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Literal

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from .heads import head_labels, head_mask, parse_head
from .hooks import hook_name
from .metrics import icl_score, per_token_losses

__all__ = [
    "clean_losses",
    "single_head_masks",
    "ablate_heads",
    "single_head_ablations",
    "naive_single_head_ablations",
    "delta_icl",
    "before_and_after_attribution",
    "ABLATION_METHODS",
    "mean_head_outputs",
    "matched_control_sets",
]

AblationMethod = Literal["zero", "mean", "resample"]
ABLATION_METHODS: tuple[str, ...] = ("zero", "mean", "resample")


@torch.no_grad()
def clean_losses(bridge, tokens: Int[Tensor, "batch seq"], max_sequences: int = 128) -> Float[Tensor, "batch pos"]:
    """Per-token losses of the unablated model."""
    return torch.cat([per_token_losses(bridge(t), t) for t in tokens.split(max_sequences)])


def single_head_masks(n_layers: int, n_heads: int) -> Bool[Tensor, "ablation layer head"]:
    """One mask per head, layer-major: ablation ``i`` zeroes head ``divmod(i, n_heads)``."""
    return torch.eye(n_layers * n_heads, dtype=torch.bool).view(-1, n_layers, n_heads)


def _as_masks(bridge, ablations) -> Bool[Tensor, "ablation layer head"]:
    L, H = bridge.cfg.n_layers, bridge.cfg.n_heads
    if isinstance(ablations, Tensor):
        masks = ablations.bool()
        masks = masks[None] if masks.dim() == 2 else masks
        if masks.shape[1:] != (L, H):
            raise ValueError(f"ablation masks must be [n, {L}, {H}], got {tuple(ablations.shape)}")
        return masks
    return torch.stack([head_mask(heads, L, H) for heads in ablations])


def _replace_heads_hooks(bridge, keep: Tensor, fill: list[Tensor] | None = None) -> list:
    """``hook_z`` hooks that, in batch copy ``i``, replace the heads where ``keep[i]`` is 0 by
    ``fill[layer]`` (broadcast to ``[batch, pos, head, d_head]``; zero when ``fill`` is None)."""
    k = keep.shape[0]

    def replace(layer: int):
        def hook(z: Tensor, hook) -> Tensor:
            n, p, h, d = z.shape
            kept = keep[:, None, None, layer, :, None]
            out = z.view(k, n // k, p, h, d) * kept
            if fill is not None:
                out = out + (1 - kept) * fill[layer][None, :, :p].to(z)
            return out.view(n, p, h, d)

        return hook

    return [(hook_name("z", layer), replace(layer)) for layer in range(bridge.cfg.n_layers)]


def _frozen_pattern_logits(
    bridge,
    resid_pre: list[Tensor],
    patterns: list[Tensor],
    keep: Float[Tensor, "k layer head"],
    gather: Int[Tensor, "k_batch n_pos"] | None = None,
    fill: list[Tensor] | None = None,
) -> Float[Tensor, "k_batch pos vocab"]:
    """Logits of ``k`` pattern-preserving ablations at once, from the clean run's cache.

    With every pattern frozen, a layer's attention is ``pattern @ v``: only the value path
    depends on the (ablated) residual stream, so queries, keys, rotary and softmax are skipped.
    Layers below the first ablated one are unchanged and start from their cached residual.
    With ``gather``, only those positions are unembedded (the unembedding dominates the cost
    when only a few positions' losses are needed). With ``fill``, an ablated head's output is
    ``fill[layer]`` (broadcast to ``[batch, pos, head, d_head]``) instead of zero.
    """
    k = keep.shape[0]
    ablated_layers = (keep < 1).any(-1).any(0).nonzero()
    first = int(ablated_layers.min()) if len(ablated_layers) else len(patterns) - 1
    resid = resid_pre[first].repeat(k, 1, 1)  # [k * batch, pos, d_model]
    for layer in range(first, len(patterns)):
        block = bridge.blocks[layer]
        v = torch.einsum("npd,hde->nphe", block.ln1(resid), bridge.W_V[layer]) + bridge.b_V[layer]
        v = v.view(k, -1, *v.shape[1:])  # [k, batch, pos, head, d_head]
        kept = keep[:, None, None, layer, :, None]
        z = torch.einsum("bhqs,kbshe->kbqhe", patterns[layer], v) * kept
        if fill is not None:
            z = z + (1 - kept) * fill[layer][None, :, : z.shape[2]]
        resid = resid + torch.einsum("nqhe,hed->nqd", z.flatten(0, 1), bridge.W_O[layer]) + bridge.b_O[layer]
        if not bridge.cfg.attn_only:
            resid = resid + block.mlp(block.ln2(resid))
    if gather is not None:
        resid = resid.gather(1, gather[..., None].expand(-1, -1, resid.shape[-1]))
    return bridge.unembed(bridge.ln_final(resid))


@torch.no_grad()
def ablate_heads(
    bridge,
    tokens: Int[Tensor, "batch seq"],
    ablations: Bool[Tensor, "ablation layer head"] | Iterable[Iterable[str | tuple[int, int]]],
    preserve_patterns: bool = True,
    max_sequences: int = 128,
    positions: Int[Tensor, "batch n_pos"] | None = None,
    method: str = "zero",
) -> Float[Tensor, "ablation batch pos"]:
    """Per-token losses with each *set* of heads ablated (paper §Methods (2)).

    Args:
        bridge: a native ``TransformerBridge`` (e.g. ``induction_heads.engine.model.to_bridge``).
        tokens: the evaluation batch.
        ablations: boolean masks ``[n, layer, head]`` (True = zero that head), or a list of
            head sets such as ``[["1.0"], ["1.0", "1.2"], []]``.
        preserve_patterns: True for pattern-preserving ablation (every attention pattern frozen
            to the clean run), False for full ablation.
        max_sequences: most sequences per forward pass (the batch is repeated once per
            ablation, so this bounds memory: about ``2 * max_sequences * seq * vocab`` floats).
        positions: if given, only the losses at these positions of each sequence are
            returned (``[ablation, batch, n_pos]``; position ``i`` predicts token ``i + 1``), which
            makes pattern-preserving ablations several times cheaper.
        method: what replaces an ablated head's output (``hook_z``): ``"zero"`` (the paper's),
            ``"mean"`` (its mean over the sequences of ``tokens`` at the same position,
            :func:`mean_head_outputs`) or ``"resample"`` (its clean output on another sequence at the
            same position: sequence ``i`` takes sequence ``i - 1``'s within each chunk of
            ``max_sequences``, a fixed derangement, so no random draw enters). Mean and resample are
            a referee's controls for zero ablation, which can push the residual stream where the
            model has never seen it.

    Pattern-preserving ablations run from the clean run's cached residual streams and
    patterns through the value path only (``_frozen_pattern_logits``); full ablations run the
    whole model with ``hook_z`` hooks. Both equal one hooked forward pass per ablation
    (:func:`naive_single_head_ablations`, the reference the tests compare against).
    """
    if method not in ABLATION_METHODS:
        raise ValueError(f"unknown ablation method {method!r}; choose one of: {', '.join(ABLATION_METHODS)}")
    if method == "resample" and tokens.shape[0] < 2:
        raise ValueError("resample ablation needs at least two sequences")
    masks = _as_masks(bridge, ablations)
    n_abl, (batch, seq) = masks.shape[0], tokens.shape
    L = bridge.cfg.n_layers
    means = mean_head_outputs(bridge, tokens, max_sequences) if method == "mean" else None
    out = torch.empty(n_abl, batch, seq - 1 if positions is None else positions.shape[1])
    for start in range(0, batch, max_sequences):
        toks = tokens[start : start + max_sequences]
        b = toks.shape[0]
        suffixes = (("attn.hook_pattern", "hook_resid_pre") if preserve_patterns else ()) + (
            ("attn.hook_z",) if method == "resample" else ())
        cache = bridge.run_with_cache(toks, names_filter=lambda n: n.endswith(suffixes))[1] if suffixes else None
        frozen = None
        if preserve_patterns:
            frozen = ([cache[hook_name("resid_pre", layer)] for layer in range(L)],
                      [cache[hook_name("pattern", layer)] for layer in range(L)])
        fill = (None if method == "zero" else [m[None] for m in means] if method == "mean"
                else [cache[hook_name("z", layer)].roll(1, dims=0) for layer in range(L)])
        per_pass = max(1, max_sequences // b)
        for a in range(0, n_abl, per_pass):
            keep = (~masks[a : a + per_pass]).to(torch.float32)
            k = keep.shape[0]
            rep = toks.repeat(k, 1)
            pos = None if positions is None else positions[start : start + b].long().repeat(k, 1)
            out[a : a + k, start : start + b] = _ablated_losses(bridge, rep, keep, frozen, pos, fill).view(k, b, -1)
    return out


def _ablated_losses(bridge, rep: Tensor, keep: Tensor, frozen: tuple | None, pos: Tensor | None,
                    fill: list[Tensor] | None = None) -> Tensor:
    """Per-token losses of ``rep`` (the batch repeated once per ablation) with the heads where
    ``keep`` is 0 replaced by ``fill`` (zeroed when None): from the clean run's ``frozen``
    (residual streams, patterns) when patterns are preserved, else by a hooked forward pass; at
    positions ``pos`` if given."""
    if frozen is not None and pos is not None:
        logits = _frozen_pattern_logits(bridge, *frozen, keep, gather=pos, fill=fill)
        return torch.nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), rep.gather(1, pos + 1).flatten(), reduction="none"
        ).view(pos.shape)
    logits = (
        _frozen_pattern_logits(bridge, *frozen, keep, fill=fill)
        if frozen is not None
        else bridge.run_with_hooks(rep, fwd_hooks=_replace_heads_hooks(bridge, keep, fill))
    )
    losses = per_token_losses(logits, rep)
    return losses if pos is None else losses.gather(1, pos)


@torch.no_grad()
def naive_single_head_ablations(
    bridge, tokens: Int[Tensor, "batch seq"], preserve_patterns: bool = True
) -> Float[Tensor, "layer head batch pos"]:
    """The reference implementation: one hooked forward pass per head, zeroing its ``hook_z``
    and (if ``preserve_patterns``) writing the clean pattern into every layer's
    ``hook_pattern``. Slow; kept for tests and ``benchmarks/ablation_speed.py``."""
    L, H = bridge.cfg.n_layers, bridge.cfg.n_heads
    _, cache = bridge.run_with_cache(tokens, names_filter=lambda n: n.endswith("attn.hook_pattern"))
    freeze = [
        (hook_name("pattern", layer), lambda p, hook, c=cache[hook_name("pattern", layer)]: c)
        for layer in range(L)
    ]
    out = torch.empty(L, H, tokens.shape[0], tokens.shape[1] - 1)
    for layer in range(L):
        for head in range(H):

            def zero(z: Tensor, hook, head: int = head) -> Tensor:
                z = z.clone()
                z[:, :, head] = 0
                return z

            hooks = [(hook_name("z", layer), zero)] + (freeze if preserve_patterns else [])
            out[layer, head] = per_token_losses(bridge.run_with_hooks(tokens, fwd_hooks=hooks), tokens)
    return out


def single_head_ablations(
    bridge,
    tokens: Int[Tensor, "batch seq"],
    preserve_patterns: bool = True,
    max_sequences: int = 128,
    positions: Int[Tensor, "batch n_pos"] | None = None,
) -> Float[Tensor, "layer head batch pos"]:
    """Per-token losses with every head ablated on its own (pattern-preserving by default, as
    in the paper's ablation rows), batched as in :func:`ablate_heads` (``positions`` too)."""
    L, H = bridge.cfg.n_layers, bridge.cfg.n_heads
    losses = ablate_heads(bridge, tokens, single_head_masks(L, H), preserve_patterns, max_sequences, positions)
    return losses.view(L, H, *losses.shape[1:])


def delta_icl(
    ablated: Float[Tensor, "... batch pos"], clean: Float[Tensor, "batch pos"], **icl_kwargs
) -> Float[Tensor, "..."]:
    """ΔICL = ICL(ablated) - ICL(clean), with :func:`icl_score` on the mean loss
    by position. ICL is negative, so a head that carries in-context learning gives ΔICL > 0."""
    return icl_score(ablated.mean(-2), **icl_kwargs) - icl_score(clean.mean(-2), **icl_kwargs)


def before_and_after_attribution(
    ablated: Float[Tensor, "... example"],
    clean: Float[Tensor, "example"],
    before: Float[Tensor, "example"],
    after: Float[Tensor, "example"],
) -> Float[Tensor, "..."]:
    """Projection of the ablation's per-token-loss change onto the phase change (paper
    §Analyses).

    All four are per-token-loss vectors (one fixed random token per example, see
    :func:`induction_heads.measure.phase.per_token_loss_vector`): ``before``/``after`` are the model's
    at the start and the end of the phase-change window, ``clean``/``ablated`` the snapshot's
    without and with the ablation. Returns ``(ablated - clean) . u`` with ``u`` the unit vector
    along ``after - before``. Negative means the ablation looks like undoing the phase change
    (loss moves back towards "before"), which is what induction heads show.
    """
    u = after - before
    u = u / u.norm().clamp_min(1e-12)
    return ((ablated - clean) * u).sum(-1)


@torch.no_grad()
def mean_head_outputs(bridge, tokens: Int[Tensor, "batch seq"], max_sequences: int = 128) -> list[Tensor]:
    """Every layer's head outputs (``hook_z``) averaged over the sequences of ``tokens``, position by
    position: ``[pos, head, d_head]`` per layer (what mean ablation puts in an ablated head's place)."""
    L = bridge.cfg.n_layers
    total, n = [0.0] * L, 0
    for toks in tokens.split(max_sequences):
        _, cache = bridge.run_with_cache(toks, names_filter=lambda name: name.endswith("attn.hook_z"))
        total = [t + cache[hook_name("z", layer)].double().sum(0) for layer, t in enumerate(total)]
        n += toks.shape[0]
    return [(t / n).float() for t in total]


def matched_control_sets(
    heads: Iterable[str | tuple[int, int]], n_layers: int, n_heads: int, n_draws: int = 20, seed: int = 0,
) -> list[list[str]]:
    """Sets of heads to ablate as a control for ``heads``: as many heads that are *not* in
    ``heads``, from the same layers (for each layer, as many as ``heads`` has there). Every such
    set when there are at most ``n_draws``; otherwise ``n_draws`` distinct ones drawn with
    ``seed``. Empty when some layer has too few other heads (no matched control exists)."""
    chosen = sorted({parse_head(h) for h in heads})
    per_layer = {layer: sum(1 for l, _ in chosen if l == layer) for layer in {l for l, _ in chosen}}
    options = []
    for layer, k in sorted(per_layer.items()):
        others = [(layer, h) for h in range(n_heads) if (layer, h) not in chosen]
        if len(others) < k:
            return []
        options.append(list(itertools.combinations(others, k)))
    every = [sorted(h for part in combo for h in part) for combo in itertools.product(*options)]
    if len(every) > n_draws:
        pick = torch.randperm(len(every), generator=torch.Generator().manual_seed(seed))[:n_draws]
        every = [every[i] for i in sorted(pick.tolist())]
    labels = head_labels(n_layers, n_heads)
    return [[labels[layer * n_heads + h] for layer, h in s] for s in every]
