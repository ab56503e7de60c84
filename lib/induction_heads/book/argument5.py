"""Argument 5, the mechanism (chapter 06): where an induction head's circuit statistics enter
their corner over training, the Q/K/V composition into a head, and the repeat test of every
model's final checkpoint. The statistics themselves are computed in
:mod:`induction_heads.measure.circuits` (and recorded at every snapshot by the trainer); the
figures are :mod:`induction_heads.book.figures.argument5`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from ..engine.config import parse_model_name
from ..engine.runs import load_token_counts
from ..engine.tokenizer import random_token_pool
from ..engine.zoo import Trajectory, Zoo
from ..measure.heads import head_labels, parse_head
from ..measure.intervals import Interval, bootstrap_band, bootstrap_ci
from ..measure.metrics import per_token_losses
from ..measure.repeats import repeat_scores, repeated_sequences
from ..measure.heads import THRESHOLDS
from .argument1 import COPIES, COPYING_REACHED, FORMS_HEAD
from .claims import AFTER, ClaimDef, Reading, Threshold, register
from .copying import EXPERIMENTS, ExperimentOutcome, experiment_outcome

__all__ = [
    "OV_COPIES",
    "OV_CORNER",
    "HEAD_COPYING",
    "PAPER_COPYING",
    "CORE_MODEL",
    "repeat_table_rows",
    "later_copies",
    "long_run_lines",
    "head_readings_rows",
    "experiment_outcomes",
    "formed_head",
    "CLAIMS",
    "normalise_by_max_abs",
    "corner_entry",
    "top_compositions",
    "CompositionInto",
    "composition_into",
    "repeat_profiles",
    "later_copy_drop",
    "snapshot_at",
    "COPYING_REACHED",
    "PUBLIC_COPYING_ANCHOR",
    "repeat_top1_samples",
    "CopyingOutcome",
    "copying_outcome",
    "HeadReadings",
    "head_readings",
    "long_run_verdict",
]


# An induction head's OV circuit copies: its eigenvalue positivity above this (the paper: "mostly
# positive eigenvalues", no number). Whether data drove the choice is not recorded, so: after. With a
# positive K-composition trace, the corner of the QK/OV plane; OV_CORNER is its value for the
# figures, which draw it (figures.argument5).
OV_COPIES = Threshold(0.5, "above", "book", AFTER, "Argument 5: copying read from the OV eigenvalues")
OV_CORNER = OV_COPIES.value


def normalise_by_max_abs(x: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """``x / max|x|`` over ``dim`` (all axes by default), ignoring NaN; signs are kept and the
    result lies in [-1, 1]. A slice that is all zero (or all NaN) is returned unchanged.

    The chapter divides the K-composition trace of every head of a layer by one number, the
    largest ``|trace|`` of that layer over training (``dim=(0, 1)`` on ``[snapshot, head]``):
    the trace's units are the raw bilinear form's and grow with the weights, so only its sign
    and its size relative to the other heads of the same model mean something. A separate
    scale per head would stretch a head whose trace stays near zero to the same +-1 as the
    induction head.
    """
    size = torch.nan_to_num(x.abs(), nan=0.0)
    scale = size.amax() if dim is None else size.amax(dim=dim, keepdim=True)
    return x / torch.where(scale > 0, scale, torch.ones_like(scale))


def corner_entry(
    tokens: Float[Tensor, "snapshot"],
    k_trace: Float[Tensor, "snapshot"],
    ov_positivity: Float[Tensor, "snapshot"],
    ov_min: float = OV_COPIES.value,
) -> float | None:
    """Training tokens at the first snapshot from which a head stays in the positive corner of
    the QK/OV plane (K-composition trace > 0 and OV positivity > ``ov_min``) to the end of
    training; None if it is not there at the last snapshot."""
    inside = (k_trace > 0) & (ov_positivity > ov_min)
    if not bool(inside[-1]):
        return None
    outside = torch.nonzero(~inside)
    first = 0 if len(outside) == 0 else int(outside[-1]) + 1
    return float(tokens[first])


def top_compositions(
    scores: Mapping[str, Float[Tensor, "src_layer src_head dst_layer dst_head"]],
    dst: str | None = None,
    k: int | None = None,
) -> list[tuple[str, str, str, float]]:
    """``(mode, source head, destination head, score)`` for every defined pair, largest score
    first: all pairs, or only those into head ``dst`` (``"layer.head"``); the first ``k``."""
    rows = []
    for mode, s in scores.items():
        L, H = s.shape[:2]
        names = head_labels(L, H)
        flat = s.reshape(L * H, L * H)
        for i, j in torch.nonzero(~flat.isnan()).tolist():
            if dst is None or names[j] == dst:
                rows.append((mode, names[i], names[j], float(flat[i, j])))
    rows.sort(key=lambda r: -r[3])
    return rows if k is None else rows[:k]


@dataclass(frozen=True)
class CompositionInto:
    """The composition scores into one head that Argument 5's claim compares: the K-composition
    from the previous-token head, and the largest Q-, K- and V-composition with their sources.
    The field names are the numbers a chapter prints."""

    k_from_prev: float
    top_k_source: str
    top_k: float
    top_q_source: str
    top_q: float
    top_v_source: str
    top_v: float
    largest_mode: str  # the mode of the largest of all scores into the head

    def numbers(self) -> dict[str, float | str]:
        """The scores and their sources, for :func:`~induction_heads.book.check_claim`."""
        return {k: v for k, v in asdict(self).items() if k != "largest_mode"}

    def k_from_prev_is_largest(self, prev_head: str) -> bool:
        """The claim: the largest K-composition comes from ``prev_head`` and is the largest of all
        the head's Q/K/V compositions."""
        return self.top_k_source == prev_head and self.largest_mode == "K"


