"""Argument 2, changing the architecture moves the phase change (chapter 03): smeared keys make
it earlier, and the referee's interventions (a K-composition knockout, a blocked previous-token
route, a clamped induction head, a longer warm-up) each beside the plain model they change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

import torch
from torch import Tensor

from ..engine.zoo import Run
from ..measure.intervals import Interval, paired_difference
from ..measure.phase import PhaseWindow
from ..engine.config import model_family, parse_model_name
from .argument1 import NO_HEAD, NO_WINDOW_RATE, seed_family, seeds_by_model, top_prefix_matching
from .claims import AFTER, ClaimDef, Reading, Threshold, register

__all__ = [
    "EQUIVALENCE",
    "SEPARATED",
    "EARLIER",
    "CLAIMS",
    "knockouts",
    "paired_final_icl",
    "equivalence_reading",
    "ONE_LAYER_REFERENCE",
    "SmearedLead",
    "smeared_lead",
    "smear_strengths",
    "paired_by_seed",
    "INTERVENTION_PAIRS",
    "InterventionReadings",
    "intervention_readings",
    "trained_pairs",
]

NAN = float("nan")
# "ICL at the one-layer model's level": the 95% interval of the paired difference of final ICL
# (the run minus the one-layer model of its family, over the same evaluation sequences) lies
# inside +/- this many nats, i.e. its farther end is below it (an equivalence test). The knockout
# was first judged on the two means' gap with this margin, after its data were seen.
EQUIVALENCE = Threshold(0.15, "below", "book", AFTER, "Argument 2: the knockout's ICL, judged on a paired difference")
# "Less ICL than its control": the paired difference (run minus control) has its 95% interval above 0.
SEPARATED = Threshold(0.0, "above", "book", AFTER, "Argument 2: the knockout's ICL, judged on a paired difference")
# "Starts earlier": the control's window starts this many times later than the treated run's, or more.
EARLIER = Threshold(1.0, "above", "paper")
ONE_LAYER_REFERENCE = {"attn-only": "attn-only-1l", "mlp": "mlp-1l"}


@dataclass(frozen=True)
class SmearedLead:
    """When the smeared two-layer model's window starts against its vanilla control, and the
    spread of the vanilla window's start over seeds (NaN where a window is missing)."""

    smeared_start: float
    vanilla_start: float
    seed_starts: tuple[float, ...]  # the window starts of the vanilla seeds that have a window

    @property
    def earlier_by_tokens(self) -> float:
        return self.vanilla_start - self.smeared_start

    @property
    def seed_spread(self) -> float:
        return max(self.seed_starts) - min(self.seed_starts) if len(self.seed_starts) > 1 else NAN

    @property
    def comparable(self) -> bool:
        """Whether there is a smeared window and a spread over seeds to compare its lead with."""
        return not math.isnan(self.smeared_start) and len(self.seed_starts) > 1


def smeared_lead(
    windows: Mapping[str, PhaseWindow | None],
    smeared: str = "smeared-2l",
    vanilla: str = "attn-only-2l",
    seeds: tuple[str, ...] = ("attn-only-2l", "attn-only-2l-seed1", "attn-only-2l-seed2"),
) -> SmearedLead:
    """Argument 2's comparison (paper: the smeared model's phase change comes earlier; it gives
    no number for how much): the two window starts and the starts over the vanilla seeds."""
    def start(name: str) -> float:
        w = windows.get(name)
        return w.start if w is not None else NAN

    return SmearedLead(start(smeared), start(vanilla), tuple(windows[n].start for n in seeds if windows.get(n)))


def paired_by_seed(names: Iterable[str], treated: str, control: str) -> list[tuple[str, str]]:
    """``(treated run, control run)`` for every seed both models were trained with, in seed order:
    seed 0 is the bare name (``smeared-2l`` beside ``attn-only-2l``), seed k carries ``-seed<k>``
    (``smeared-2l-seed1`` beside ``attn-only-2l-seed1``: the same initialisation seed and data
    order). A comparison of two models asserted on every seed checks each of these pairs."""
    have = set(names)
    runs = sorted((n for n in have if seed_family(n) == treated), key=lambda n: parse_model_name(n).seed)
    return [(n, control + n[len(treated):]) for n in runs if control + n[len(treated):] in have]


def smear_strengths(run: Run) -> list[tuple[str, float]]:
    """``(head, sigmoid(alpha))`` of every head of a smeared-key model's final checkpoint: how much
    of the previous token's key each head mixes into its own (0.5 at initialisation)."""
    model = run.model()
    return [(f"{layer}.{head}", s) for layer, block in enumerate(model.blocks)
            for head, s in enumerate(torch.sigmoid(block.attn.k.smear_alpha).tolist())]


