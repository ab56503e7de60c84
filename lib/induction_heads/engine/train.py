"""The trainer: one loop, read top to bottom.

AdamW with linear warm-up (then constant or cosine), batches that depend only on (seed, step),
and at log-spaced snapshots (densified where the phase change is expected) the measurement
recorder (:mod:`induction_heads.measure.recorder`) on the size's shared evaluation set. What a
run writes (``data/<size>/zoo/<model>/``): ``metrics.safetensors`` (one row per snapshot),
``checkpoints/step_<n>.safetensors``, ``train.log``, ``resume.safetensors`` while unfinished, and
``info.json`` when finished.

Resumable: a run killed at any moment resumes from its last resume point with the same command,
and on CPU the finished run is bit-identical to an uninterrupted one (batches depend only on the
step; model, optimizer state and accumulators are saved exactly). Every write is atomic.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import logging
import math
import platform
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..measure.phase import phase_change_window, snapshots_around
from ..measure.recorder import Recorder
from .config import ModelConfig, TrainConfig, checkpoints_kept, get_size, model_config, train_config
from .dataset import (prepare_data, sample_batch, train_stream, translation_map, with_repeated_windows,
                      with_translated_windows)
from .model import InductionLM, to_bridge
from .runs import (CHECKPOINT_GLOB, CHECKPOINTS, RunStoreError, checkpoint_file, checkpoint_step, load_eval_set,
                   load_model, load_token_counts, run_dir, size_dir)
from .store import atomic_save_tensors, atomic_write_json, delete_file, read_tensors, record_file
from .tokenizer import random_token_pool

__all__ = [
    "snapshot_steps",
    "lr_at",
    "next_token_loss",
    "make_recorder",
    "ResumeState",
    "save_resume",
    "load_resume",
    "History",
    "select_checkpoints",
    "finish_run",
    "record_snapshot",
    "train",
]


# ------------------------------------------------------------------ schedule and step

def snapshot_steps(t: TrainConfig) -> list[int]:
    """Step 0, log-spaced steps up to the end, evenly spaced steps inside ``t.dense`` and the
    recipe's marks."""
    log = np.unique(np.round(np.logspace(0, math.log10(t.total_steps), t.n_log_snapshots)).astype(int))
    lo, hi = (int(f * t.total_steps) for f in t.dense)
    dense = np.linspace(lo, hi, t.n_dense_snapshots).round().astype(int)
    return sorted({0, t.total_steps, *log.tolist(), *dense.tolist(), *t.marks})


def lr_at(step: int, t: TrainConfig) -> float:
    """Linear warm-up to ``t.lr``, then constant, cosine down to ``t.min_lr_frac * t.lr``, or
    "wsd" (warm-up, stable, decay): constant, then linear to 0 over the last ``t.decay_frac``."""
    if step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    if t.schedule == "constant":
        return t.lr
    if t.schedule == "wsd":
        decay_start = t.total_steps * (1 - t.decay_frac)
        return t.lr * min(1.0, (t.total_steps - step) / max(1.0, t.total_steps - decay_start))
    frac = (step - t.warmup_steps) / max(1, t.total_steps - t.warmup_steps)
    return t.lr * (t.min_lr_frac + (1 - t.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac)))


def next_token_loss(model: InductionLM, batch: Tensor) -> Tensor:
    """Mean cross-entropy of predicting ``batch[:, 1:]`` from ``batch[:, :-1]``."""
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())


