"""The numbers each chapter's claims are decided on: small results per model, computed from a
run's metrics, that a chapter passes to :func:`induction_heads.book.check_claim`.

A chapter states a claim, measures it, shows the figure and then checks it; the loops and
branches that turn a run's metrics into the few numbers a claim compares live here, where they
are tested on hand-made metrics (``tests/book/test_claims.py``). The thresholds a claim asserts
stay in the chapter, next to its words. Where a claim was redefined after we saw data, the
book's decisions log (``chapters/08_decisions.md``) gives the history and the numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

import torch
from jaxtyping import Float
from torch import Tensor

from ..engine.config import model_family, parse_model_name
from ..measure.heads import head_labels
from ..measure.phase import PhaseWindow, fraction_formed_in_window, fraction_of_icl_in_window, smoothed_over_training
from .analysis import first_crossing

__all__ = [
    "plain",
    "multi_layer",
    "one_layer_vanilla",
    "top_prefix_matching",
    "PhaseChangeReadings",
    "phase_change_readings",
    "shares_above",
    "crossings_outside_window",
    "repeat_accuracy",
    "RepeatReadings",
    "repeat_readings",
    "windows_open_at_end",
    "SmearedLead",
    "smeared_lead",
    "LargestDeltaHead",
    "largest_delta_head",
    "CompositionInto",
    "composition_into",
    "INTERVENTION_PAIRS",
    "InterventionReadings",
    "intervention_readings",
    "trained_pairs",
]

NAN = float("nan")


# ------------------------------------------------------------------- Argument 1: phase change

def plain(names: Iterable[str]) -> list[str]:
    """The models trained as the paper trains its own, on the size's recipe: every name without a
    variant (no intervention, no change of recipe or data;
    :data:`induction_heads.engine.config.MODEL_VARIANTS`) and without a recipe change
    (``-natural``, ``-long``: :data:`induction_heads.engine.config.RECIPES`; they have sections of
    their own)."""
    return [n for n in names if (p := parse_model_name(n)).variant is None and not p.recipes]


def multi_layer(names: Iterable[str]) -> list[str]:
    """The models Argument 1's claims are about: every plain model with two or more layers (the
    paper: "every model with more than one layer"), seeds, MLP and smeared-key models included;
    the interventions of the co-perturbation experiment are not."""
    return [n for n in plain(names) if model_family(n)[1] > 1]


def one_layer_vanilla(names: Iterable[str]) -> list[str]:
    """The one-layer models that should show neither an induction head nor a phase change. The
    one-layer smeared-key model is left out: it is Argument 2's, and it should have both."""
    return [n for n in plain(names) if model_family(n)[1] == 1 and model_family(n)[0] != "smeared"]


def top_prefix_matching(prefix_matching: Float[Tensor, "snapshot layer head"]) -> Float[Tensor, "snapshot"]:
    """The largest prefix-matching score over all heads, at each snapshot (float64)."""
    return prefix_matching.flatten(1).max(1).values.double()


@dataclass(frozen=True)
class PhaseChangeReadings:
    """Argument 1's numbers for one model.

    ``icl_share`` and ``head_share`` are NaN where they are undefined (no window, or no ICL at
    the end); a NaN compares False with any threshold, so a claim on them then fails.
    """

    window: PhaseWindow | None
    final_icl: float  # the ICL score at the last snapshot
    icl_share: float  # share of the final ICL gained inside the window
    max_prefix_matching: float  # largest prefix-matching score of any head at any snapshot
    head_share: float  # share of the largest head score's final (smoothed) value gained inside the window
    head_crossing: float | None  # training tokens at the first snapshot where that score reaches 0.5
    head_level: float  # that score, smoothed, at the last snapshot

    @property
    def window_start(self) -> float:
        return self.window.start if self.window is not None else NAN

    @property
    def window_end(self) -> float:
        return self.window.end if self.window is not None else NAN


def phase_change_readings(
    metrics: Mapping[str, Tensor], window: PhaseWindow | None, crossing: float = 0.5
) -> PhaseChangeReadings:
    """A run's Argument 1 numbers (paper §Argument 1: induction heads form and ICL jumps in the
    same window). The shares are :func:`~induction_heads.measure.phase.fraction_of_icl_in_window`
    and :func:`~induction_heads.measure.phase.fraction_formed_in_window` of the largest
    prefix-matching score; ``crossing`` is the fixed score the head's crossing is reported at."""
    tokens, icl = metrics["tokens"].double(), metrics["icl_score"].double()
    top = top_prefix_matching(metrics["prefix_matching"])
    has_icl = window is not None and float(icl[-1]) < 0
    return PhaseChangeReadings(
        window=window,
        final_icl=float(icl[-1]),
        icl_share=fraction_of_icl_in_window(tokens, icl, window) if has_icl else NAN,
        max_prefix_matching=float(top.max()),
        head_share=fraction_formed_in_window(tokens, top, window) if window is not None else NAN,
        head_crossing=first_crossing(tokens, top, crossing),
        head_level=float(smoothed_over_training(tokens, top, [float(tokens[-1])])[0]),
    )