def composition_into(
    scores: Mapping[str, Float[Tensor, "src_layer src_head dst_layer dst_head"]], head: str, prev_head: str
) -> CompositionInto:
    """Read :class:`CompositionInto` for ``head`` from the Q/K/V composition scores (each mode's
    ``[src_layer, src_head, dst_layer, dst_head]`` scores minus the random baseline; NaN where a
    pair is undefined)."""
    into = top_compositions(scores, dst=head)
    best = {mode: next(r for r in into if r[0] == mode) for mode in "KQV"}
    return CompositionInto(
        k_from_prev=next(s for mode, src, _, s in into if mode == "K" and src == prev_head),
        top_k_source=best["K"][1], top_k=best["K"][3],
        top_q_source=best["Q"][1], top_q=best["Q"][3],
        top_v_source=best["V"][1], top_v=best["V"][3],
        largest_mode=into[0][0],
    )


@torch.no_grad()
def repeat_profiles(
    zoo: Zoo, length: int = 30, repeats: int = 4, n_sequences: int = 20
) -> dict[str, dict[str, Tensor]]:
    """The repeat test of each model's final checkpoint, the way courses show it: BOS + ``length``
    random tokens (the evaluators' pool) repeated ``repeats`` times; for each model the mean loss
    at every position (``loss_by_position``) and the loss and top-1 accuracy per copy
    (:func:`induction_heads.measure.repeats.repeat_scores`; copy 0 is the first showing), and
    the loss per copy of each sequence (``loss_by_sequence`` [sequence, copy]) for
    :func:`later_copy_drop`'s interval."""
    tokens = repeated_sequences(random_token_pool(load_token_counts(zoo.size)), n_sequences, length, repeats)
    out = {}
    for name, run in zoo.items():
        logits = run.model()(tokens)
        out[name] = {"loss_by_position": per_token_losses(logits, tokens).mean(0),
                     **repeat_scores(logits, tokens, length),
                     "loss_by_sequence": repeat_scores(logits, tokens, length, by_sequence=True)["loss"]}
    return out


