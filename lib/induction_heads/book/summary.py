"""The reproduction in one table: for every model of a size, the paper's headline quantities
computed from the run store (``python -m induction_heads summary --size small --json``).

Nothing here is typed in by hand except :data:`PAPER`, the paper's own reported numbers, kept
beside ours for comparison.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
from jaxtyping import Float
from torch import Tensor

from ..engine.train import make_recorder
from ..engine.zoo import Run, Trajectory, Zoo
from ..measure.heads import induction_heads, parse_head
from ..measure.intervals import Interval, bootstrap_ci, seed_spread
from ..measure.metrics import icl_score, prefix_matching_score
from ..measure.phase import icl_share_in_window, peak_icl_rate, smoothed_over_training
from ..measure.scaling import induction_heads_by_layer
from .argument1 import bump, phase_change_readings, repeat_readings, seeds_by_model, windows
from ..engine.runs import load_eval_set
from ..measure.ablation import clean_losses
from .argument3 import DECIDING_METHOD, class_split, fraction_removed_interval, induction_ablation
from .argument4 import argument4_summary
from .argument6 import rung
from .readings import reading

__all__ = ["PAPER", "argument6_summary", "model_summary", "phase_readings", "ablation_readings", "zero_ablation_numbers", "summary", "FinalSamples", "final_samples",
           "final_intervals", "interval_readings", "final_readings", "final_readings_by_name", "INTERVAL_KEYS", "SEED_SPREAD_KEYS", "seed_spreads"]

# The paper's numbers (Olsson et al. 2022), for the side-by-side table. Source: the paper's Argument 1 and Model Analysis Table.
PAPER = {
    "icl_score_before_window": "> -0.15 (less than 0.15 nats of ICL)",
    "icl_score_final": "about -0.4 (2+ layers); about -0.1 (1 layer)",
    "icl_share_in_window": "> 0.75",
    "phase_change_window": "2.5e9-5e9 tokens (Argument 1 text) or 1e9-3e9 (Model Details)",
    "max_prefix_matching_score": "0.8-0.9 for formed induction heads; ~0 in 1-layer models",
    "loss_bump": "yes, for every model with 2+ layers; none for 1 layer",
    "ablation_icl_fraction_removed": "'almost all' ICL in small attention-only models",
    # The paper gives no number for the repeat test; its figures show repeats predicted by
    # attending to the earlier occurrence. The hand-built circuit (measure.handbuilt) scores 1.0.
    "repeat_top1": "no number (repeats are copied); a hand-built induction circuit: 1.0",
    "passage_top1_second_copy": "no number (its Harry Potter passage is copied)",
    "copying_score": "positive ('positive copying')",
}


def _final_copying(metrics: Trajectory) -> Tensor:
    if "copying" not in metrics:
        raise KeyError("this run's metrics have no 'copying' scores; retrain it with the current trainer")
    return metrics["copying"][-1]


def final_repeat_test(run: Run, trajectory: Trajectory | None = None) -> dict[str, float]:
    """The repeat test at the end of training: top-1 on the repeats of random tokens (copies
    after the first) and on a held-out passage's second copy. Read from the recorder's last
    snapshot; a run recorded before the recorder had the test is measured the recorder's way on
    its final checkpoint (the same model). ``trajectory``: default the run's."""
    metrics = run.trajectory if trajectory is None else trajectory
    if "repeat_top1" in metrics:
        rep, passage = metrics["repeat_top1"][-1], metrics["passage_top1"][-1]
    else:
        scores = make_recorder(run.size, run.train_config).repeat_scores(run.model())
        rep, passage = scores["repeat_top1"], scores["passage_top1"]
    return {"repeat_top1": round(float(rep[1:].mean()), 4), "passage_top1_second_copy": round(float(passage[1]), 4)}


