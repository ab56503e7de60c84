"""Why a model's induction heads copy weakly: four measurements of the repeat test's copies.

The repeat test (:mod:`induction_heads.measure.repeats`) says *how often* a model completes
repeated random tokens; these say *why not more often*:

- **what wins when the copy fails** (:func:`copy_misses`): for every scored prediction of copies
  2.. whose top-1 is not the copied token, the class of the token that won
  (:data:`MISS_CLASSES`) and the logit gap between it and the copied token, split by path
  (the direct path from the embedding, each head's direct output, the MLPs, the biases; the
  split of :func:`induction_heads.measure.attribution.direct_path_attribution`);
- **copying by frequency** (:func:`frequency_bins`, :func:`top1_by_bin`): top-1 on the copies by
  the training count of the token to copy, in quantile bins, with bootstrap intervals;
- **the OV map over the whole vocabulary** (:func:`full_ov_circuit`, :func:`ov_map`): for
  each source token, is its own unembedding the largest logit the heads' full OV circuit
  ``W_E W_V W_O W_U`` writes, and by what margin over the runner-up (ARENA's "top-1 of the
  full OV circuit");
- **gain against specificity** (:func:`top1_under_head_gain`, :func:`gain_reading`): scale the
  induction heads' outputs by ``k`` and read the repeat test's top-1 at each ``k``. A model whose
  heads copy the right token but too weakly climbs towards 1 as ``k`` grows; one whose heads write
  the wrong mixture of tokens levels off below.

Everything takes a ``TransformerBridge`` (or :class:`~induction_heads.measure.circuits.CircuitWeights`),
tokens, counts and token ids as arguments; nothing reads the run store. The hand-built circuit
(:mod:`induction_heads.measure.handbuilt`) is every function's known answer: it copies
perfectly, its full OV circuit is ``G * I``.

Conventions: ``out[:, p]`` predicts token ``p + 1`` (the book's); the scored predictions are those
of :func:`induction_heads.measure.repeats.copy_positions` for copies 1.. (the book's "copies
2-4"), so the top-1 here at ``k = 1`` is the recorder's ``repeat_top1`` on copies 2-4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor

from .attribution import direct_path_attribution
from .circuits import CircuitWeights
from .heads import parse_head
from .hooks import hook_name
from .intervals import Interval, bootstrap
from .repeats import copy_positions, repeat_scores

__all__ = [
    "MISS_CLASSES",
    "FREQUENT_SHARE",
    "GAIN_KS",
    "GAIN_REACHED",
    "GAIN_FLAT",
    "most_frequent_successor",
    "frequent_tokens",
    "scored_positions",
    "head_gain_logits",
    "top1_under_head_gain",
    "GainReading",
    "gain_reading",
    "CopyMisses",
    "copy_misses",
    "frequency_bins",
    "top1_by_bin",
    "full_ov_circuit",
    "OVMap",
    "ov_map",
]

# The classes of a miss's winning token, in the order they are tested (the first that fits).
MISS_CLASSES: tuple[str, ...] = ("successor", "in sequence", "frequent", "other")
# "Frequent": the most frequent 5% of the vocabulary by training count, the share that
# :func:`induction_heads.engine.tokenizer.random_token_pool` leaves out of the repeat test's pool.
FREQUENT_SHARE = 0.05
# The gains the induction heads' outputs are scaled by (the issue's "0 to 5").
GAIN_KS: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0)
# A gain curve that reaches this top-1 is gain-limited (the public models' completion).
GAIN_REACHED = 0.9
# A gain curve below GAIN_REACHED "levels off" when its last step rises less than this per unit of k.
GAIN_FLAT = 0.02


# ------------------------------------------------------------------ corpus statistics

def most_frequent_successor(stream: np.ndarray | Tensor, vocab: int) -> Int[Tensor, "vocab"]:
    """For every token ``a``, the token ``b`` that most often follows it in ``stream`` (the
    corpus's bigram argmax; ties go to the smaller id), or ``-1`` for a token never followed.

    What we chose: the stream is the training split as the trainer reads it, documents joined
    by the BOS/EOS separator, so the separator is a token like any other (``a -> BOS`` at a
    document's end counts). Counted once with a ``bincount`` over ``a * vocab + b``."""
    s = np.asarray(stream).astype(np.int64)
    if s.size and (s.min() < 0 or s.max() >= vocab):
        raise ValueError(f"stream holds token ids outside 0..{vocab - 1}")
    counts = np.bincount(s[:-1] * vocab + s[1:], minlength=vocab * vocab).reshape(vocab, vocab)
    best = counts.argmax(1)
    best[counts.max(1) == 0] = -1
    return torch.from_numpy(best)


def frequent_tokens(counts: Int[Tensor, "vocab"], share: float = FREQUENT_SHARE) -> Bool[Tensor, "vocab"]:
    """True on the ``int(vocab * share)`` most frequent tokens by ``counts`` (stable order: ties
    go to the smaller id), the tokens :func:`~induction_heads.engine.tokenizer.random_token_pool`
    drops as "most common"."""
    order = torch.argsort(counts, descending=True, stable=True)
    mask = torch.zeros(counts.numel(), dtype=torch.bool)
    mask[order[: int(counts.numel() * share)]] = True
    return mask


def scored_positions(length: int, copies: int) -> Int[Tensor, "copy_after_first scored"]:
    """The scored prediction positions of copies 1.. (the book's copies 2-4): rows of
    :func:`~induction_heads.measure.repeats.copy_positions` after the first showing."""
    return copy_positions(length, copies)[1:]


# ------------------------------------------------------------------ gain against specificity

def _gain_hooks(heads: Iterable[str | tuple[int, int]], k: float) -> list:
    by_layer: dict[int, list[int]] = {}
    for head in heads:
        layer, h = parse_head(head)
        by_layer.setdefault(layer, []).append(h)

    def scale(hs: list[int]):
        idx = torch.tensor(hs)

        def hook(z: Tensor, hook) -> Tensor:  # [batch, pos, head, d_head]
            z = z.clone()
            z[:, :, idx] = z[:, :, idx] * k
            return z

        return hook

    return [(hook_name("z", layer), scale(hs)) for layer, hs in sorted(by_layer.items())]


@torch.no_grad()
def head_gain_logits(
    bridge, tokens: Int[Tensor, "batch seq"], heads: Sequence[str | tuple[int, int]], k: float, batch_size: int = 64
) -> Float[Tensor, "batch seq vocab"]:
    """The logits with the outputs of ``heads`` scaled by ``k``: each head's ``hook_z`` (its
    attention-weighted values, whose image under ``W_O`` is the head's output) times ``k``.

    What we chose: the whole output is scaled, so in deeper models it also reaches later layers
    scaled (the intervention "a head that writes ``k`` times as strongly"), not only the logits;
    ``b_O`` (shared by a layer's heads) is not scaled. With no heads this is the plain forward."""
    hooks = _gain_hooks(heads, k)
    run = (lambda t: bridge.run_with_hooks(t, fwd_hooks=hooks)) if hooks else bridge
    return torch.cat([run(tokens[i : i + batch_size]) for i in range(0, len(tokens), batch_size)])


@torch.no_grad()
def top1_under_head_gain(
    bridge, tokens: Int[Tensor, "batch seq"], length: int, heads: Sequence[str | tuple[int, int]],
    ks: Sequence[float] = GAIN_KS,
) -> Float[Tensor, "k batch"]:
    """Top-1 accuracy on copies 2.. of each sequence of the repeat test (BOS + copies of
    ``length`` tokens) with the outputs of ``heads`` scaled by each ``k`` of ``ks``
    (:func:`head_gain_logits`); the top-1 is :func:`~induction_heads.measure.repeats.repeat_scores`'s,
    so ``k = 1`` gives the recorder's per-sequence ``repeat_top1`` on copies 2-4."""
    rows = []
    for k in ks:
        logits = head_gain_logits(bridge, tokens, heads, float(k))
        rows.append(repeat_scores(logits, tokens, length, by_sequence=True)["top1"][:, 1:].mean(-1))
    return torch.stack(rows)


@dataclass(frozen=True)
class GainReading:
    """A gain curve read: ``limit`` is ``"gain"`` (top-1 reaches :data:`GAIN_REACHED` at some
    ``k``: the heads copy the right token, too weakly), ``"specificity"`` (it levels off below:
    more of the same output does not make the copied token win) or ``"undecided"`` (still rising
    at the largest ``k``); ``level`` is the curve's largest top-1, reached at ``k_best``;
    ``k_reached`` the first ``k`` at or above :data:`GAIN_REACHED` (None if never); ``last_slope``
    the rise per unit of ``k`` over the curve's last step."""

    limit: str
    level: float
    k_best: float
    k_reached: float | None
    last_slope: float


def gain_reading(
    ks: Sequence[float], top1: Float[Tensor, "k"], reached: float = GAIN_REACHED, flat: float = GAIN_FLAT
) -> GainReading:
    """Read a gain curve (mean top-1 at each ``k``, ``ks`` ascending). Gain-limited when it reaches
    ``reached``; specificity-limited when it stays below and its last step rises less than
    ``flat`` per unit of ``k`` (a curve that peaks and falls back counts as levelled off, at its
    peak); otherwise undecided."""
    ks_t = torch.as_tensor(list(ks), dtype=torch.float64)
    y = torch.as_tensor(top1, dtype=torch.float64)
    if len(ks_t) != len(y) or len(y) < 2 or not bool((ks_t[1:] > ks_t[:-1]).all()):
        raise ValueError("a gain curve needs at least two ascending gains and one top-1 per gain")
    best = int(y.argmax())
    slope = float((y[-1] - y[-2]) / (ks_t[-1] - ks_t[-2]))
    hit = (y >= reached).nonzero()
    k_reached = float(ks_t[int(hit[0])]) if len(hit) else None
    limit = "gain" if k_reached is not None else "specificity" if slope < flat else "undecided"
    return GainReading(limit, float(y[best]), float(ks_t[best]), k_reached, slope)


# ------------------------------------------------------------------ what wins when the copy fails

@dataclass(frozen=True)
class CopyMisses:
    """Every scored prediction of copies 2.. of the repeat test, and its winner where it missed.

    Per scored prediction (``[batch, n]``, the positions of :func:`scored_positions` flattened):
    ``correct``, ``target`` (the token to copy) and ``current`` (the token it is predicted from).
    Per miss (``[n_miss]``, in batch-major order): ``sequence`` (its row), ``winner`` (the top-1
    token), ``winner_class`` (an index into :data:`MISS_CLASSES`), ``offset`` (for a winner from
    the sequence, its place in the copy minus the target's: ``-1`` is the current token itself;
    ``0`` for a winner not from the sequence), ``gap`` (the model's logit of the winner minus the
    target's, > 0) and its parts by path (``gap_embed``, ``gap_heads [layer, head, n_miss]``,
    ``gap_mlp``, ``gap_bias``; they add up to ``gap``): a positive part favours the winner, a
    negative one the copied token."""

    correct: Bool[Tensor, "batch n"]
    target: Int[Tensor, "batch n"]
    current: Int[Tensor, "batch n"]
    sequence: Int[Tensor, "n_miss"]
    winner: Int[Tensor, "n_miss"]
    winner_class: Int[Tensor, "n_miss"]
    offset: Int[Tensor, "n_miss"]
    gap: Float[Tensor, "n_miss"]
    gap_embed: Float[Tensor, "n_miss"]
    gap_heads: Float[Tensor, "layer head n_miss"]
    gap_mlp: Float[Tensor, "n_miss"]
    gap_bias: Float[Tensor, "n_miss"]

    @property
    def n_sequences(self) -> int:
        return self.correct.shape[0]

    def class_counts(self) -> Int[Tensor, "batch klass"]:
        """Misses of each class in each sequence (the samples a bootstrap resamples)."""
        out = torch.zeros(self.n_sequences, len(MISS_CLASSES), dtype=torch.long)
        out.index_put_((self.sequence, self.winner_class), torch.ones_like(self.sequence), accumulate=True)
        return out

    def class_shares(self) -> dict[str, Interval]:
        """Each class's share of the misses, with its 95% bootstrap interval over sequences
        (the ratio's numerator and denominator resampled together). NaN without misses."""
        counts = self.class_counts().double()
        if counts.sum() == 0:
            nan = Interval(float("nan"), float("nan"), float("nan"))
            return {c: nan for c in MISS_CLASSES}
        return {c: bootstrap(counts, lambda x, i=i: x[:, i].sum() / x.sum().clamp_min(1))
                for i, c in enumerate(MISS_CLASSES)}

    def mean_gap_parts(self, klass: str | None = None) -> dict[str, float]:
        """The mean gap and its parts over the misses of ``klass`` (all misses when None):
        ``{"gap", "embed", "mlp", "bias", "<layer>.<head>" ...}``; NaN where there is none."""
        sel = torch.ones_like(self.gap, dtype=torch.bool) if klass is None else \
            self.winner_class == MISS_CLASSES.index(klass)
        mean = (lambda x: float(x[..., sel].mean())) if bool(sel.any()) else (lambda x: float("nan"))
        out = {"gap": mean(self.gap), "embed": mean(self.gap_embed), "mlp": mean(self.gap_mlp),
               "bias": mean(self.gap_bias)}
        L, H = self.gap_heads.shape[:2]
        out.update({f"{layer}.{h}": mean(self.gap_heads[layer, h]) for layer in range(L) for h in range(H)})
        return out


def _classify_winners(
    tokens: Tensor, seq: Tensor, pos: Tensor, winner: Tensor, successor: Tensor | None,
    frequent: Tensor | None, length: int,
) -> tuple[Tensor, Tensor]:
    current = tokens[seq, pos]
    is_successor = torch.zeros_like(winner, dtype=torch.bool) if successor is None else \
        successor.long()[current] == winner
    first_copy = tokens[seq, 1 : 1 + length]  # [n_miss, length]
    in_copy = first_copy == winner[:, None]
    in_sequence = in_copy.any(1)
    target_place = pos % length  # token p + 1 sits at place (p + 1 - 1) % length of its copy
    offset = torch.where(in_sequence, in_copy.long().argmax(1) - target_place, torch.zeros_like(winner))
    is_frequent = torch.zeros_like(in_sequence) if frequent is None else frequent[winner]
    klass = torch.full_like(winner, MISS_CLASSES.index("other"))
    for name, mask in reversed(list(zip(MISS_CLASSES[:3], (is_successor, in_sequence, is_frequent)))):
        klass = torch.where(mask, MISS_CLASSES.index(name), klass)
    return klass, offset


@torch.no_grad()
def copy_misses(
    bridge, tokens: Int[Tensor, "batch seq"], length: int,
    successor: Int[Tensor, "vocab"] | None = None, frequent: Bool[Tensor, "vocab"] | None = None,
) -> CopyMisses:
    """Classify the winner of every missed prediction of copies 2.. of the repeat test (BOS +
    copies of ``length`` distinct tokens) and split its logit gap over the copied token by path.

    The classes, tested in the order of :data:`MISS_CLASSES` (the first that fits wins):
    ``"successor"``, the corpus's most frequent successor of the current token (``successor``,
    :func:`most_frequent_successor`; a bigram statistic beating the copy); ``"in sequence"``,
    another token of the random sequence (a copy from the wrong place; see ``offset``);
    ``"frequent"``, a token of ``frequent`` (:func:`frequent_tokens`); ``"other"``. Without
    ``successor`` or ``frequent`` those classes are empty. The gap's parts are
    :func:`~induction_heads.measure.attribution.direct_path_attribution` of the winner minus that
    of the target (the centring cancels in the difference)."""
    copies = (tokens.shape[1] - 1) // length
    if copies * length + 1 != tokens.shape[1] or copies < 2:
        raise ValueError(f"{tokens.shape[1]} tokens are not BOS + at least two whole copies of {length}")
    idx = scored_positions(length, copies).flatten()  # prediction positions
    nxt = torch.cat([tokens[:, 1:], tokens[:, -1:]], 1).long()  # next token at every position
    paths_t = direct_path_attribution(bridge, tokens, nxt)
    logits = bridge(tokens)
    winner_all = F.log_softmax(logits.float(), -1).argmax(-1)  # the top-1 of repeat_scores
    correct = winner_all[:, idx] == nxt[:, idx]
    seq, j = (~correct).nonzero(as_tuple=True)
    pos = idx[j]
    winner = winner_all[seq, pos]
    paths_w = direct_path_attribution(bridge, tokens, winner_all)
    klass, offset = _classify_winners(tokens.long(), seq, pos, winner, successor, frequent, length)
    d = lambda a, b: (a - b)[..., seq, pos]  # noqa: E731
    return CopyMisses(
        correct=correct, target=nxt[:, idx], current=tokens[:, idx].long(), sequence=seq, winner=winner,
        winner_class=klass, offset=offset, gap=d(paths_w.logit, paths_t.logit),
        gap_embed=d(paths_w.embed, paths_t.embed), gap_heads=d(paths_w.heads, paths_t.heads),
        gap_mlp=d(paths_w.mlp, paths_t.mlp), gap_bias=d(paths_w.bias, paths_t.bias))


# ------------------------------------------------------------------ copying by frequency

def frequency_bins(counts: Float[Tensor, "n"], n_bins: int = 4) -> Float[Tensor, "n_bins_plus_1"]:
    """Quantile bin edges of ``counts`` (the training counts of the tokens the repeat test draws:
    its pool), so each bin holds about as many pool tokens: ``edges[0]`` is the smallest count,
    ``edges[-1]`` the largest. A count ``c`` falls in bin ``i`` when ``edges[i] <= c < edges[i+1]``
    (the last bin includes its upper edge; see :func:`top1_by_bin`)."""
    q = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    return torch.quantile(counts.double(), q)


def _bin_of(counts: Tensor, edges: Tensor) -> Tensor:
    inner = edges[1:-1].contiguous()
    return torch.bucketize(counts.double().contiguous(), inner, right=True)


def top1_by_bin(
    correct: Bool[Tensor, "batch n"], target_counts: Float[Tensor, "batch n"], edges: Float[Tensor, "n_bins_plus_1"]
) -> list[Interval]:
    """Top-1 on the scored predictions whose target's training count falls in each bin of
    ``edges`` (:func:`frequency_bins`; counts below the first edge go to the first bin, above the
    last to the last), with its 95% bootstrap interval over sequences (each sequence's hits and
    scored predictions in the bin resampled together). NaN for an empty bin."""
    bins = _bin_of(target_counts, edges)
    out = []
    for i in range(len(edges) - 1):
        in_bin = (bins == i).double()
        hits, n = (correct.double() * in_bin).sum(1), in_bin.sum(1)
        if n.sum() == 0:
            out.append(Interval(float("nan"), float("nan"), float("nan")))
            continue
        out.append(bootstrap((hits, n), lambda h, m: h.sum() / m.sum().clamp_min(1)))
    return out


# ------------------------------------------------------------------ the OV map over the vocabulary

def full_ov_circuit(weights: CircuitWeights, heads: Sequence[str | tuple[int, int]]) -> Float[Tensor, "src out"]:
    """The full OV circuit ``W_E (sum_h W_V^h W_O^h) W_U`` of ``heads`` summed (one head: its
    own), ``[source token, output logit]``: row ``s`` is the logits the heads write when they
    attend to token ``s`` alone (as read from the embedding). LayerNorm as
    :class:`~induction_heads.measure.circuits.CircuitWeights` folds it (centring and weights; the
    per-position ``1/std`` and the biases left out), in float64.

    What it does not see: anything between the embedding and the head, or between the head and
    the unembedding. That is the whole path in a two-layer attention-only model (up to the
    layer-0 heads' outputs, which the head also reads); in a model with MLPs the head reads a
    residual stream the MLPs have rewritten and its output passes later MLPs, so this map says
    little there (``mlp-6l``'s layer-4 induction heads rank their own token first for about 10%
    of the vocabulary while the model completes repeats better than any attention-only model)."""
    if not heads:
        raise ValueError("no heads given")
    ov = sum(weights.W_V[l, h].double() @ weights.W_O[l, h].double() for l, h in map(parse_head, heads))
    return weights.W_E.double() @ ov @ weights.W_U.double()


@dataclass(frozen=True)
class OVMap:
    """What a full OV circuit writes for each source token (the rows of :func:`full_ov_circuit`).

    ``own_top`` is True where the token's own logit is the largest of its row, ``rank`` is the
    own logit's rank in the row (0 = largest), ``margin`` its logit minus the largest other
    logit of the row (> 0 where ``own_top``), ``relative_margin`` that margin divided by the
    row's standard deviation (free of the per-token scale that LayerNorm would set: the
    embedding's and the final norm's ``1/std``, which :func:`full_ov_circuit` leaves out)."""

    tokens: Int[Tensor, "n"]
    own_top: Bool[Tensor, "n"]
    rank: Int[Tensor, "n"]
    margin: Float[Tensor, "n"]
    relative_margin: Float[Tensor, "n"]

    @property
    def own_share(self) -> float:
        """The share of tokens whose own logit is the largest the circuit writes for them."""
        return float(self.own_top.double().mean())

    def median_margin(self, relative: bool = False) -> float:
        return float((self.relative_margin if relative else self.margin).median())


def ov_map(circuit: Float[Tensor, "src out"], tokens: Int[Tensor, "n"] | None = None) -> OVMap:
    """:class:`OVMap` of a full OV circuit (:func:`full_ov_circuit`) on the source tokens
    ``tokens`` (all of the vocabulary by default); every row's competitors are the whole
    vocabulary. Ties for the largest logit count as not own-top."""
    src = torch.arange(circuit.shape[0]) if tokens is None else torch.as_tensor(tokens).long()
    rows = circuit[src].double()
    own = rows.gather(1, src[:, None]).squeeze(1)
    others = rows.scatter(1, src[:, None], float("-inf"))
    margin = own - others.max(1).values
    rank = (rows > own[:, None]).sum(1)
    return OVMap(src, margin > 0, rank, margin.float(), (margin / rows.std(1, unbiased=False)).float())