def later_copy_drop(profile: Mapping[str, Tensor]) -> Interval:
    """How much cheaper the later copies are than the first showing: the loss on copy 1 minus the
    mean loss on copies 2.. (nats; positive: the model uses the earlier copy), averaged over the
    sequences of a :func:`repeat_profiles` entry, with its 95% bootstrap interval over them."""
    loss = profile["loss_by_sequence"]
    return bootstrap_ci(loss[:, 0] - loss[:, 1:].mean(1))


# ------------------------------------------------------------------ the long run (copying)

# The pre-registered outcome of the long run (the decisions log, "The long run: what the book
# will say, written before it finished"): copying "reaches" the public models' completion when
# the repeat test's top-1 on copies 2-4 is at or above this at some snapshot after the mark.
# Where a public 2-layer model's loss on repeated random tokens falls (TransformerLens's main demo,
# its checkpoints of a 2-layer model at 22M, 200M, 500M, 1.6B and 21.8B tokens): between about
# 200M and 500M training tokens, at a batch of hundreds of thousands of tokens per step.
PUBLIC_COPYING_ANCHOR = (200e6, 500e6)


def repeat_top1_samples(trajectory: Trajectory) -> Float[Tensor, "snapshot sequence"]:
    """Top-1 accuracy on copies 2-4 of each random-token sequence of the repeat test, at every
    snapshot (the per-sequence record's mean over the copies after the first)."""
    return trajectory["repeat_top1_by_sequence"][..., 1:].double().mean(-1)


def snapshot_at(trajectory: Trajectory, tokens: float) -> int:
    """The index of the snapshot nearest to ``tokens`` training tokens (on a log scale)."""
    t = trajectory.tokens_seen.double().clamp(min=1)
    return int((t.log() - torch.tensor(float(tokens)).log()).abs().argmin())


@dataclass(frozen=True)
class CopyingOutcome:
    """The long run's repeat test read the pre-registered way: the top-1 on copies 2-4 with its
    95% interval over the random-token sequences at the mark (the short run's last step) and at
    the end; the best snapshot after the mark; the first snapshot after it at or above
    :data:`COPYING_REACHED`; and which outcome that is (``reaches 0.9``, ``improves, below 0.9``:
    the end's interval wholly above the mark's, ``flat``: they overlap; ``declines``: the end's
    wholly below, an outcome the pre-registration did not name)."""

    outcome: str
    mark_tokens: float
    at_mark: Interval
    end_tokens: float
    at_end: Interval
    best: float
    best_tokens: float
    reached_tokens: float | None

    @property
    def gain_per_tenfold(self) -> float:
        """Top-1 gained per tenfold of training tokens from the mark to the end."""
        return (self.at_end.value - self.at_mark.value) / math.log10(self.end_tokens / self.mark_tokens)


def copying_outcome(trajectory: Trajectory, mark_tokens: float, reached: float = COPYING_REACHED) -> CopyingOutcome:
    """:class:`CopyingOutcome` of a run recorded with per-sequence repeat scores, from the
    snapshot nearest ``mark_tokens`` to its last."""
    samples, tokens = repeat_top1_samples(trajectory), trajectory.tokens_seen.double()
    i = snapshot_at(trajectory, mark_tokens)
    at_mark, at_end = bootstrap_ci(samples[i]), bootstrap_ci(samples[-1])
    means = samples[i:].mean(-1)
    best = int(means.argmax())
    hit = (means >= reached).nonzero()
    outcome = ("reaches 0.9" if len(hit) else "improves, below 0.9" if at_end.lo > at_mark.hi
               else "declines" if at_end.hi < at_mark.lo else "flat")
    return CopyingOutcome(outcome, float(tokens[i]), at_mark, float(tokens[-1]), at_end, float(means[best]),
                          float(tokens[i + best]), float(tokens[i + int(hit[0])]) if len(hit) else None)