def model_summary(run: Run, with_ablation: bool = True, with_argument4: bool = True) -> dict:
    """The headline numbers of one run (see the module docstring of :mod:`induction_heads.book.summary`);
    with ``with_argument4``, also Argument 4's under ``"argument4"``
    (:func:`induction_heads.book.argument4.argument4_summary`: a few seconds a model)."""
    m, cfg = run.trajectory, run.model_config
    tokens, icl = m.tokens_seen.double(), m["icl_score"].double()
    window = windows({run.name: m})[run.name]
    loss_bump = bump(run)
    prefix_final = m["prefix_matching"][-1]
    heads = induction_heads(prefix_final, _final_copying(m))
    before = None
    if window is not None:  # read on the smoothed curve: single snapshots are noisy
        before = round(float(smoothed_over_training(tokens, icl, [window.start])[0]), 4)
    out = {
        "layers": cfg.n_layers,
        "attn_only": cfg.attn_only,
        "smeared_key": cfg.smeared_key,
        "seed": cfg.seed,
        "tokens_trained": int(tokens[-1]),
        "wall_time_s": round(run.info["wall_time_s"]),
        "icl_score_final": round(float(icl[-1]), 4),
        "icl_score_before_window": before,  # smoothed ICL at the window's start
        "phase_change_window": None if window is None else {"start": round(window.start), "end": round(window.end)},
        "icl_share_in_window": None
        if window is None or float(icl[-1]) >= 0
        else round(icl_share_in_window(tokens, icl, window), 4),
        "max_prefix_matching_score": round(float(prefix_final.max()), 4),
        "induction_heads": heads,
        # each induction head's copying score at the end (the order of induction_heads)
        "copying_score_induction_heads": [round(float(_final_copying(m)[parse_head(h)]), 4) for h in heads],
        "loss_bump": loss_bump is not None,
        **final_repeat_test(run),
        **phase_readings(m, window),
    }
    samples = final_samples(run, prefix_final)
    finals = interval_readings(samples)
    out.update(final_intervals(samples, finals))
    # the same means with their intervals, as the chapters' claims print them ([value, lo, hi])
    out["final_readings"] = {name: [round(float(x), 6) for x in iv] for name, iv in finals.items()}
    # per evaluation sequence, for paired differences between runs (the same sequences in every run)
    out["icl_score_final_by_sequence"] = [round(float(v), 4) for v in samples["icl_score"]]
    if with_ablation:
        out.update(ablation_readings(run, heads))
    out["argument6"] = argument6_summary(run)
    if with_argument4:
        out["argument4"] = argument4_summary(run, heads)
    return out


def phase_readings(trajectory: Trajectory, window) -> dict:
    """Argument 1's readings over training that its claims compare with a threshold: the fastest
    fall of the smoothed ICL score (``peak_icl_rate``, nats per e-fold; a window needs
    :data:`~induction_heads.measure.phase.MIN_PEAK_RATE`), the largest prefix-matching score of any
    head at any snapshot (``max_prefix_matching_over_training``), the share of that head's final
    score gained inside the window (``head_share_in_window``, None without one) and where copying
    of repeated random tokens starts (``repeat_onset``, training tokens; None if it never climbs or
    the run has no repeat test)."""
    tokens, icl = trajectory.tokens_seen.double(), trajectory["icl_score"].double()
    r = phase_change_readings(trajectory, window)
    rep = repeat_readings(trajectory, window)
    share = r.head_share_in_window
    return {
        "peak_icl_rate": round(peak_icl_rate(tokens, icl), 4),
        "max_prefix_matching_over_training": round(r.max_prefix_matching, 4),
        "head_share_in_window": None if share != share else round(share, 4),
        "repeat_onset": None if rep is None or rep.onset is None else round(rep.onset),
    }


def ablation_readings(run: Run, heads: list[str]) -> dict:
    """Argument 3's numbers of one run at its final checkpoint, on the whole evaluation set: the
    share of the ICL score removed by ablating its induction heads together, by zero ablation
    (``ablation_icl_fraction_removed``, the paper's) and by mean ablation
    (``ablation_icl_fraction_removed_mean``, :data:`induction_heads.book.argument3.DECIDING_METHOD`),
    each with its 95% interval (None without an induction head or without ICL to remove); and
    the ICL score split by class (``icl_by_class``: :meth:`induction_heads.book.argument3.ClassSplit.to_json`,
    ``removed`` under mean ablation); and the zero ablation's own numbers (``ablation_zero``:
    :func:`zero_ablation_numbers`)."""
    bridge = run.bridge()
    tokens = load_eval_set(run.size)[0]
    losses = clean_losses(bridge, tokens)
    out, mean = {}, None
    for method, key in (("zero", "ablation_icl_fraction_removed"), (DECIDING_METHOD, "ablation_icl_fraction_removed_mean")):
        ablation = induction_ablation(run, heads, method=method, bridge=bridge, losses=losses) if heads else None
        frac = None if ablation is None else ablation["fraction_removed"]
        out[key] = None if frac is None or frac != frac else round(frac, 4)
        out[f"{key}_ci"] = None if out[key] is None else _ci(fraction_removed_interval(ablation))
        mean = ablation if method == DECIDING_METHOD else mean
        if method == "zero":
            out["ablation_zero"] = None if ablation is None else zero_ablation_numbers(ablation)
    out["icl_by_class"] = class_split(losses, tokens, None if mean is None else mean["losses_ablated"]).to_json()
    return out


