"""Argument 1, the phase change (chapter 02): which models the claims cover, each run's window,
and the few numbers a claim is decided on.

A chapter states a claim, measures it, shows the figure and then checks it; the loops and
branches that turn a run's :class:`~induction_heads.engine.zoo.Trajectory` into the numbers a
claim compares live here, where they are tested on hand-made trajectories
(``tests/book/test_claims.py``), and so do the claims' thresholds. The measurements themselves are
in :mod:`induction_heads.measure.phase`. Where a claim was redefined after we saw data, the book's
decisions log (``chapters/08_decisions.md``) gives the history and the numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

from ..engine.config import CORE_MODELS, model_family, parse_model_name
from ..engine.runs import load_eval_set, load_tokenizer
from ..engine.zoo import Run, Trajectory
from ..measure.intervals import SeedSpread, bootstrap_band, seed_spread
from ..measure.icl_classes import IclByClass, icl_by_class, loss_by_position_by_class, token_classes
from ..measure.metrics import per_token_losses
from ..measure.heads import THRESHOLDS
from ..measure.phase import (MIN_PEAK_RATE, PhaseWindow, share_in_window, icl_share_in_window, loss_bump,
                             phase_change_window, smoothed_over_training)
from .claims import AFTER, BEFORE, ClaimDef, Reading, Threshold, register
from .readings import register_analysis

__all__ = [
    "class_split_over_training",
    "class_readings_over_training",
    "class_split_models",
    "classes_over_training",
    "CLASSES_OVER_TRAINING",
    "SHARE_IN_WINDOW",
    "PAPER_SHARE_IN_WINDOW",
    "NO_HEAD",
    "FORMS_HEAD",
    "WINDOW_RATE",
    "NO_WINDOW_RATE",
    "COPYING_REACHED",
    "COPIES",
    "CLAIMS",
    "deep_plain",
    "COPY_ONSET_DEVIATIONS",
    "CODE_SNIPPET",
    "plain",
    "multi_layer",
    "one_layer_vanilla",
    "vanilla",
    "windows",
    "bump",
    "first_crossing",
    "text_losses",
    "top_prefix_matching",
    "PhaseChangeReadings",
    "phase_change_readings",
    "shares_above",
    "crossings_outside_window",
    "repeat_accuracy",
    "RepeatReadings",
    "repeat_readings",
    "windows_open_at_end",
    "seed_family",
    "seeds_by_model",
    "SeedCurves",
    "seed_curves",
    "onsets_by_model",
    "recipe_pairs",
    "window_spread",
]

NAN = float("nan")
# The claims' thresholds (each claim below says whose and when it was chosen). At least this share
# of the final ICL (and of the induction head's final score) is gained inside the window; the
# paper's figure for the ICL is "more than 75%", at which the verdict is judged.
SHARE_IN_WINDOW = Threshold(0.5, "at least", "book", AFTER, "Argument 1's third claim: the share of the head formed in the window")
PAPER_SHARE_IN_WINDOW = Threshold(0.75, "above", "paper")
# A model "has no induction head": its largest prefix-matching score over training stays at or below
# this (one-layer models here; Argument 2's knockouts and the referee's second test too).
NO_HEAD = Threshold(0.2, "at most", "book", AFTER)
# A model "forms an induction head": its largest prefix-matching score over training reaches the
# head classes' threshold (induction_heads.measure.heads.HeadThresholds; the paper gives none).
FORMS_HEAD = Threshold(THRESHOLDS.prefix_matching, "at least", "book", AFTER)
# A window needs the smoothed ICL score to fall at least this fast (nats per e-fold of tokens).
WINDOW_RATE = Threshold(MIN_PEAK_RATE, "at least", "book", AFTER, "The phase-change window's minimum peak rate")
NO_WINDOW_RATE = Threshold(MIN_PEAK_RATE, "below", "book", AFTER, "The phase-change window's minimum peak rate")
# The pre-registered level at which a model "copies" repeated random tokens as the paper's heads
# and the hand-built circuit do (top-1 on copies 2-4; the paper gives no number).
COPYING_REACHED = 0.9
COPIES = Threshold(COPYING_REACHED, "at least", "book", BEFORE,
                   "The long run: what the book will say, written before it finished")
# Runs measured *not* to meet the repeat claim (copying starts inside the window), recorded in the
# decisions log ("Argument 1's repeat claim: two smeared seeds start copying before the window")
# and checked as deviations: asserted to still fail, so new data that meets it stops the chapter.
COPY_ONSET_DEVIATIONS: tuple[str, ...] = ("smeared-2l-seed1", "smeared-2l-seed2")


# Our analogue of the paper's Harry Potter paragraph: code in which made-up identifiers repeat,
# so a model can only predict their second and later occurrences from the context.
CODE_SNIPPET = '''def tally_glorp(glorp_ledger, frob_limit):
    glorp_total = 0
    for glorp_entry in glorp_ledger:
        if glorp_entry.frob_count > frob_limit:
            glorp_total += glorp_entry.frob_count
    return glorp_total
'''


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


def vanilla(names: Iterable[str]) -> list[str]:
    """The plain attention-only and MLP models of the first seed (every depth and width): the
    models Argument 1's figures draw, one curve per architecture."""
    return [n for n in plain(names) if model_family(n)[0] in ("attn-only", "mlp") and parse_model_name(n).seed == 0]