@dataclass(frozen=True)
class HeadReadings:
    """What an induction head does at one snapshot: its prefix-matching score (attention to the
    token after the earlier occurrence), its OV eigenvalue positivity, its direct logit on the
    copied token against the direct path's (embedding straight to unembedding) and the total
    copied logit, and the model's top-1 on copies 2-4 of the repeat test."""

    tokens_seen: float
    prefix_matching: float
    ov_positivity: float
    copied_logit_head: float
    copied_logit_direct: float
    copied_logit: float
    repeat_top1: float


def head_readings(trajectory: Trajectory, head: str, tokens: float) -> HeadReadings:
    """:class:`HeadReadings` of ``head`` (``"layer.head"``) at the snapshot nearest ``tokens``."""
    i, (layer, h) = snapshot_at(trajectory, tokens), parse_head(head)
    return HeadReadings(float(trajectory.tokens_seen[i]), float(trajectory["prefix_matching"][i, layer, h]),
                        float(trajectory["ov_positivity"][i, layer, h]), float(trajectory["copied_logit_heads"][i, layer, h]),
                        float(trajectory["copied_logit_direct"][i]), float(trajectory["copied_logit"][i]),
                        float(repeat_top1_samples(trajectory)[i].mean()))


def long_run_verdict(o: CopyingOutcome) -> str:
    """What the book says for the long run's outcome: the sentence the decisions log wrote for
    it before the run finished ("The long run: what the book will say"), with the numbers."""
    at = f"top-1 on copies 2-4 {o.at_mark} at {o.mark_tokens / 1e6:.1f}M tokens and {o.at_end} at {o.end_tokens / 1e6:.0f}M"
    if o.outcome == "reaches 0.9":
        return (f"Copying reaches {COPYING_REACHED:g} at {o.reached_tokens / 1e6:.0f}M tokens ({at}): training length is "
                "the cause of the weak copying, and the zoo stops before it.")
    if o.outcome == "improves, below 0.9":
        return (f"Copying improves but stays below {COPYING_REACHED:g} ({at}; {o.gain_per_tenfold:+.2f} per tenfold of "
                f"tokens): training length is part of the cause, and {o.end_tokens / 1e6:.0f}M tokens are not enough to "
                "reach the public models' completion.")
    if o.outcome == "declines":
        return (f"Copying declines ({at}; {o.gain_per_tenfold:+.2f} per tenfold of tokens), an outcome the book did not "
                "foresee: training longer does not make these heads copy.")
    return (f"Copying is flat ({at}: the intervals overlap; the best snapshot after the mark {o.best:.2f}): training "
            "length is not the cause at this scale.")


# ------------------------------------------------------------------ the claims (the book's registry)

CORE_MODEL = "attn-only-2l"  # the model whose heads the chapter reads
# A head counts as copying when its copying score is above this (0.25 above chance), chosen after
# the trained heads had scored about -0.5; the paper's "positive copying" is judged beside it.
HEAD_COPYING = Threshold(THRESHOLDS.copying, "above", "book", AFTER, "What counts as copying: the induction-head threshold")
PAPER_COPYING = Threshold(0.0, "above", "paper")  # the paper's "positive copying"


def repeat_table_rows(profiles: Mapping[str, Mapping[str, Tensor]], hand: Mapping[str, Tensor]) -> list[list]:
    """The repeat test's table: per model (and the hand-built circuit, last) the loss and top-1 on
    copy 1 and on copies 2-4 (:func:`repeat_profiles` entries; ``hand``: the circuit's
    :func:`~induction_heads.measure.repeats.repeat_scores`)."""
    rows = [[n, float(p["loss"][0]), float(p["loss"][1:].mean()), float(p["top1"][0]), float(p["top1"][1:].mean())]
            for n, p in profiles.items()]
    rows.append(["hand-built circuit", float(hand["loss"][0]), float(hand["loss"][1:].mean()), float(hand["top1"][0]),
                 float(hand["top1"][1:].mean())])
    return rows


