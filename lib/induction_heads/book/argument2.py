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
from ..measure.phase import PhaseWindow
from ..engine.config import parse_model_name
from .argument1 import seed_family, top_prefix_matching

__all__ = [
    "KNOCKOUT_MAX_PREFIX_MATCHING",
    "ONE_LAYER_ICL_TOLERANCE",
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
# The knockout claims: no induction head (largest prefix-matching score at most this) and a final
# ICL within this many nats of the one-layer model of the same family.
KNOCKOUT_MAX_PREFIX_MATCHING = 0.2
ONE_LAYER_ICL_TOLERANCE = 0.15
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