def windows(trajectories: Mapping[str, Trajectory]) -> dict[str, PhaseWindow | None]:
    """Each run's phase-change window (:func:`induction_heads.measure.phase.phase_change_window`)."""
    return {n: phase_change_window(t["tokens"].double(), t["icl_score"].double()) for n, t in trajectories.items()}


def bump(run: Run, trajectory: Trajectory | None = None) -> tuple[float, float] | None:
    """The run's loss bump (:func:`induction_heads.measure.phase.loss_bump`) on its held-out loss averaged
    over all positions, looked for after the learning-rate warm-up (which also bends the curve).
    ``trajectory``: another trajectory of the same recipe (the live chapter's), default the run's."""
    t = run.trajectory if trajectory is None else trajectory
    return loss_bump(t.tokens_seen.double(), t["loss_by_position"].mean(-1), after_tokens=run.warmup_tokens)


def first_crossing(tokens: Tensor, score: Tensor, threshold: float) -> float | None:
    """Training tokens at the first snapshot where ``score`` reaches ``threshold`` (None if never)."""
    hit = torch.nonzero(score >= threshold)
    return None if len(hit) == 0 else float(tokens[int(hit[0])])


@torch.no_grad()
def text_losses(run: Run, step: int, text: str) -> tuple[list[str], Float[Tensor, "pos"]]:
    """Per-token losses of a checkpoint on ``text``: the predicted tokens (as strings) and the
    loss of predicting each from everything before it (BOS prepended). A text longer than the
    model's context is cut to its first ``n_ctx`` tokens."""
    tok = load_tokenizer(run.size)
    ids = torch.tensor([[tok.bos_token_id] + tok.encode(text, add_special_tokens=False)])
    model = run.model(step)
    ids = ids[:, : model.cfg.n_ctx]
    losses = per_token_losses(model(ids), ids)[0]
    return [tok.decode([i]) for i in ids[0, 1:].tolist()], losses


def top_prefix_matching(prefix_matching: Float[Tensor, "snapshot layer head"]) -> Float[Tensor, "snapshot"]:
    """The largest prefix-matching score over all heads, at each snapshot (float64)."""
    return prefix_matching.flatten(1).max(1).values.double()