def later_copies(profiles: Mapping[str, Mapping[str, Tensor]]) -> dict[str, dict]:
    """Per model: the loss on copy 1 and the mean loss on copies 2-4 of the repeat test, and the
    drop between them with its interval over sequences (:func:`later_copy_drop`)."""
    return {n: {"loss_first": float(p["loss"][0]), "loss_later": float(p["loss"][1:].mean()), "drop": later_copy_drop(p)}
            for n, p in profiles.items()}


def long_run_lines(long: Trajectory, short: Trajectory, mark: float, outcome: CopyingOutcome, heads: list[str],
                   head: str, short_name: str) -> list[str]:
    """What the long run measured beside its outcome: the passage's second copy and the loss on
    copies 2-4 at the mark and at the end (with intervals), its induction heads, and the long run
    against the short run (``short``, the same recipe stopped at the mark) at the mark."""
    i = snapshot_at(long, mark)
    passage = long["passage_top1_by_sequence"][..., 1]
    loss = long["repeat_loss_by_sequence"][..., 1:].double().mean(-1)
    end = f"{outcome.end_tokens / 1e6:.0f}M"
    return [f"the passage's second copy: {bootstrap_ci(passage[i])} at {mark / 1e6:.1f}M tokens, {bootstrap_ci(passage[-1])} at {end}; "
            f"induction heads at the end: {', '.join(heads) or 'none'}; the head followed: {head}",
            f"loss on copies 2-4 (nats): {bootstrap_ci(loss[i])} at {mark / 1e6:.1f}M tokens, {bootstrap_ci(loss[-1])} at {end}",
            f"at {mark / 1e6:.1f}M tokens, the long run against {short_name}: ICL score {float(long['icl_score'][i]):.3f} "
            f"against {float(short['icl_score'][-1]):.3f}; top-1 on copies 2-4 {outcome.at_mark.value:.3f} against "
            f"{float(short['repeat_top1'][-1][1:].mean()):.3f}"]


def head_readings_rows(readings: Sequence[HeadReadings]) -> list[list]:
    """The long run's head readings as table rows (tokens in millions)."""
    return [[f"{r.tokens_seen / 1e6:.1f}M", r.prefix_matching, r.ov_positivity, r.copied_logit_head,
             r.copied_logit_direct, r.copied_logit, r.repeat_top1] for r in readings]


def _row_interval(row: dict, key: str) -> Interval:
    lo, hi = row.get(f"{key}_ci") or (math.nan, math.nan)
    return Interval(row[key], lo, hi)


def formed_head(row: dict, continues: bool = False) -> bool:
    """Whether a run has an induction head, as the copying experiments' pre-registration reads it
    (decisions log, "Why the heads copy weakly, and induction forbidden"): its largest final
    prefix-matching score is :data:`~induction_heads.book.argument1.FORMS_HEAD`, and it has a
    phase-change window, unless it ``continues`` a finished run (a ``-cooldown``: it starts with
    the heads its source formed, so it has no window of its own)."""
    window = continues or row.get("phase_change_window") is not None
    return window and FORMS_HEAD.holds(row["max_prefix_matching_score"])


def experiment_outcomes(rows: Mapping[str, dict]) -> dict[str, ExperimentOutcome]:
    """Each copying experiment of :data:`~induction_heads.book.copying.EXPERIMENTS` whose run and
    reference are among the summary rows, read by its pre-registered rule on their top-1 on copies
    2-4 with its interval (:func:`~induction_heads.book.copying.experiment_outcome`); open where
    the run formed no induction head (:func:`formed_head`)."""
    return {n: experiment_outcome(n, ref, _row_interval(rows[n], "repeat_top1"), _row_interval(rows[ref], "repeat_top1"),
                                  formed_head=formed_head(rows[n], parse_model_name(n).cooldown))
            for n, ref, _ in EXPERIMENTS if n in rows and ref in rows and rows[n].get("repeat_top1") is not None
            and rows[ref].get("repeat_top1") is not None}


def _core(rows):
    return [CORE_MODEL] if CORE_MODEL in rows else []


