"""The referee's second round, read on the zoo: how much of the ICL score an induction head could
account for at all (the score split by class over training, chapter 02), and the run trained with
induction attention forbidden against its controls (chapter 03). The measurements are
:mod:`induction_heads.measure.icl_classes`' and the summary's; this module turns them into the
numbers the chapters print and the outcomes the decisions log pre-registered."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..engine.config import NO_INDUCTION_MODELS, format_model_name, parse_model_name
from ..engine.zoo import Run
from ..measure.intervals import Interval
from ..measure.phase import PhaseWindow
from .argument1 import classes_over_training
from .argument2 import EQUIVALENCE, equivalence_reading, paired_final_icl
from .claims import BEFORE, ClaimDef, Reading, Threshold, register

__all__ = ["window_label", "class_terms_over_training", "class_readings_by_label", "EQUIVALENCE_MARGIN", "NoInductionOutcome", "OUTCOMES",
           "no_induction_outcome", "no_induction_triples", "NO_INDUCTION", "CLAIMS"]

# The margin of "ICL at the one-layer model's level" for the run with induction attention forbidden
# (decisions log, "Why the heads copy weakly, and induction forbidden"): the paired difference's
# 95% interval must lie inside +/- this many nats; the referee's K-composition knockout's margin,
# chosen before these runs trained.
NO_INDUCTION = Threshold(EQUIVALENCE.value, "below", "book", BEFORE,
                         "Why the heads copy weakly, and induction forbidden: what each run will mean, written before they trained")
EQUIVALENCE_MARGIN = NO_INDUCTION.value


def window_label(tokens: float, window: PhaseWindow | None) -> str:
    """Where a checkpoint at ``tokens`` lies against the run's phase-change window: "before",
    "in" or "after" it (the window's end counts as in it); "no window" without one."""
    if window is None:
        return "no window"
    return "before" if tokens < window.start else "after" if tokens > window.end else "in"


def class_terms_over_training(run: Run, window: PhaseWindow | None, tokens: Tensor) -> dict[str, list[float]]:
    """Each class's term of the ICL score at every kept checkpoint of ``run``
    (:func:`induction_heads.book.argument1.class_split_over_training` on the evaluation sequences
    ``tokens``), keyed ``"<before|in|after> (<tokens>M)"`` (3 significant digits) in training order."""
    return class_readings_by_label(run, window, classes_over_training(run, tokens))[0]


def class_readings_by_label(run: Run, window: PhaseWindow | None, by_step: dict[str, dict]
                            ) -> tuple[dict[str, list[float]], dict[str, Tensor]]:
    """``(terms, curves)`` at every kept checkpoint of ``run``, both keyed as
    :func:`class_terms_over_training` keys them: each class's term of the ICL score, and each
    class's loss-by-position curve [class, position], from ``by_step``
    (:func:`induction_heads.book.argument1.classes_over_training`, one forward pass a checkpoint;
    kept with the run's readings as :data:`induction_heads.book.argument1.CLASSES_OVER_TRAINING`)."""
    terms, curves = {}, {}
    for step, reading in sorted(by_step.items(), key=lambda kv: int(kv[0])):
        seen = run.tokens_at(int(step))
        label = f"{window_label(seen, window)} ({seen / 1e6:.3g}M)"
        terms[label], curves[label] = reading["contribution"], torch.tensor(reading["curve"])
    return terms, curves


@dataclass(frozen=True)
class NoInductionOutcome:
    """The pre-registered reading of a run trained with induction attention forbidden
    (decisions log): ``window`` (whether it has one), ``control_window`` (whether its control
    does), ``vs_one_layer`` (its final ICL minus the one-layer model's, paired over the evaluation
    sequences, with its interval) and the outcome's name."""

    window: bool
    control_window: bool
    vs_one_layer: Interval
    outcome: str


OUTCOMES = ("induction is the phase change", "something else builds in-context learning", "in between")


def no_induction_outcome(window: bool, control_window: bool, vs_one_layer: Interval,
                         margin: float = EQUIVALENCE_MARGIN) -> NoInductionOutcome:
    """The outcome the decisions log wrote down before the run trained: *induction is the phase
    change* when the run has no window while its control has one and its final ICL equals the
    one-layer model's within ``margin`` (the paired difference's interval inside +/- margin);
    *something else builds in-context learning* when it has a window, or its ICL is better than
    the one-layer model's by more than the margin (the interval wholly below -margin); *in
    between* otherwise."""
    if (not window) and control_window and -margin < vs_one_layer.lo and vs_one_layer.hi < margin:
        outcome = OUTCOMES[0]
    elif window or vs_one_layer.hi < -margin:
        outcome = OUTCOMES[1]
    else:
        outcome = OUTCOMES[2]
    return NoInductionOutcome(window, control_window, vs_one_layer, outcome)


def no_induction_triples(names=NO_INDUCTION_MODELS) -> list[tuple[str, str, str]]:
    """``(run, control, one-layer model)`` for each run trained with induction attention forbidden:
    the control is its name without the variant (same seed and recipe), the one-layer model the
    first seed of the one-layer attention-only model on the same recipe."""
    out = []
    for name in names:
        p = parse_model_name(name)
        control = format_model_name(p._replace(variant=None))
        one = format_model_name(p._replace(variant=None, n_layers=1, seed=0))
        out.append((name, control, one))
    return out


def _no_induction(rows, n):
    """The pre-registered outcome of one run with induction attention forbidden, read from summary rows."""
    _, control, one = next(t for t in no_induction_triples([n]))
    diff = paired_final_icl(rows, n, one)
    o = no_induction_outcome(rows[n]["phase_change_window"] is not None, rows[control]["phase_change_window"] is not None, diff)
    return Reading(ok=o.outcome == OUTCOMES[0], numbers={"farther_end": equivalence_reading(diff), "outcome": o.outcome,
                                                          "minus_one_layer": diff, "peak_icl_rate": rows[n]["peak_icl_rate"],
                                                          "control_has_window": o.control_window})


def _no_induction_runs(rows):
    return [n for n, c, one in no_induction_triples() if {n, c, one} <= set(rows)]


CLAIMS = {
    "no-induction": register(ClaimDef(
        "arg2.no-induction", 2, "with induction attention forbidden, no phase change while its control has one, and "
        "the one-layer model's ICL (paired difference's 95% interval inside +/-margin: its farther end {threshold} nats)",
        paper="(the referee's second test) With induction attention forbidden and composition intact, no phase change: "
              "ICL stays at the one-layer level", where="not in the paper: a referee's test of its Argument 2",
        reading="farther_end", threshold=NO_INDUCTION, unit="runs", fmt=".3f", subjects=_no_induction_runs,
        read=_no_induction)),
}