@dataclass(frozen=True)
class PhaseChangeReadings:
    """Argument 1's numbers for one model.

    ``icl_share_in_window`` and ``head_share_in_window`` are NaN where they are undefined (no window, or no ICL at
    the end); a NaN compares False with any threshold, so a claim on them then fails.
    """

    window: PhaseWindow | None
    final_icl: float  # the ICL score at the last snapshot
    icl_share_in_window: float  # share of the final ICL gained inside the window
    max_prefix_matching: float  # largest prefix-matching score of any head at any snapshot
    head_share_in_window: float  # share of the largest head score's final (smoothed) value gained inside the window
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
    same window). The shares are :func:`~induction_heads.measure.phase.icl_share_in_window`
    and :func:`~induction_heads.measure.phase.share_in_window` of the largest
    prefix-matching score; ``crossing`` is the fixed score the head's crossing is reported at."""
    tokens, icl = metrics["tokens"].double(), metrics["icl_score"].double()
    top = top_prefix_matching(metrics["prefix_matching"])
    has_icl = window is not None and float(icl[-1]) < 0
    return PhaseChangeReadings(
        window=window,
        final_icl=float(icl[-1]),
        icl_share_in_window=icl_share_in_window(tokens, icl, window) if has_icl else NAN,
        max_prefix_matching=float(top.max()),
        head_share_in_window=share_in_window(tokens, top, window) if window is not None else NAN,
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
        share_in_window=share_in_window(tokens, acc, window) if window is not None and final > 0 else NAN,
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


def windows_open_at_end(trajectories: Mapping[str, Trajectory], windows: Mapping[str, PhaseWindow | None]) -> list[str]:
    """The models whose window runs to the last snapshot: their ICL score is still falling fast
    when training stops, so their phase change may not be over."""
    return [n for n, w in windows.items() if w is not None and w.end == float(trajectories[n]["tokens"][-1])]


def seed_family(name: str) -> str:
    """The model a run is a seed of: its name without ``-seed<k>`` (``attn-only-2l-seed1`` ->
    ``attn-only-2l``; ``mlp-2l-k-knockout-seed1`` -> ``mlp-2l-k-knockout``)."""
    return re.sub(r"-seed\d+$", "", name)


def seeds_by_model(names: Iterable[str]) -> dict[str, list[str]]:
    """Every model trained with two or more seeds, and its runs (in the order given)."""
    out: dict[str, list[str]] = {}
    for n in names:
        out.setdefault(seed_family(n), []).append(n)
    return {m: runs for m, runs in out.items() if len(runs) > 1}


class SeedCurves(NamedTuple):
    """One model's curve over training for each of its seeds (:func:`seed_curves`)."""

    tokens: Float[Tensor, "snapshot"]  # the seeds' shared snapshot schedule
    curves: Float[Tensor, "seed snapshot"]  # one row per seed, in the order of ``names``
    median: Float[Tensor, "snapshot"]  # over the seeds, snapshot by snapshot
    names: tuple[str, ...]  # the runs, one per seed
    # per seed: (lo, hi) of the 95% band over its evaluation sequences, or None (no per-sequence records)
    bands: tuple[tuple[Float[Tensor, "snapshot"], Float[Tensor, "snapshot"]] | None, ...]


_SEED_CURVE_KEYS = ("icl_score", "max_prefix_matching")


def seed_curves(trajectories: Mapping[str, Trajectory], runs: Iterable[str], key: str = "icl_score") -> SeedCurves:
    """The curves the seed figures draw (``figures.seed_curves``) for the runs of one model
    (``runs``: its seeds, e.g. a value of :func:`seeds_by_model`): every seed's curve, drawn
    faintly, and their median, drawn bold.

    ``key`` is ``"icl_score"`` or ``"max_prefix_matching"`` (the largest head's prefix-matching
    score at each snapshot, :func:`top_prefix_matching`). What we chose: the median over the
    seeds at each snapshot (of two seeds, their mean) and no interval over seeds: three seeds
    are too few for one, the faint curves show the spread instead. A seed whose ICL score was
    recorded per evaluation sequence (``icl_score_by_sequence``, the runs trained since the
    recorder keeps it) gets the 95% band of its curve over those sequences
    (:func:`~induction_heads.measure.intervals.bootstrap_band`: the same resampled sequences at
    every snapshot): a band for that one seed, not for the model. The prefix-matching score gets
    none. The seeds of one model share their snapshot schedule: a run whose ``tokens`` differ
    from the first run's is a ValueError.
    """
    names = tuple(runs)
    if not names:
        raise ValueError("seed_curves needs at least one run")
    if key not in _SEED_CURVE_KEYS:
        raise ValueError(f"seed_curves draws one of {_SEED_CURVE_KEYS}, not {key!r}")
    tokens = trajectories[names[0]]["tokens"].double()
    for n in names[1:]:
        other = trajectories[n]["tokens"].double()
        if other.shape != tokens.shape or not torch.equal(other, tokens):
            raise ValueError(f"{n}'s snapshots differ from {names[0]}'s: the seeds of one model share their tokens")
    curves, bands = [], []
    for n in names:
        t = trajectories[n]
        if key == "icl_score":
            curves.append(t["icl_score"].double())
            bands.append(bootstrap_band(t["icl_score_by_sequence"])[1:] if "icl_score_by_sequence" in t else None)
        else:
            curves.append(top_prefix_matching(t["prefix_matching"]))
            bands.append(None)
    stacked = torch.stack(curves)
    return SeedCurves(tokens, stacked, stacked.quantile(0.5, dim=0), names, tuple(bands))


def onsets_by_model(windows: Mapping[str, PhaseWindow | None]) -> dict[str, list[tuple[str, float | None]]]:
    """For every model with several seeds, each seed's window start (None: no window), the
    onset's spread over seeds (issue of how far one run's timing can be from another's)."""
    return {m: [(n, None if windows[n] is None else windows[n].start) for n in runs]
            for m, runs in seeds_by_model(windows).items()}


def window_spread(windows: Mapping[str, PhaseWindow | None], runs: Iterable[str]) -> dict[str, SeedSpread] | None:
    """A model's window over its seeds (``runs``): the median and range of the start and of the
    end (``{"start": ..., "end": ...}``) over the seeds that have a window (``n`` says how many);
    None when none has. Medians and ranges, not intervals: three seeds are too few for one."""
    found = [windows[n] for n in runs if windows[n] is not None]
    if not found:
        return None
    return {"start": seed_spread([w.start for w in found]), "end": seed_spread([w.end for w in found])}


def recipe_pairs(names: Iterable[str]) -> list[tuple[str, str]]:
    """``(natural, repeat)``: every ``-natural`` run whose twin on the size's repeat recipe (the
    same name without ``-natural``) is among ``names``."""
    names = list(names)
    pairs = []
    for n in names:
        p = parse_model_name(n)
        twin = n.replace("-natural", "", 1)
        if p.natural and not p.long and twin in names:
            pairs.append((n, twin))
    return pairs



@torch.no_grad()
def class_readings_over_training(run: Run, tokens: Tensor, max_sequences: int = 128
                                 ) -> dict[int, tuple[IclByClass, Float[Tensor, "cls pos"]]]:
    """At every kept checkpoint of ``run``, on the evaluation sequences ``tokens`` (for a core
    model: the last checkpoint before its window, the one nearest its peak rate, the first after
    it, and the final one), keyed by step: the ICL score split by what an induction head could
    predict (:func:`induction_heads.measure.icl_classes.icl_by_class`) and each class's
    loss-by-position curve (:func:`induction_heads.measure.icl_classes.loss_by_position_by_class`),
    from one forward pass."""
    classes = token_classes(tokens)
    out = {}
    for step in run.checkpoints:
        model = run.model(step)
        losses = torch.cat([per_token_losses(model(t), t) for t in tokens.split(max_sequences)])
        out[step] = (icl_by_class(losses, classes), loss_by_position_by_class(losses, classes))
    return out


def class_split_over_training(run: Run, tokens: Tensor, max_sequences: int = 128) -> dict[int, IclByClass]:
    """The split of :func:`class_readings_over_training` alone, keyed by step."""
    return {step: split for step, (split, _) in class_readings_over_training(run, tokens, max_sequences).items()}


def classes_over_training(run: Run, tokens: Tensor | None = None) -> dict[str, dict[str, list]]:
    """:func:`class_readings_over_training` of ``run`` on ``tokens`` (default: its size's
    evaluation set) as plain lists, keyed by step (a string): each class's term of the ICL score
    (``contribution``) and its loss-by-position curve (``curve`` [class][position]), rounded to 6
    decimals. Kept with the run's readings for the models of :func:`class_split_models`
    (:data:`CLASSES_OVER_TRAINING`)."""
    tokens = load_eval_set(run.size)[0] if tokens is None else tokens
    return {str(step): {"contribution": [round(float(v), 6) for v in split.contribution],
                        "curve": [[round(float(x), 6) for x in row] for row in curve]}
            for step, (split, curve) in class_readings_over_training(run, tokens).items()}


def class_split_models(names: Iterable[str]) -> list[str]:
    """The models chapter 02 splits the ICL score by class over training: the core models with two
    or more layers, first seed (``CORE_MODELS`` order)."""
    names = set(names)
    return [n for n in CORE_MODELS if n in names and model_family(n)[1] > 1 and model_family(n)[2] == 0]


CLASSES_OVER_TRAINING = register_analysis("argument1.classes-over-training", classes_over_training, class_split_models)


# ------------------------------------------------------------------ the claims (the book's registry)

def deep_plain(names: Iterable[str]) -> list[str]:
    """The plain models with two or more layers and no smeared keys: the models the paper's
    statements about "models with more than one layer" concern in the loss bump and in copying."""
    return [n for n in plain(names) if model_family(n)[1] > 1 and model_family(n)[0] != "smeared"]


def _window_cells(row: dict) -> dict:
    w = row.get("phase_change_window")
    return {"window_start": NAN if w is None else w["start"], "window_end": NAN if w is None else w["end"]}


def _value(row: dict, key: str) -> float:
    v = row.get(key)
    return NAN if v is None else v


def _has_window(rows, n):
    r = rows[n]
    return Reading(ok=r["phase_change_window"] is not None, numbers={"peak_icl_rate": r["peak_icl_rate"], **_window_cells(r)})


def _no_window(rows, n):
    r = rows[n]
    return Reading(ok=r["phase_change_window"] is None, numbers={"peak_icl_rate": r["peak_icl_rate"]})


def _share(rows, n):
    r = rows[n]
    return Reading(_value(r, "icl_share_in_window"), numbers={"final_icl": r["icl_score_final"], **_window_cells(r)})


def _max_prefix(rows, n):
    r = rows[n]
    return Reading(r["max_prefix_matching_over_training"], numbers={"final_largest": r["max_prefix_matching_score"]})


def _head_share(rows, n):
    r = rows[n]
    return Reading(_value(r, "head_share_in_window"), numbers=_window_cells(r))


def _onset(rows, n):
    r, w = rows[n], rows[n]["phase_change_window"]
    onset = r.get("repeat_onset")
    return Reading(ok=w is not None and onset is not None and w["start"] <= onset <= w["end"],
                   numbers={"onset": NAN if onset is None else onset, **_window_cells(r), "final": r["repeat_top1"]})


def _copies(rows, n):
    r = rows[n]
    return Reading(r["repeat_top1"], numbers={"passage_second_copy": r["passage_top1_second_copy"]})


def _bump(rows, n):
    return Reading(ok=bool(rows[n]["loss_bump"]), numbers={"bump": bool(rows[n]["loss_bump"])})


_MULTI, _ONE, _DEEP = multi_layer, one_layer_vanilla, deep_plain
_WITH_REPEATS = lambda rows: [n for n in multi_layer(rows) if rows[n].get("repeat_top1") is not None]  # noqa: E731

_WHERE = "Argument 1 (Figures and text of 'Argument 1: Macroscopic co-occurrence')"
CLAIMS = {
    "window": register(ClaimDef(
        "arg1.window", 1, "has a phase-change window (the smoothed ICL score falls {threshold} nats per e-fold)",
        paper="Every model with more than one layer has a phase change", where=_WHERE,
        reading="peak_icl_rate", threshold=WINDOW_RATE, subjects=_MULTI, read=_has_window)),
    "share-in-window": register(ClaimDef(
        "arg1.share-in-window", 1, "a phase-change window holds {threshold} of the final ICL",
        paper="Models with two or more layers gain most of their in-context learning in one short window of "
              "training (more than 75% of it)", where=_WHERE,
        reading="share_in_window", threshold=SHARE_IN_WINDOW, paper_threshold=PAPER_SHARE_IN_WINDOW,
        subjects=_MULTI, read=_share)),
    "one-layer-no-window": register(ClaimDef(
        "arg1.one-layer-no-window", 1, "a one-layer model has no phase change (its ICL score falls {threshold} nats "
        "per e-fold at its fastest)", paper="One-layer models have no phase change", where=_WHERE,
        reading="peak_icl_rate", threshold=NO_WINDOW_RATE, subjects=_ONE, read=_no_window)),
    "one-layer-no-head": register(ClaimDef(
        "arg1.one-layer-no-head", 1, "a one-layer model forms no induction head (largest prefix-matching score over "
        "training {threshold})", paper="One-layer models form no induction head", where=_WHERE,
        reading="max_prefix_matching", threshold=NO_HEAD, subjects=_ONE, read=_max_prefix)),
    "head": register(ClaimDef(
        "arg1.head", 1, "forms an induction head (largest prefix-matching score over training {threshold})",
        paper="Every model with two or more layers forms induction heads", where=_WHERE,
        reading="max_prefix_matching", threshold=FORMS_HEAD, subjects=_MULTI, read=_max_prefix)),
    "head-in-window": register(ClaimDef(
        "arg1.head-in-window", 1, "its induction head forms in the window ({threshold} of its final score gained there)",
        paper="The induction heads form in the same window as the in-context learning", where=_WHERE,
        reading="share_in_window", threshold=SHARE_IN_WINDOW, subjects=_MULTI, read=_head_share)),
    "copy-onset": register(ClaimDef(
        "arg1.copy-onset", 1, "copying (top-1 on repeated random tokens) starts inside the phase-change window",
        paper="Copying of repeated sequences begins in the same window (the paper's figures)", where=_WHERE,
        deviations=frozenset(COPY_ONSET_DEVIATIONS), subjects=_WITH_REPEATS, read=_onset)),
    "copies": register(ClaimDef(
        "arg1.copies", 1, "completes repeated random tokens as an induction circuit does (top-1 on copies 2-4 {threshold})",
        paper="The heads complete repeated sequences (the paper gives no number; a hand-built induction circuit: 1.0)",
        where=_WHERE, reading="repeat_top1", threshold=COPIES, subjects=_DEEP, read=_copies, asserted=False,
        note="why ours copy weakly is measured in Argument 5")),
    "loss-bump": register(ClaimDef(
        "arg1.loss-bump", 1, "the loss curve bends with a bump in the window",
        paper="The loss curve bends: a bump in the window, in every model with two or more layers", where=_WHERE,
        subjects=_DEEP, read=_bump, asserted=False)),
}