def _has_head(rows, n):
    r = rows[n]
    return Reading(ok=bool(r["induction_heads"]), numbers={"induction_heads": ",".join(r["induction_heads"]) or "none",
                                                           "largest_prefix_matching": r["max_prefix_matching_score"]})


def _experiment(rows, n):
    o = experiment_outcomes(rows)[n]
    return Reading(ok=True, numbers={"top1": o.top1, "against": o.reference, "its_top1": o.reference_top1,
                                     "outcome": o.outcome})


_WHERE = "Argument 5; the mechanism in Elhage et al. (2021), 'Analyzing a Two-Layer Model'"
def _copying_heads(rows) -> list[str]:
    """``"attn-only-2l <head>"`` for each induction head of attn-only-2l in the summary rows."""
    return [f"attn-only-2l {h}" for h in rows["attn-only-2l"]["induction_heads"]] if "attn-only-2l" in rows else []


def _head_copying(rows, subject: str) -> Reading:
    """One induction head's final copying score, from the summary row's ``copying_score_induction_heads``."""
    name, head = subject.split(" ")
    row = rows[name]
    return Reading(row["copying_score_induction_heads"][row["induction_heads"].index(head)])


CLAIMS = {
    "head": register(ClaimDef(
        "arg5.head", 5, f"{CORE_MODEL} has at least one induction head (prefix matching {FORMS_HEAD.text()} and "
        f"copying score {HEAD_COPYING.text('.2f')})",
        paper="A two-layer attention-only model forms induction heads (heads that prefix-match and copy)",
        where=_WHERE, subjects=_core, read=_has_head,
        note=f"the copying cutoff is the book's, chosen after the data; the paper's 'positive copying' is judged in "
             f"arg5.head-copies")),
    "head-copies": register(ClaimDef(
        "arg5.head-copies", 5, "its copying score is {threshold}",
        paper="Induction heads copy: a positive copying score", where="Argument 5; the paper's definition of an "
        "induction head (prefix matching and positive copying)", reading="copying", threshold=HEAD_COPYING,
        paper_threshold=PAPER_COPYING, unit="heads", subjects=_copying_heads, read=_head_copying,
        note="the score averages over positions where nothing can be copied, so a trained head scores below 0")),
    "later-copies-cheaper": register(ClaimDef(
        "arg5.later-copies-cheaper", 5, "the later copies of a random sequence cost less than its first showing",
        paper="Induction heads make the later copies of a random sequence cheap", where=_WHERE, kind="sanity",
        note="any model that uses its context passes; how well it copies is arg1.copies")),
    "ov-copies": register(ClaimDef(
        "arg5.ov-copies", 5, "OV eigenvalue positivity {threshold}", paper="Their OV circuit copies: mostly positive "
        "eigenvalues", where=_WHERE, reading="ov_positivity", threshold=OV_COPIES, unit="heads")),
    "k-composition": register(ClaimDef(
        "arg5.k-composition", 5, "its largest K-composition comes from the previous-token head and is its largest "
        "Q/K/V composition", paper="Their keys K-compose with a previous-token head, the largest composition into them",
        where=_WHERE, unit="heads")),
    "long-run": register(ClaimDef(
        "arg5.long-run", 5, "copying after ten times the training, read by the rule written before the run finished "
        f"(reaches {COPIES.text()}, improves, or flat)",
        paper="The heads copy (the public models' heads complete repeated sequences after hundreds of millions of "
              "tokens)", where=_WHERE, kind="reported", unit="runs",
        note="decisions log: 'The long run: what the book will say, written before it finished'")),
    "experiments": register(ClaimDef(
        "arg5.experiments", 5, "each copying experiment read by the rule written before it trained (reaches "
        f"{COPIES.text()}, improves: its interval wholly above the reference's, or flat or worse)",
        paper="The heads copy; why ours copy weakly, tested by runs pre-registered in the decisions log",
        where="the decisions log, 'Why the heads copy weakly, and induction forbidden'", kind="reported", unit="runs",
        subjects=lambda rows: list(experiment_outcomes(rows)), read=_experiment)),
}