def zero_ablation_numbers(ablation: dict) -> dict[str, float]:
    """What chapter 04's table shows of the zero ablation of a run's induction heads together
    (:func:`induction_heads.book.argument3.induction_ablation`): the ICL score clean and ablated,
    the change, and the sum of the single-head changes (rounded to 4 decimals)."""
    return {k: round(ablation[k], 4) for k in ("icl_clean", "icl_all_ablated", "delta_icl_together",
                                                "delta_icl_sum_of_singles")}


class FinalSamples(dict):
    """The per-sample values at the end of training that the summary's means average over:
    ``icl_score`` [evaluation sequence], ``max_prefix_matching`` [random-token sequence] (of the
    head with the largest score), ``repeat_top1`` [random-token sequence] (copies 2-4),
    ``passage_top1_second_copy`` [passage]."""


def final_samples(run: Run, prefix_final: Float[Tensor, "layer head"] | None = None) -> FinalSamples:
    """:class:`FinalSamples` of a run: read from its last snapshot's per-sequence records where the
    recorder kept them, else measured the recorder's way on the final checkpoint (the same model).
    Prefix matching is always measured per sequence on the final checkpoint, for the head with
    the largest recorded score (``prefix_final``: default the last snapshot's)."""
    m = run.trajectory
    prefix_final = m["prefix_matching"][-1] if prefix_final is None else prefix_final
    recorder = make_recorder(run.size, run.train_config, circuits=False)
    model = run.model()
    if "icl_score_by_sequence" in m:
        icl = m["icl_score_by_sequence"][-1]
        rep, passage = m["repeat_top1_by_sequence"][-1], m["passage_top1_by_sequence"][-1]
    else:
        with torch.no_grad():
            icl = icl_score(recorder.eval_losses(model))
        scores = recorder.repeat_scores(model)
        rep, passage = scores["repeat_top1_by_sequence"], scores["passage_top1_by_sequence"]
    layer, head = divmod(int(prefix_final.argmax()), prefix_final.shape[1])
    with torch.no_grad():
        patterns = model.attention_patterns(recorder.repeated)
    prefix = torch.stack([prefix_matching_score(patterns[:, b : b + 1], recorder.repeated[b : b + 1])[layer, head]
                          for b in range(len(recorder.repeated))])
    return FinalSamples(icl_score=icl, max_prefix_matching=prefix, repeat_top1=rep[:, 1:].mean(1),
                        passage_top1_second_copy=passage[:, 1])


# summary key -> FinalSamples key of the samples its 95% interval resamples
INTERVAL_KEYS = {"icl_score_final_ci": "icl_score", "max_prefix_matching_score_ci": "max_prefix_matching",
                 "repeat_top1_ci": "repeat_top1", "passage_top1_second_copy_ci": "passage_top1_second_copy"}


def _ci(interval: Interval) -> list[float]:
    return [round(interval.lo, 4), round(interval.hi, 4)]


def interval_readings(samples: FinalSamples) -> dict[str, Interval]:
    """Each mean of ``samples`` with its 95% bootstrap interval
    (:func:`induction_heads.measure.intervals.bootstrap_ci`, seeded), keyed as ``samples``."""
    return {name: bootstrap_ci(values) for name, values in samples.items()}


def final_readings(run: Run) -> dict[str, Interval]:
    """A run's numbers at the end of training with their 95% intervals, the numbers the chapters'
    claims print: :func:`interval_readings` of :func:`final_samples` (``icl_score``,
    ``max_prefix_matching``, ``repeat_top1``, ``passage_top1_second_copy``)."""
    return interval_readings(final_samples(run))


