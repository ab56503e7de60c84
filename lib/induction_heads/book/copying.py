"""Why our induction heads copy weakly, read on the runs: the copying diagnostics of
:mod:`induction_heads.measure.copying` on a run's final checkpoint (:func:`copying_diagnostics`)
and on the hand-built circuit, the ceiling every reading is drawn against
(:func:`handbuilt_diagnostics`), and the recipe's facts a reader should know
(:func:`recipe_facts`: passes over the training split; :func:`loss_curves` and
:func:`split_losses`: does a run memorise its split?).

Inputs the book fixes: the repeat test's sequences are the recorder's (BOS + 30 distinct tokens of
:func:`~induction_heads.engine.tokenizer.random_token_pool` x 4, the first ``n_sequences`` of its
seed-0 draw; 20 = the recorder's own, so the top-1 at ``k = 1`` is the run's stored
``repeat_top1`` on copies 2-4), and the induction heads are the book's one selection
(:func:`induction_heads.book.argument4.bridge_and_heads`: the recorder's last snapshot,
:func:`induction_heads.measure.heads.induction_heads`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..engine.config import get_size
from ..engine.dataset import train_stream
from ..engine.runs import load_eval_set, load_token_counts, size_dir
from ..engine.store import atomic_save_tensors, read_tensors
from ..engine.tokenizer import random_token_pool
from ..engine.zoo import Run
from ..measure import handbuilt
from ..measure.circuits import CircuitWeights
from ..measure.copying import (GAIN_KS, CopyMisses, GainReading, copy_misses, frequency_bins, frequent_tokens,
                               full_ov_circuit, gain_reading, most_frequent_successor, ov_map, top1_by_bin,
                               top1_under_head_gain)
from ..measure.intervals import Interval, bootstrap, bootstrap_ci
from ..measure.metrics import per_token_losses
from ..measure.repeats import repeated_sequences
from .argument4 import bridge_and_heads
from .argument1 import COPYING_REACHED

__all__ = [
    "REPEAT_LENGTH",
    "N_SEQUENCES",
    "N_FREQUENCY_BINS",
    "OVSummary",
    "CopyingDiagnostics",
    "diagnose",
    "copying_diagnostics",
    "handbuilt_diagnostics",
    "stored_repeat_top1",
    "train_split_tokens",
    "RecipeFacts",
    "recipe_facts",
    "LossCurves",
    "loss_curves",
    "SplitLosses",
    "train_windows",
    "split_losses",
    "TRAIN_SAMPLE_FILE",
    "TrainSample",
    "train_sample",
    "write_train_sample",
    "EXPERIMENTS",
    "DIAGNOSED",
    "ExperimentOutcome",
    "experiment_outcome",
    "gain_closes",
    "experiment_question",
    "clamped_comparison",
    "experiments_text",
    "gap_by_path",
    "copying_finding",
]

TRAIN_SAMPLE_FILE = "train_sample.safetensors"
N_TRAIN_WINDOWS = 128

REPEAT_LENGTH = 30  # the recorder's repeat test: 30 distinct tokens a copy (Recorder.repeat_length)
N_SEQUENCES = 20  # the recorder's 20 sequences (repeats.repeated_sequences' default)
N_FREQUENCY_BINS = 4  # quartiles of the pool's training counts


@dataclass(frozen=True)
class OVSummary:
    """A full OV circuit's map (:class:`~induction_heads.measure.copying.OVMap`) in four numbers:
    the share of the whole vocabulary, and of the repeat test's pool, whose own logit is the
    largest the circuit writes for them; the median margin to the runner-up over the vocabulary
    (folded-LayerNorm logit units) and the median margin in standard deviations of each row."""

    own_share: float
    own_share_pool: float
    median_margin: float
    median_relative_margin: float


def _ov_summary(circuit: Tensor, pool: Tensor) -> OVSummary:
    every, in_pool = ov_map(circuit), ov_map(circuit, pool)
    return OVSummary(every.own_share, in_pool.own_share, every.median_margin(), every.median_margin(relative=True))


@dataclass(frozen=True)
class CopyingDiagnostics:
    """The copying diagnostics of one model (a run's final checkpoint, or the hand-built circuit).

    - ``heads``: its induction heads; ``repeat_top1``: top-1 on copies 2-4 with its 95% interval
      over sequences (the gain curve at ``k = 1``); ``stored_repeat_top1``: the run's recorded
      value, which it equals (None for the hand-built circuit);
    - ``ks``, ``gain_top1 [k, sequence]``: the gain curve (induction heads' outputs times ``k``),
      ``gain``: its reading, ``gain_level``: its largest mean top-1 with the interval of that
      maximum over sequences;
    - ``ov``: :class:`OVSummary` of each induction head's full OV circuit and of their sum
      (``"summed"``);
    - ``misses``: every miss's winner and logit gap by path, ``miss_shares``: each class's share
      of the misses;
    - ``frequency_edges``, ``top1_by_frequency``: top-1 on the copies by the target's training
      count (quantile bins of the pool's counts).
    """

    name: str
    heads: list[str]
    n_sequences: int
    repeat_top1: Interval
    stored_repeat_top1: float | None
    ks: tuple[float, ...]
    gain_top1: Float[Tensor, "k sequence"]
    gain: GainReading
    gain_level: Interval
    ov: dict[str, OVSummary]
    misses: CopyMisses
    miss_shares: dict[str, Interval]
    frequency_edges: Float[Tensor, "n_bins_plus_1"]
    top1_by_frequency: list[Interval]

    def gain_curve(self) -> list[tuple[float, Interval]]:
        """``(k, mean top-1 with its interval)`` at every gain."""
        return [(k, bootstrap_ci(row)) for k, row in zip(self.ks, self.gain_top1)]


def diagnose(
    name: str, bridge, tokens: Int[Tensor, "batch seq"], length: int, heads: list[str],
    counts: Int[Tensor, "vocab"], pool: Int[Tensor, "n"], successor: Int[Tensor, "vocab"] | None,
    frequent: Tensor | None, ks: tuple[float, ...] = GAIN_KS, n_bins: int = N_FREQUENCY_BINS,
    stored: float | None = None,
) -> CopyingDiagnostics:
    """:class:`CopyingDiagnostics` of ``bridge`` on the repeat test ``tokens`` (BOS + copies of
    ``length``): what :func:`copying_diagnostics` and :func:`handbuilt_diagnostics` share. ``1.0``
    is added to ``ks`` if missing (the model as it is)."""
    ks = tuple(sorted(set(float(k) for k in ks) | {1.0}))
    gain_top1 = top1_under_head_gain(bridge, tokens, length, heads, ks)
    at_one = gain_top1[ks.index(1.0)]
    weights = CircuitWeights.from_bridge(bridge)
    ov = {h: _ov_summary(full_ov_circuit(weights, [h]), pool) for h in heads}
    if len(heads) > 1:
        ov["summed"] = _ov_summary(full_ov_circuit(weights, heads), pool)
    elif heads:
        ov["summed"] = ov[heads[0]]
    misses = copy_misses(bridge, tokens, length, successor, frequent)
    edges = frequency_bins(counts[pool].double(), n_bins)
    return CopyingDiagnostics(
        name=name, heads=list(heads), n_sequences=len(tokens), repeat_top1=bootstrap_ci(at_one),
        stored_repeat_top1=stored, ks=ks, gain_top1=gain_top1,
        gain=gain_reading(ks, gain_top1.double().mean(1)),
        gain_level=bootstrap(gain_top1.T.contiguous(), lambda s: s.mean(0).max()),
        ov=ov, misses=misses, miss_shares=misses.class_shares(), frequency_edges=edges,
        top1_by_frequency=top1_by_bin(misses.correct, counts[misses.target].double(), edges))


def stored_repeat_top1(run: Run) -> float | None:
    """The run's recorded top-1 on copies 2-4 at its last snapshot (None if not recorded)."""
    t = run.trajectory
    return float(t["repeat_top1"][-1][1:].double().mean()) if "repeat_top1" in t else None


def copying_diagnostics(
    run: Run, successor: Int[Tensor, "vocab"] | None = None, n_sequences: int = N_SEQUENCES,
    ks: tuple[float, ...] = GAIN_KS, n_bins: int = N_FREQUENCY_BINS,
) -> CopyingDiagnostics:
    """The copying diagnostics of a run's final checkpoint on the recorder's repeat test (its
    first ``n_sequences`` sequences; 20 are the recorder's own). ``successor``: the most frequent
    successor of every token in the training split (default: counted from the size's training
    stream, :func:`~induction_heads.engine.dataset.train_stream`, about a second for the small
    split); "frequent" winners are the top 5% by training count."""
    bridge, heads, _ = bridge_and_heads(run)
    counts = load_token_counts(run.size).long()
    pool = random_token_pool(counts)
    if successor is None:
        successor = train_sample(run.size).successor
    tokens = repeated_sequences(pool, n_sequences, REPEAT_LENGTH)
    return diagnose(run.name, bridge, tokens, REPEAT_LENGTH, heads, counts, pool, successor, frequent_tokens(counts),
                    ks, n_bins, stored_repeat_top1(run))


def handbuilt_diagnostics(n_sequences: int = N_SEQUENCES, ks: tuple[float, ...] = GAIN_KS,
                          n_bins: int = N_FREQUENCY_BINS) -> CopyingDiagnostics:
    """The same readings on the hand-built circuit (:mod:`induction_heads.measure.handbuilt`), the
    ceiling of every figure: its induction head 1.0, BOS + 25 distinct tokens x 4 (its context
    holds 104 tokens, so the copies are 25 long, not 30), its whole vocabulary but the BOS as the
    pool. It has no corpus: no successor and no frequent class, and its "counts" are the token
    ids, which only spread the pool over the frequency bins (its top-1 is 1 in each)."""
    bridge = handbuilt.handbuilt_bridge()
    pool = torch.arange(1, handbuilt.V)
    tokens = handbuilt.repeated_tokens(n_sequences=n_sequences, length=25)
    return diagnose("hand-built", bridge, tokens, 25, ["1.0"], torch.arange(handbuilt.V), pool, None, None, ks, n_bins)


# ------------------------------------------------------------------ the recipe's facts

def train_split_tokens(size: str) -> int:
    """Tokens in the size's training split (the sum of its committed token counts, equal to the
    training stream's length: documents and their separators)."""
    return int(load_token_counts(size).sum())


@dataclass(frozen=True)
class RecipeFacts:
    """What a run was trained with, as a reader should know it: tokens per step (batch x
    context), the learning-rate schedule and peak, the vocabulary, residual width, heads and
    their width, the share of training windows with a repeat mixed in, the training split's
    size and the tokens trained, and so the passes over the split."""

    name: str
    tokens_per_step: int
    schedule: str
    lr: float
    d_vocab: int
    d_model: int
    n_layers: int
    n_heads: int
    d_head: int
    repeat_frac: float
    split_tokens: int
    tokens_trained: int

    @property
    def passes(self) -> float:
        """Tokens trained over the split's tokens: how many times the run saw the split (counting
        every training token, the repeated windows' second copies included)."""
        return self.tokens_trained / self.split_tokens


def recipe_facts(run: Run, split_tokens: int | None = None) -> RecipeFacts:
    """:class:`RecipeFacts` of a run; its tokens trained are the trajectory's last ``tokens``
    (``info.json``'s ``tokens_trained``)."""
    m, t = run.model_config, run.train_config
    return RecipeFacts(run.name, t.batch_size * m.n_ctx, t.schedule, t.lr, m.d_vocab, m.d_model, m.n_layers,
                       m.n_heads, m.d_head, t.repeat_frac,
                       train_split_tokens(run.size) if split_tokens is None else split_tokens,
                       int(run.trajectory.tokens_seen[-1]))


@dataclass(frozen=True)
class LossCurves:
    """The training loss and the held-out loss of a run over training, as recorded.

    ``train_loss`` is the trainer's mean loss on the training batches since the previous snapshot
    (the recipe's batches: with ``repeat_frac`` > 0 a share of them hold a repeated window, whose
    second copy is cheap, so it sits below a loss on plain code by construction); ``heldout_loss``
    is the loss on the held-out evaluation set averaged over all positions (the book's held-out
    loss, ``loss_by_position.mean(-1)``). The first snapshot (no training yet) is left out."""

    tokens: Float[Tensor, "snapshot"]
    train_loss: Float[Tensor, "snapshot"]
    heldout_loss: Float[Tensor, "snapshot"]

    @property
    def gap(self) -> Float[Tensor, "snapshot"]:
        """Held-out minus training loss at each snapshot (> 0: the split is fitted better)."""
        return self.heldout_loss - self.train_loss


def loss_curves(run: Run) -> LossCurves:
    """:class:`LossCurves` of a run's trajectory."""
    t = run.trajectory.recorded()
    return LossCurves(t.tokens_seen.double(), t["train_loss"].double(), t["loss_by_position"].double().mean(-1))


def train_windows(stream: np.ndarray, n_windows: int, n_ctx: int) -> Int[Tensor, "n_windows n_ctx"]:
    """``n_windows`` windows of ``n_ctx`` tokens of plain training text, starting at evenly spaced
    places of ``stream`` (deterministic; no repeated window mixed in)."""
    starts = np.linspace(0, len(stream) - n_ctx - 1, n_windows).astype(np.int64)
    return torch.from_numpy(np.asarray(stream[starts[:, None] + np.arange(n_ctx)[None]], dtype=np.int64))


@dataclass(frozen=True)
class SplitLosses:
    """A checkpoint's mean loss (all positions) on plain windows of the training split and on the
    held-out evaluation windows, each with its 95% interval over windows."""

    step: int
    tokens: int
    train: Interval
    heldout: Interval

    @property
    def gap(self) -> float:
        """Held-out minus training-split loss (nats; > 0 where the model fits its split better)."""
        return self.heldout.value - self.train.value


@torch.no_grad()
def split_losses(run: Run, stream: np.ndarray | None = None, steps: list[int] | None = None,
                 n_windows: int = 128) -> list[SplitLosses]:
    """:class:`SplitLosses` at each checkpointed step of ``steps`` (default: every checkpoint):
    the memorisation test the recorded curves cannot give (their training loss includes the
    repeated windows). ``n_windows`` plain windows of the training split
    (:func:`train_windows` of ``stream``; by default the size's kept :func:`train_sample`) against the first ``n_windows`` windows
    of the held-out evaluation set."""
    n_ctx = run.model_config.n_ctx
    train = train_sample(run.size).windows[:n_windows] if stream is None else train_windows(stream, n_windows, n_ctx)
    heldout = load_eval_set(run.size)[0][:n_windows]
    out = []
    for step in run.checkpoints if steps is None else steps:
        model = run.model(step)
        per_window = [per_token_losses(model(w), w).mean(-1) for w in (train, heldout)]
        out.append(SplitLosses(step, run.tokens_at(step), *(bootstrap_ci(x) for x in per_window)))
    return out


# ------------------------------------------------------------------ kept: what the training split gives

@dataclass(frozen=True)
class TrainSample:
    """What the copying readings need of the training split, kept in the size's run store so a
    chapter needs no training stream (which a fresh clone or Colab would have to rebuild from the
    running interpreter's standard library): the most frequent successor of every token, and
    :data:`N_TRAIN_WINDOWS` plain windows (:func:`train_windows`)."""

    successor: Int[Tensor, "vocab"]
    windows: Int[Tensor, "n_windows n_ctx"]


def _sample_from_stream(size: str) -> TrainSample:
    stream, counts = train_stream(size), load_token_counts(size)
    return TrainSample(most_frequent_successor(stream, counts.numel()),
                       train_windows(stream, N_TRAIN_WINDOWS, get_size(size).n_ctx))


def train_sample(size: str) -> TrainSample:
    """The size's kept :class:`TrainSample` (``data/<size>/train_sample.safetensors``, checked
    against the size's manifest), or computed from the training stream if none is kept."""
    path = size_dir(size) / TRAIN_SAMPLE_FILE
    if not path.exists():
        return _sample_from_stream(size)
    t = read_tensors(path, f"delete it and run `make readings SIZE={size}`")
    return TrainSample(t["successor"].long(), t["windows"].long())


def write_train_sample(size: str) -> TrainSample:
    """Compute the size's :class:`TrainSample` from its training stream and keep it."""
    sample = _sample_from_stream(size)
    atomic_save_tensors({"successor": sample.successor.to(torch.int32), "windows": sample.windows.to(torch.int32)},
                        size_dir(size) / TRAIN_SAMPLE_FILE)
    return sample


# ------------------------------------------------------------------ the experiments, read as pre-registered

# The copying experiments, each ``(run, the run it is compared with, the question it tests)``, as
# the decisions log pre-registered them ("Why the heads copy weakly, and induction forbidden").
EXPERIMENTS: tuple[tuple[str, str, str], ...] = (
    ("attn-only-2l-h2", "attn-only-2l", "capacity"), ("attn-only-2l-h1", "attn-only-2l", "capacity"),
    ("attn-only-2l-cooldown", "attn-only-2l", "optimisation noise"),
    ("attn-only-2l-long-cooldown", "attn-only-2l-long", "optimisation noise"),
    ("attn-only-2l-b16", "attn-only-2l", "batch size"), ("attn-only-2l-b32", "attn-only-2l", "batch size"),
)
# The runs whose copying chapter 06 diagnoses (those of them that are trained).
DIAGNOSED = ("attn-only-2l", "attn-only-2l-long", "attn-only-2l-clamped-induction", "attn-only-2l-natural", "mlp-6l")


@dataclass(frozen=True)
class ExperimentOutcome:
    """A copying experiment read by the rule the decisions log wrote before it trained: top-1 on
    copies 2-4 of the run and of the run it is compared with, each with its 95% interval, and the
    outcome: ``"reaches 0.9"``, ``"improves"`` (its interval wholly above the reference's),
    ``"flat or worse"``, or :data:`NO_HEAD_OUTCOME` for a run that formed no induction head."""

    name: str
    reference: str
    top1: Interval
    reference_top1: Interval
    outcome: str


NO_HEAD_OUTCOME = "open: it formed no induction head"


def experiment_outcome(name: str, reference: str, top1: Interval, reference_top1: Interval,
                       reached: float = COPYING_REACHED, formed_head: bool = True) -> ExperimentOutcome:
    """:class:`ExperimentOutcome` of ``name`` against ``reference`` (decisions log, "Why the heads
    copy weakly, and induction forbidden"). A run that formed no induction head (``formed_head``
    False) leaves the test open, as the log wrote before it trained: :data:`NO_HEAD_OUTCOME`."""
    if not formed_head:
        return ExperimentOutcome(name, reference, top1, reference_top1, NO_HEAD_OUTCOME)
    outcome = ("reaches 0.9" if top1.value >= reached else "improves" if top1.lo > reference_top1.hi
               else "flat or worse")
    return ExperimentOutcome(name, reference, top1, reference_top1, outcome)


def experiment_question(name: str) -> str:
    """The question an experiment of :data:`EXPERIMENTS` tests."""
    return next(q for n, _, q in EXPERIMENTS if n == name)


def experiments_text(outcomes) -> str:
    """The experiments' outcomes in one line for a verdict row: ``run (question): outcome`` each."""
    return "; ".join(f"{o.name} ({experiment_question(o.name)}): {o.outcome}" for o in outcomes) or "none trained"


def clamped_comparison(diagnostics: dict[str, CopyingDiagnostics], vanilla: str = "attn-only-2l",
                       clamped: str = "attn-only-2l-clamped-induction") -> str | None:
    """One line: the level of the gain curve with perfect attention (the clamped twin) against the
    vanilla model's, and whether their intervals overlap (None unless both are diagnosed)."""
    if not {vanilla, clamped} <= diagnostics.keys():
        return None
    a, c = diagnostics[vanilla].gain_level, diagnostics[clamped].gain_level
    return (f"perfect attention (the clamped twin) levels at {c.format('.2f')} against {vanilla}'s {a.format('.2f')}: "
            + ("the intervals overlap: attention is not what sets the level" if c.lo <= a.hi and a.lo <= c.hi
               else "the intervals are apart"))


def _mean_top1(d: CopyingDiagnostics) -> dict[float, float]:
    """The gain curve's mean top-1 at each ``k``."""
    return {k: float(row.double().mean()) for k, row in zip(d.ks, d.gain_top1)}


def gain_closes(d: CopyingDiagnostics, k: float) -> float:
    """The share of the shortfall from perfect copying (1 minus top-1 at ``k = 1``) that scaling the
    induction heads' output by ``k`` closes."""
    at = _mean_top1(d)
    return (at[k] - at[1.0]) / (1 - at[1.0]) if at[1.0] < 1 else float("nan")


def copying_finding(d: CopyingDiagnostics, k: float = 3.0) -> str:
    """The sentence a reader can carry away about one model's copying, from its diagnostics: its
    top-1, what scaling its induction heads' output by ``k`` does (the share of the shortfall it
    closes, the gain curve's reading and level), and what wins the misses most often."""
    at = _mean_top1(d)
    head = f"{d.name} completes {d.repeat_top1.format('.2f')} of repeated random tokens"
    if not len(d.misses.winner):
        return head + f" and misses none: the ceiling (with its output scaled by {k:g}: {at[k]:.2f})."
    top = max(d.miss_shares, key=lambda c: d.miss_shares[c].value)
    limit = {"gain": "its heads copy the right token too weakly (gain-limited)",
             "specificity": "more of the same output stops helping below 0.9 (specificity-limited by the rule)",
             "undecided": "the curve is still rising at the largest gain tried"}[d.gain.limit]
    return (f"{head}; with its induction heads' output scaled by {k:g} it completes {at[k]:.2f}, closing "
            f"{gain_closes(d, k):.0%} of the shortfall, and the curve levels at {d.gain_level.format('.2f')}: {limit}. "
            f"The misses are won most often by tokens of the class {top!r} ({d.miss_shares[top].format('.2f')} of them).")


def gap_by_path(d: CopyingDiagnostics, klass: str | None = None) -> dict[str, float]:
    """The mean logit gap of the misses (of ``klass``, or all) between the winner and the copied
    token, and its parts by path: ``direct`` (the token embedding), ``induction heads`` (their sum),
    ``other heads``, ``mlp``, ``bias``; they add up to ``gap`` (negative parts favour the copy)."""
    parts = d.misses.mean_gap_parts(klass)
    ind = sum(parts[h] for h in d.heads) if d.heads else float("nan")
    heads = sum(v for k, v in parts.items() if "." in k)
    return {"gap": parts["gap"], "direct": parts["embed"], "induction heads": ind,
            "other heads": heads - ind if d.heads else heads, "mlp": parts["mlp"], "bias": parts["bias"]}