def make_optimizer(model: InductionLM, t: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only (not on biases, LayerNorm gains or smear scalars),
    and not on the embedding and unembedding when ``t.decay_embeddings`` is False."""
    def decays(name: str, p: Tensor) -> bool:
        return p.dim() >= 2 and (t.decay_embeddings or name not in ("embed.weight", "unembed.weight"))

    decay = [p for n, p in model.named_parameters() if decays(n, p)]
    no_decay = [p for n, p in model.named_parameters() if not decays(n, p)]
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one kernel for the whole update (about 20% faster per step on CPU than the loop
    # implementation, benchmarks/train_throughput.py --profile); deterministic, so resume stays exact.
    return torch.optim.AdamW(groups, lr=t.lr, betas=t.betas, fused=True)


def training_batch(stream, step: int, t: TrainConfig, cfg: ModelConfig) -> Tensor:
    """The batch of ``step`` (:func:`sample_batch`), with the recipe's repeated and translated
    windows mixed in (the translation: :func:`translation_map` of the vocabulary); a function of
    (data seed, step) only. A cool-down's steps continue its source run's (``t.init_step + step``),
    so it sees the data that run would have seen next."""
    step = t.init_step + step
    batch = sample_batch(stream, step, t.batch_size, cfg.n_ctx, t.data_seed)
    if t.repeat_frac:
        batch = with_repeated_windows(batch, step, t.data_seed, t.repeat_frac, t.repeat_window)
    if t.translate_frac:
        batch = with_translated_windows(batch, step, t.data_seed, t.translate_frac, t.repeat_window,
                                        translation_map(cfg.d_vocab))
    return batch


def make_recorder(size: str, t: TrainConfig, device: str = "cpu", circuits: bool = True) -> Recorder:
    """The measurement recorder on the evaluation set and random-token pool of ``size``
    (``circuits=False``: behaviour only, as the live chapter records)."""
    tokens, positions = load_eval_set(size)
    pool = random_token_pool(load_token_counts(size))
    return Recorder(tokens, positions, pool, to_bridge, t.eval_batch_size, device, t.n_ablation_sequences, circuits)


# ------------------------------------------------------------------ resume state

@dataclass
class ResumeState:
    """What a resumed run needs besides the model and optimizer: the next step, the training
    loss accumulated since the last snapshot, and the wall time spent so far."""

    step: int = 0
    loss_sum: float = 0.0
    loss_n: int = 0
    elapsed_s: float = 0.0


def save_resume(path: Path, model: InductionLM, opt: torch.optim.Optimizer, state: ResumeState) -> None:
    """Model, optimizer state and :class:`ResumeState` in one safetensors file (exact: float64
    accumulators, every optimizer tensor as saved)."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for i, st in opt.state_dict()["state"].items():
        tensors.update({f"opt.{i}.{k}": v if torch.is_tensor(v) else torch.tensor(v) for k, v in st.items()})
    tensors.update({
        "step": torch.tensor(state.step),
        "loss_sum": torch.tensor(state.loss_sum, dtype=torch.float64),
        "loss_n": torch.tensor(state.loss_n),
        "elapsed_s": torch.tensor(state.elapsed_s, dtype=torch.float64),
    })
    atomic_save_tensors(tensors, path)


def load_resume(path: Path, model: InductionLM, opt: torch.optim.Optimizer) -> ResumeState:
    """Restore what :func:`save_resume` wrote into ``model`` and ``opt``; return the state."""
    r = read_tensors(path, "delete it to restart the run")
    model.load_state_dict({k[len("model."):]: v for k, v in r.items() if k.startswith("model.")})
    sd = opt.state_dict()
    sd["state"] = {}
    for key, v in r.items():
        if key.startswith("opt."):
            _, i, k = key.split(".", 2)
            sd["state"].setdefault(int(i), {})[k] = v
    opt.load_state_dict(sd)
    return ResumeState(int(r["step"]), float(r["loss_sum"]), int(r["loss_n"]), float(r["elapsed_s"]))


class History:
    """The recorded snapshots of a run, one list of tensors per metric, saved as one file."""

    def __init__(self, keys: tuple[str, ...]):
        self.rows: dict[str, list[Tensor]] = {k: [] for k in keys}

    def __len__(self) -> int:
        return len(self.rows["step"])

    def append(self, row: dict[str, Tensor]) -> None:
        for k, v in self.rows.items():
            v.append(row[k])

    def stacked(self) -> dict[str, Tensor]:
        return {k: torch.stack(v) for k, v in self.rows.items()}

    def save(self, path: Path) -> None:
        atomic_save_tensors(self.stacked(), path)

    def load(self, path: Path, up_to_step: int) -> None:
        """The snapshots saved at ``path`` up to ``up_to_step`` (a resumed run's)."""
        m = read_tensors(path, "delete the run folder to restart it")
        keep = m["step"] <= up_to_step
        self.rows = {k: list(m[k][keep]) for k in self.rows}


# ------------------------------------------------------------------ the run's end

def select_checkpoints(tokens: Tensor, icl: Tensor, steps: list[int], n_keep: int,
                       marks: tuple[int, ...] = ()) -> list[int]:
    """Snapshot steps whose full checkpoints are kept after training (at most ``n_keep``).

    With a phase change (:func:`induction_heads.measure.phase.phase_change_window`): the last
    snapshot before the window, the one nearest its peak rate, the first one after it, and the
    final step. Without one: where the ICL score has made 10%, 50% and 90% of its total change,
    and the final step. ``marks`` (a recipe's marked steps) are kept first: then the final step,
    then the earliest of the others (the one before the window, where there is one).
    """
    if n_keep == 1:
        return [steps[-1]]
    if marks:
        rest = [s for s in select_checkpoints(tokens, icl, steps, len(steps)) if s not in marks and s != steps[-1]]
        return sorted(({*marks, steps[-1]} | set(rest[: max(0, n_keep - len(marks) - 1)])))[-n_keep:]
    keep = {steps[-1]}
    window = phase_change_window(tokens.double(), icl.double())
    if window is not None:
        before, after = snapshots_around(tokens, window)
        keep.add(steps[before])
        keep.add(steps[int((tokens.double() - window.peak).abs().argmin())])
        keep.add(steps[after])
    else:
        total = icl[-1] - icl[0]
        if abs(float(total)) > 1e-6:
            progress = (icl - icl[0]) / total
            for q in (0.1, 0.5, 0.9):
                hit = torch.nonzero(progress >= q)
                keep.add(steps[int(hit[0]) if len(hit) else -1])
    return sorted(keep)[-n_keep:]


def finish_run(run: Path, size: str, name: str, cfg: ModelConfig, t: TrainConfig, metrics: dict[str, Tensor],
               state: ResumeState, device: str) -> list[int]:
    """Keep a few checkpoints (:func:`select_checkpoints`), write ``info.json`` (configs, versions,
    git commit, hardware, wall time), drop the resume file, log the end and record ``train.log``
    (complete now) in the run's manifest. Returns the kept steps."""
    steps = metrics["step"].tolist()
    keep = select_checkpoints(metrics["tokens"], metrics["icl_score"], steps, checkpoints_kept(size, name), t.marks)
    for path in (run / CHECKPOINTS).glob(CHECKPOINT_GLOB):
        if checkpoint_step(path) not in keep:
            delete_file(path)
    info = {
        "size": size, "name": name, "model_config": asdict(cfg), "train_config": asdict(t),
        "seed": cfg.seed, "data_seed": t.data_seed, "versions": _versions(), "git_commit": _git_commit(),
        "hardware": {"platform": platform.platform(), "processor": platform.processor(), "device": device,
                     "torch_threads": torch.get_num_threads()},
        "wall_time_s": state.elapsed_s, "tokens_trained": int(metrics["tokens"][-1]), "n_snapshots": len(steps),
        "checkpoints": keep, "finished": True,
    }
    atomic_write_json(info, run / "info.json")
    delete_file(run / "resume.safetensors")
    _logger(run / "train.log").info(f"finished in {state.elapsed_s:.0f}s; kept checkpoints at steps {keep}")
    record_file(run / "train.log")
    return keep


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformer-lens", "tokenizers", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def _logger(path: Path) -> logging.Logger:
    logger = logging.getLogger(f"induction_heads.train.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    return logger


def _is_finished(run: Path) -> bool:
    info = run / "info.json"
    return info.exists() and bool(json.loads(info.read_text()).get("finished"))


# ------------------------------------------------------------------ the loop

def train(
    size: str,
    name: str,
    out: Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    stop_after_step: int | None = None,
    model_cfg: ModelConfig | None = None,
    train_cfg: TrainConfig | None = None,
    recorder: Recorder | None = None,
    on_snapshot: Callable[[dict[str, Tensor]], bool] | None = None,
) -> Path:
    """Train (or resume, or skip if finished) model ``name`` of size ``size``; return its folder
    (``out``, default ``data/<size>/zoo/<name>``). ``stop_after_step`` stops resumably (tests of
    resumption); ``model_cfg``/``train_cfg`` override the size's configs (calibration sweeps);
    ``recorder`` replaces the size's full recorder; ``on_snapshot`` sees the metrics so far after
    every snapshot and stops the run (resumably) by returning True (the live chapter)."""
    cfg, t = _configs(size, name, model_cfg, train_cfg)
    run = Path(out) if out is not None else run_dir(size, name)
    if _is_finished(run):
        return run
    run.mkdir(parents=True, exist_ok=True)
    log = _logger(run / "train.log")
    prepare_data(size, log=log.info)
    stream = train_stream(size)
    torch.manual_seed(cfg.seed)  # the model draws from its own generator; this keeps anything else seeded too
    model, recorder = InductionLM(cfg).to(device), recorder or make_recorder(size, t, device)
    opt, history = make_optimizer(model, t), History(("step", "tokens", "train_loss", "lr", "elapsed_s") + recorder.keys)
    state = _start_or_resume(run, model, opt, history, log, f"{size}/{name}: {json.dumps(asdict(cfg))}")
    if state.step == 0 and t.init_from:
        _init_from_source(model, size, t, cfg, log)
    snapshots = set(snapshot_steps(t))
    step_loss = torch.compile(next_token_loss) if t.compile else next_token_loss  # deterministic either way
    if len(history) == 0:
        record_snapshot(run, model, recorder, history, state, t, log)
    bar = _progress_bar(progress, t.total_steps, state.step, f"{size}/{name}")
    model.train()
    t0 = time.perf_counter()
    for step in range(state.step, t.total_steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, t)
        batch = training_batch(stream, step, t, cfg).to(device)
        loss = step_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        opt.step()
        state.step, state.loss_sum, state.loss_n = step + 1, state.loss_sum + float(loss.detach()), state.loss_n + 1
        state.elapsed_s, t0 = state.elapsed_s + time.perf_counter() - t0, time.perf_counter()
        stop = state.step == stop_after_step
        if state.step in snapshots:
            record_snapshot(run, model, recorder, history, state, t, log, bar)
            stop = stop or bool(on_snapshot and on_snapshot(history.stacked()))
        if state.step % t.resume_every == 0 or state.step in snapshots or stop:
            save_resume(run / "resume.safetensors", model, opt, state)
        if bar is not None:
            bar.update(1)
        if stop:
            break
    if bar is not None:
        bar.close()
    if state.step == t.total_steps:
        finish_run(run, size, name, cfg, t, history.stacked(), state, device)
    return run


def _configs(size: str, name: str, model_cfg: ModelConfig | None, train_cfg: TrainConfig | None):
    """The run's configs: the size's, or the given overrides (which must keep its vocabulary and
    context length, since the size provides the tokenizer and evaluation set)."""
    cfg, t = model_cfg or model_config(size, name), train_cfg or train_config(size, name)
    if (cfg.d_vocab, cfg.n_ctx) != (get_size(size).vocab_size, get_size(size).n_ctx):
        raise ValueError(f"model_cfg must keep the {size} size's vocabulary and context length")
    return cfg, t


def _init_from_source(model: InductionLM, size: str, t: TrainConfig, cfg: ModelConfig, log: logging.Logger) -> None:
    """Load the final weights of the run a cool-down continues (``t.init_from``), which must be
    finished, of the same architecture, and end at ``t.init_step``."""
    source = run_dir(size, t.init_from)
    if not _is_finished(source):
        raise RunStoreError(f"{t.init_from} is not trained yet: this run continues it; train it first "
                            f"(`python -m induction_heads train --size {size} --model {t.init_from}`)")
    src = load_model(size, t.init_from)
    if src.cfg != cfg:
        raise ValueError(f"{t.init_from}'s architecture differs from this run's; a cool-down continues the same model")
    steps = json.loads((source / "info.json").read_text())["checkpoints"]
    if steps[-1] != t.init_step:
        raise ValueError(f"{t.init_from} ends at step {steps[-1]}, not {t.init_step}")
    model.load_state_dict(src.state_dict())
    log.info(f"starting from {t.init_from} at step {t.init_step} (optimizer state new)")


def _start_or_resume(run: Path, model, opt, history: History, log: logging.Logger, what: str) -> ResumeState:
    """A fresh :class:`ResumeState`, or the saved one with model, optimizer and history restored."""
    if not (run / "resume.safetensors").exists():
        log.info(f"starting {what}")
        return ResumeState()
    state = load_resume(run / "resume.safetensors", model, opt)
    if (run / "metrics.safetensors").exists():
        history.load(run / "metrics.safetensors", state.step)
    log.info(f"resuming at step {state.step}: {what}")
    return state


def record_snapshot(run: Path, model: InductionLM, recorder: Recorder, history: History, state: ResumeState,
                    t: TrainConfig, log: logging.Logger, bar=None) -> None:
    """Measure the model at ``state.step``, append the row to ``history``, save the metrics and a
    checkpoint, and start a new training-loss average."""
    step = state.step
    row = {"step": torch.tensor(step), "tokens": torch.tensor(t.tokens_seen(step, model.cfg.n_ctx)),
           "train_loss": torch.tensor(state.loss_sum / state.loss_n if state.loss_n else float("nan")),
           "lr": torch.tensor(lr_at(max(step - 1, 0), t)), "elapsed_s": torch.tensor(state.elapsed_s),
           **recorder(model)}
    history.append(row)
    history.save(run / "metrics.safetensors")
    atomic_save_tensors(model.state_dict(), run / CHECKPOINTS / checkpoint_file(step))
    state.loss_sum, state.loss_n = 0.0, 0
    summary = (f"loss={float(row['train_loss']):.3f} icl={float(row['icl_score']):+.3f} "
               f"prefix_max={float(row['prefix_matching'].max()):.3f} prev_max={float(row['previous_token'].max()):.3f}")
    log.info(f"step {step} tokens {int(row['tokens']):,} eval_loss {float(row['per_token_loss'].mean()):.3f} {summary}")
    if bar is not None:
        bar.set_postfix_str(summary)


def _progress_bar(on: bool, total: int, initial: int, desc: str):
    if not on:
        return None
    # Imported here: tqdm.auto warns on import in a notebook kernel without ipywidgets, and every
    # chapter imports this module; only a run with a progress bar needs it.
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", mininterval=2)