# Each intervention of the co-perturbation experiment beside the plain model it changes (same
# initialisation seed and data order): knockouts on two seeds, the other interventions on one.
INTERVENTION_PAIRS: tuple[tuple[str, str], ...] = (
    ("attn-only-2l-k-knockout", "attn-only-2l"),
    ("attn-only-2l-k-knockout-seed1", "attn-only-2l-seed1"),
    ("mlp-2l-k-knockout", "mlp-2l"),
    ("mlp-2l-k-knockout-seed1", "mlp-2l-seed1"),
    ("attn-only-2l-no-prev-token", "attn-only-2l"),
    ("attn-only-2l-clamped-induction", "attn-only-2l"),
    ("attn-only-2l-warmup10x", "attn-only-2l"),
)


@dataclass(frozen=True)
class InterventionReadings:
    """An intervention beside its control: each one's largest prefix-matching score over training,
    window (None if none) and final ICL score."""

    name: str
    control: str
    max_prefix_matching: float
    control_max_prefix_matching: float
    window: PhaseWindow | None
    control_window: PhaseWindow | None
    final_icl: float
    control_final_icl: float

    @property
    def earlier_by_tokens(self) -> float:
        """How much earlier the intervention's window starts than the control's (NaN if either has none)."""
        if self.window is None or self.control_window is None:
            return NAN
        return self.control_window.start - self.window.start


def intervention_readings(
    runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None], name: str, control: str
) -> InterventionReadings:
    """The numbers Argument 2's second half decides on, for one intervention and its control."""
    def top(n: str) -> float:
        return float(top_prefix_matching(runs[n]["prefix_matching"]).max())

    return InterventionReadings(name, control, top(name), top(control), windows[name], windows[control],
                                float(runs[name]["icl_score"][-1]), float(runs[control]["icl_score"][-1]))


def trained_pairs(names: Iterable[str], pairs: Iterable[tuple[str, str]] = INTERVENTION_PAIRS) -> list[tuple[str, str]]:
    """The intervention pairs whose two runs both exist."""
    have = set(names)
    return [(a, b) for a, b in pairs if a in have and b in have]


# ------------------------------------------------------------------ the claims (the book's registry)

def knockouts(names: Iterable[str]) -> list[str]:
    """The K-composition knockouts trained on the size's own recipe (the natural-code twin is Methods')."""
    return [n for n in names if (p := parse_model_name(n)).variant == "k-knockout" and not p.recipes]


def paired_final_icl(rows: Mapping[str, dict], a: str, b: str) -> Interval:
    """The final ICL of run ``a`` minus run ``b``, paired over the evaluation sequences (the summary
    rows' ``icl_score_final_by_sequence``), with its 95% bootstrap interval."""
    return paired_difference(torch.tensor(rows[a]["icl_score_final_by_sequence"], dtype=torch.float64),
                             torch.tensor(rows[b]["icl_score_final_by_sequence"], dtype=torch.float64))


def equivalence_reading(diff: Interval) -> float:
    """The number an equivalence test compares with its margin: the farther end of the paired
    difference's interval from 0 (inside +/- margin exactly when this is below the margin)."""
    return max(abs(diff.lo), abs(diff.hi))


def _start(rows, n) -> float:
    w = rows[n]["phase_change_window"]
    return NAN if w is None else w["start"]


def _smeared_one(rows, n):
    return Reading(ok=rows[n]["phase_change_window"] is not None and rows["attn-only-1l"]["phase_change_window"] is None,
                   numbers={"smeared_1l_peak_rate": rows[n]["peak_icl_rate"],
                            "attn_only_1l_peak_rate": rows["attn-only-1l"]["peak_icl_rate"]})


def _seed_pairs(rows):
    return [f"{s} against {v}" for s, v in paired_by_seed(rows, "smeared-2l", "attn-only-2l")]


def _earlier(rows, pair):
    s, v = pair.split(" against ")
    ratio = _start(rows, v) / _start(rows, s)
    return Reading(ratio, numbers={"smeared_start": _start(rows, s), "vanilla_start": _start(rows, v)})


def _ko_head(rows, n):
    return Reading(rows[n]["max_prefix_matching_over_training"], numbers={"final_largest": rows[n]["max_prefix_matching_score"]})


def _ko_window(rows, n):
    control = dict(INTERVENTION_PAIRS)[n]
    return Reading(ok=rows[n]["phase_change_window"] is None and rows[control]["phase_change_window"] is not None,
                   numbers={"peak_icl_rate": rows[n]["peak_icl_rate"], "control": control,
                            "control_peak_rate": rows[control]["peak_icl_rate"]})