def final_readings_by_name(zoo: Zoo, trajectories: Mapping[str, Trajectory], names: Iterable[str],
                           rows: Mapping[str, dict] | None = None) -> dict[str, dict[str, Interval | float]]:
    """The numbers the chapter's claims print at the end of training, with their 95% intervals:
    :func:`final_readings` (``icl_score``, ``max_prefix_matching``
    of the largest head, ``repeat_top1`` on copies 2-4, ``passage_top1_second_copy``) of each run
    in ``names``, read from its summary row in ``rows`` where it has one (``final_readings``: the
    same numbers, kept to 6 decimals), else computed. A run whose trajectory is not its committed
    run's (trained live in the chapter) has no checkpoint to resample: its numbers are read from its
    trajectory, without intervals."""
    out: dict[str, dict[str, Interval | float]] = {}
    for n in names:
        m = trajectories[n]
        if n in zoo and m is zoo[n].trajectory and rows is not None and "final_readings" in rows.get(n, {}):
            out[n] = {k: Interval(*v) for k, v in rows[n]["final_readings"].items()}
        elif n in zoo and m is zoo[n].trajectory:
            out[n] = dict(final_readings(zoo[n]))
        else:
            out[n] = {"icl_score": float(m["icl_score"][-1]), "max_prefix_matching": float(m["prefix_matching"][-1].max())}
            if "repeat_top1" in m:
                out[n].update(repeat_top1=float(m["repeat_top1"][-1][1:].mean()),
                              passage_top1_second_copy=float(m["passage_top1"][-1][1]))
    return out


def final_intervals(samples: FinalSamples, readings: Mapping[str, Interval] | None = None) -> dict[str, list[float]]:
    """``{key: [lo, hi]}``: the 95% interval of each mean the summary reports at the end of
    training (:data:`INTERVAL_KEYS`; :func:`interval_readings` of ``samples``, or ``readings``
    where they are computed already)."""
    readings = interval_readings(samples) if readings is None else readings
    return {key: _ci(readings[name]) for key, name in INTERVAL_KEYS.items()}


def argument6_summary(run: Run) -> dict:
    """Argument 6's numbers of one run: where it sits on the ladder (``rung``: whether it is one,
    :func:`induction_heads.book.argument6.rung`; its width and non-embedding parameters, the paper's
    measure of size), the batch and context it trained at (the onset law's B and C), and how many
    induction heads each layer holds at the end of training."""
    cfg, metrics = run.model_config, run.trajectory
    return {
        "rung": rung(run.size, run.name) is not None,
        "d_model": cfg.d_model,
        "non_embedding_params": cfg.non_embedding_params,
        "batch_size": run.train_config.batch_size,
        "n_ctx": cfg.n_ctx,
        "induction_heads_by_layer": induction_heads_by_layer(metrics["prefix_matching"][-1], _final_copying(metrics)),
    }


# The numbers summarised over the seeds of a model: summary key -> how to read it from a row.
SEED_SPREAD_KEYS = {
    "icl_score_final": lambda r: r["icl_score_final"],
    "window_start": lambda r: (r["phase_change_window"] or {}).get("start"),
    "max_prefix_matching_score": lambda r: r["max_prefix_matching_score"],
    "repeat_top1": lambda r: r.get("repeat_top1"),
    "ablation_icl_fraction_removed": lambda r: r.get("ablation_icl_fraction_removed"),
}


def seed_spreads(rows: dict[str, dict]) -> dict[str, dict]:
    """For every model trained with two or more seeds: ``{"seeds": [names], key: {"median", "lo",
    "hi", "n"}}`` for each of :data:`SEED_SPREAD_KEYS` that the seeds have (a model without a
    window or a head leaves its seed out of that key: ``n`` says how many remain). The median
    and range, not an interval: three seeds are too few for one (the decisions log, "Intervals")."""
    out = {}
    for family, names in seeds_by_model(rows).items():
        entry: dict = {"seeds": names}
        for key, read in SEED_SPREAD_KEYS.items():
            values = [v for v in (read(rows[n]) for n in names) if v is not None]
            if values:
                entry[key] = {k: round(v, 4) if isinstance(v, float) else v
                              for k, v in seed_spread(values)._asdict().items()}
        out[family] = entry
    return out


def summary(size: str, with_ablation: bool = True, provenance=None, names: Iterable[str] | None = None) -> dict[str, dict]:
    """:func:`model_summary` of every finished run of ``size`` (or of ``names``), in the zoo's
    order: each run's kept reading where it is current
    (:func:`induction_heads.book.readings.reading`; ``provenance`` collects which were read and
    which computed), computed now otherwise. ``with_ablation=False`` computes every row now,
    without the ablation."""
    zoo = Zoo.load(size, None if names is None else list(names))
    if not zoo:
        raise FileNotFoundError(
            f"no finished runs for size {size!r}; train them with `python -m induction_heads zoo --size {size}`"
        )
    if not with_ablation:
        return {name: model_summary(run, with_ablation) for name, run in zoo.items()}
    return {name: reading(run, model_summary, provenance) for name, run in zoo.items()}