def repeat_accuracy(metrics: Mapping[str, Tensor]) -> Float[Tensor, "snapshot"] | None:
    """Top-1 accuracy on the second and later copies of repeated random tokens (the repeat test,
    :mod:`induction_heads.measure.repeats`) at every snapshot; None for a run recorded before the
    recorder had the test."""
    if "repeat_top1" not in metrics:
        return None
    return metrics["repeat_top1"][:, 1:].double().mean(-1)


@dataclass(frozen=True)
class RepeatReadings:
    """When a model starts to complete repeats, against its phase-change window.

    ``onset`` is the first snapshot at which the repeat accuracy, smoothed over ln(tokens) as in
    the window rule, has made ``rise`` (10%) of its climb from the first snapshot to its highest
    smoothed value: where copying starts, whatever level it climbs to (ours level off between
    0.2 and 0.5, the paper's near 1). None if it never climbs.
    """

    onset: float | None
    final: float  # smoothed at the last snapshot
    best: float  # highest single snapshot
    share_in_window: float  # share of the final (smoothed) accuracy gained inside the window; NaN without one

    def starts_in(self, window: PhaseWindow | None) -> bool:
        return window is not None and self.onset is not None and window.start <= self.onset <= window.end


def repeat_readings(metrics: Mapping[str, Tensor], window: PhaseWindow | None, rise: float = 0.1) -> RepeatReadings | None:
    """Argument 1's repeat numbers for one run (None if it has no repeat test recorded)."""
    acc = repeat_accuracy(metrics)
    if acc is None:
        return None
    tokens = metrics["tokens"].double()
    at = tokens[tokens > 0].tolist()
    smooth = smoothed_over_training(tokens, acc, at)
    first, top = float(smooth[0]), float(smooth.max())
    hit = torch.nonzero(smooth >= first + rise * (top - first)) if top > first else []
    final = float(smooth[-1])
    return RepeatReadings(
        onset=float(at[int(hit[0])]) if len(hit) else None,
        final=final,
        best=float(acc.max()),
        share_in_window=fraction_formed_in_window(tokens, acc, window) if window is not None and final > 0 else NAN,
    )


def shares_above(shares: Mapping[str, float], level: float) -> tuple[int, int, float]:
    """``(how many shares exceed level, how many there are, the smallest)``; the smallest is
    NaN when there are none."""
    over = [n for n, share in shares.items() if share > level]
    return len(over), len(shares), min(shares.values(), default=NAN)


def crossings_outside_window(readings: Mapping[str, PhaseChangeReadings]) -> dict[str, float | None]:
    """The models whose head crossing is not inside their window (None: it never crossed)."""
    def inside(r: PhaseChangeReadings) -> bool:
        return r.head_crossing is not None and r.window is not None and r.window_start <= r.head_crossing <= r.window_end

    return {n: r.head_crossing for n, r in readings.items() if not inside(r)}


def windows_open_at_end(runs: Mapping[str, Mapping[str, Tensor]], windows: Mapping[str, PhaseWindow | None]) -> list[str]:
    """The models whose window runs to the last snapshot: their ICL score is still falling fast
    when training stops, so their phase change may not be over."""
    return [n for n, w in windows.items() if w is not None and w.end == float(runs[n]["tokens"][-1])]


# ------------------------------------------------------------------- Argument 2: smeared keys

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


# ------------------------------------------------------------------ Argument 3: ablations

@dataclass(frozen=True)
class LargestDeltaHead:
    """The head whose ablation changes the ICL score most, and its class."""

    head: str
    delta_icl: float
    head_class: str


def largest_delta_head(delta_icl: Float[Tensor, "layer head"], classes: list[str]) -> LargestDeltaHead:
    """The head with the largest ΔICL (ablated minus clean: ablating it removes the most ICL);
    ``classes`` are the heads' classes in :func:`~induction_heads.measure.heads.head_labels` order."""
    flat = delta_icl.flatten()
    top = int(flat.argmax())
    return LargestDeltaHead(head_labels(*delta_icl.shape)[top], float(flat[top]), classes[top])


# ----------------------------------------------------------------- Argument 5: mechanism

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
    from .circuit_figures import top_compositions

    into = top_compositions(scores, dst=head)
    best = {mode: next(r for r in into if r[0] == mode) for mode in "KQV"}
    return CompositionInto(
        k_from_prev=next(s for mode, src, _, s in into if mode == "K" and src == prev_head),
        top_k_source=best["K"][1], top_k=best["K"][3],
        top_q_source=best["Q"][1], top_q=best["Q"][3],
        top_v_source=best["V"][1], top_v=best["V"][3],
        largest_mode=into[0][0],
    )


# ------------------------------------------------------------------- Argument 2: both directions

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