def _ko_icl(rows, n):
    one = ONE_LAYER_REFERENCE[model_family(n)[0]]
    diff = paired_final_icl(rows, n, one)
    return Reading(equivalence_reading(diff), numbers={"minus_one_layer": diff, "one_layer": one})


def _ko_below(rows, n):
    control = dict(INTERVENTION_PAIRS)[n]
    diff = paired_final_icl(rows, n, control)
    return Reading(diff.lo, numbers={"minus_control": diff, "control": control})


def _clamped(rows, n):
    control = dict(INTERVENTION_PAIRS)[n]
    starts = [_start(rows, m) for m in seeds_by_model(rows).get(control, [control])]
    starts = [x for x in starts if x == x]
    start = _start(rows, n)
    return Reading(ok=start == start and bool(starts) and start < min(starts),
                   numbers={"start": start, "control": control, "earliest_control_seed_start": min(starts, default=NAN)})


def _with_control(rows):
    return [n for n in knockouts(rows) if dict(INTERVENTION_PAIRS).get(n) in rows]


def _with_one_layer(rows):
    return [n for n in knockouts(rows) if ONE_LAYER_REFERENCE.get(model_family(n)[0]) in rows]


_WHERE = "Argument 2 ('Argument 2: Macroscopic co-perturbation')"
_REFEREE = "not in the paper: a referee's test of its Argument 2"
CLAIMS = {
    "smeared-1l": register(ClaimDef(
        "arg2.smeared-1l", 2, "smeared-1l has a phase change and attn-only-1l has none",
        paper="A one-layer model with smeared keys has a phase change; one without them has none", where=_WHERE,
        unit="comparisons", subjects=lambda rows: [n for n in ("smeared-1l",) if {"smeared-1l", "attn-only-1l"} <= set(rows)],
        read=_smeared_one)),
    "smeared-earlier": register(ClaimDef(
        "arg2.smeared-earlier", 2, "smeared-2l's window starts before attn-only-2l's of the same seed (ratio of the "
        "starts {threshold})", paper="Smeared keys move the two-layer phase change earlier", where=_WHERE,
        reading="ratio", threshold=EARLIER, unit="seeds", fmt=".1f", subjects=_seed_pairs, read=_earlier)),
    "knockout-no-head": register(ClaimDef(
        "arg2.knockout-no-head", 2, "a K-composition knockout forms no induction head (largest prefix matching over "
        "training {threshold})", paper="(the referee's test) Without K-composition no induction head forms",
        where=_REFEREE, reading="max_prefix_matching", threshold=NO_HEAD, unit="knockouts", subjects=knockouts,
        read=_ko_head)),
    "knockout-no-window": register(ClaimDef(
        "arg2.knockout-no-window", 2, "a K-composition knockout has no phase-change window (its ICL score falls "
        "{threshold} nats per e-fold at its fastest), while its control has one",
        paper="... and no phase change happens", where=_REFEREE, reading="peak_icl_rate", threshold=NO_WINDOW_RATE,
        unit="knockouts", fmt=".3f", subjects=_with_control, read=_ko_window)),
    "knockout-icl": register(ClaimDef(
        "arg2.knockout-icl", 2, "a K-composition knockout's final ICL equals the one-layer model's of its family "
        "(paired difference's 95% interval inside +/-margin: its farther end {threshold} nats)",
        paper="... and in-context learning stays at the one-layer level", where=_REFEREE,
        reading="farther_end", threshold=EQUIVALENCE, unit="knockouts", fmt=".3f", subjects=_with_one_layer,
        read=_ko_icl)),
    "knockout-below": register(ClaimDef(
        "arg2.knockout-below", 2, "a K-composition knockout ends with less ICL than its control (paired difference's "
        "95% interval, lower end {threshold})", paper="... below its control's", where=_REFEREE,
        reading="lower_end", threshold=SEPARATED, unit="knockouts", fmt=".3f", subjects=_with_control,
        read=_ko_below)),
    "clamped-earlier": register(ClaimDef(
        "arg2.clamped-earlier", 2, "a clamped induction head starts the window before every seed's window of its control",
        paper="An induction head given from the start moves the phase change earlier", where=_REFEREE, unit="runs",
        subjects=lambda rows: [n for n in rows if parse_model_name(n).variant == "clamped-induction"
                               and dict(INTERVENTION_PAIRS).get(n) in rows],
        read=_clamped)),
}
