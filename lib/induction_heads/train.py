"""The trainer and its recorder.

AdamW with linear warm-up (then constant or cosine), snapshots at log-spaced steps densified
where the phase change is expected, and at every snapshot the paper's measurements on the
preset's shared held-out evaluation set:

- ``loss_by_position [S, n_ctx-1]``: mean loss at every context position;
- ``per_token_loss [S, n_eval]``: the loss at one fixed random position per sequence;
- ``icl_score [S]``; ``prefix_matching [S, L, H]``; ``previous_token [S, L, H]``;
- ``train_loss [S]`` (mean training loss since the previous snapshot), ``lr``, ``elapsed_s``.

Resumable: a run killed at any moment resumes from its last resume point with the same command,
and on CPU the finished run is bit-identical to an uninterrupted one (batches depend only on the
step; optimizer state and accumulators are saved exactly). All writes are atomic.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import platform
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from .config import ModelConfig, TrainConfig, get_preset, model_config, train_config
from .dataset import prepare_data, sample_batch, train_stream, with_repeated_windows
from .ablation import single_head_ablations
from .circuits import copying_score, k_composition_trace, ov_eigenvalue_positivity
from .metrics import (
    icl_score,
    icl_window_positions,
    per_token_losses,
    prefix_matching_score,
    previous_token_score,
    repeated_random_tokens,
)
from .model import InductionLM, to_bridge
from .phase import per_token_loss_vector, phase_change_window
from .runs import (
    atomic_save_tensors,
    atomic_write_json,
    load_eval_set,
    load_token_counts,
    preset_dir,
    read_tensors,
)
from .tokenizer import random_token_pool

__all__ = [
    "snapshot_steps",
    "lr_at",
    "Recorder",
    "train",
    "select_checkpoints",
    "next_token_loss",
]

METRIC_KEYS = (
    "step", "tokens", "train_loss", "lr", "elapsed_s", "loss_by_position", "per_token_loss",
    "icl_score", "prefix_matching", "previous_token", "copying", "ov_positivity", "k_composition_trace",
)
ABLATION_KEYS = ("ablation_delta_icl", "ablation_per_token_loss")


def snapshot_steps(t: TrainConfig) -> list[int]:
    """Step 0, log-spaced steps up to the end, and evenly spaced steps inside ``t.dense``."""
    log = np.unique(np.round(np.logspace(0, math.log10(t.total_steps), t.n_log_snapshots)).astype(int))
    lo, hi = (int(f * t.total_steps) for f in t.dense)
    dense = np.linspace(lo, hi, t.n_dense_snapshots).round().astype(int)
    return sorted({0, t.total_steps, *log.tolist(), *dense.tolist()})


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


class Recorder:
    """Computes one snapshot's measurements on the shared evaluation set of a preset.

    The fast twin gives the losses and attention patterns; a TransformerLens bridge converted
    from it gives the circuit statistics (copying, OV positivity, K-composition trace) and,
    when ``n_ablation_sequences`` > 0, every head's pattern-preserving ablation on the first
    ``n_ablation_sequences`` evaluation sequences (so Argument 3 needs no checkpoint per
    snapshot).
    """

    def __init__(self, size: str, eval_batch_size: int, device: str = "cpu", n_ablation_sequences: int = 0):
        self.tokens, self.positions = load_eval_set(size)
        self.batch = eval_batch_size
        self.device = device
        pool = random_token_pool(load_token_counts(size))
        # The paper's evaluator: BOS + 25 random tokens repeated 4 times, 10 sequences.
        self.repeated = repeated_random_tokens(pool, n_sequences=10, length=25, repeats=4, bos=0, seed=0)
        self.text_for_prev = self.tokens[:16]
        self.n_abl = min(n_ablation_sequences, len(self.tokens))

    @torch.no_grad()
    def eval_losses(self, model: InductionLM) -> Float[Tensor, "n_eval pos"]:
        out = []
        for i in range(0, len(self.tokens), self.batch):
            toks = self.tokens[i : i + self.batch].to(self.device)
            out.append(per_token_losses(model(toks), toks).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def __call__(self, model: InductionLM) -> dict[str, Tensor]:
        was_training = model.training
        model.eval()
        losses = self.eval_losses(model)
        lbp = losses.mean(0)
        rep = self.repeated.to(self.device)
        prefix = prefix_matching_score(model.attention_patterns(rep).cpu(), self.repeated)
        prev = previous_token_score(model.attention_patterns(self.text_for_prev.to(self.device)).cpu())
        model.train(was_training)
        bridge = to_bridge(copy.deepcopy(model).cpu().eval())
        out = {
            "loss_by_position": lbp,
            "per_token_loss": per_token_loss_vector(losses, self.positions),
            "icl_score": icl_score(lbp),
            "prefix_matching": prefix,
            "previous_token": prev,
            "copying": copying_score(bridge, self.repeated[:, 1:]),
            "ov_positivity": ov_eigenvalue_positivity(bridge),
            "k_composition_trace": k_composition_trace(bridge, prev),
        }
        if self.n_abl:
            out.update(self.ablations(bridge, losses[: self.n_abl]))
        return out

    def ablations(self, bridge, clean: Float[Tensor, "n pos"]) -> dict[str, Tensor]:
        """Every head's pattern-preserving ablation on the first ``n_abl`` sequences: its ΔICL
        and its per-token-loss vector. Only the positions these need are unembedded."""
        n, n_pos = clean.shape
        early, late = icl_window_positions(n_pos)
        window = torch.tensor(early + late).expand(n, -1)
        positions = torch.cat([window, self.positions[:n, None]], dim=1)
        ablated = single_head_ablations(bridge, self.tokens[:n], positions=positions)  # [L, H, n, 11]
        sparse = torch.full((*ablated.shape[:2], n_pos), float("nan"))
        sparse[..., early + late] = ablated[..., :-1].mean(-2)
        return {
            "ablation_delta_icl": icl_score(sparse) - icl_score(clean.mean(0)),
            "ablation_per_token_loss": ablated[..., -1],
        }


def next_token_loss(model: InductionLM, batch: Int[Tensor, "batch pos"]) -> Tensor:
    """Mean cross-entropy of predicting ``batch[:, 1:]`` from ``batch[:, :-1]``."""
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())


def _param_groups(model: InductionLM, weight_decay: float, decay_embeddings: bool = True):
    def decays(n: str, p: Tensor) -> bool:
        return p.dim() >= 2 and (decay_embeddings or n not in ("embed.weight", "unembed.weight"))

    decay = [p for n, p in model.named_parameters() if decays(n, p)]
    no_decay = [p for n, p in model.named_parameters() if not decays(n, p)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformer-lens", "tokenizers", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def _optimizer_state_tensors(opt: torch.optim.Optimizer) -> dict[str, Tensor]:
    out = {}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"opt.{i}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return out


def _load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, Tensor]) -> None:
    sd = opt.state_dict()
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, i, k = key.split(".", 2)
            state.setdefault(int(i), {})[k] = v
    sd["state"] = state
    opt.load_state_dict(sd)


def select_checkpoints(tokens: Tensor, icl: Tensor, steps: list[int], n_keep: int) -> list[int]:
    """Snapshot steps whose full checkpoints are kept after training (at most ``n_keep``).

    With a phase change (:func:`induction_heads.phase.phase_change_window`): the last snapshot
    before the window, the one nearest its peak rate, the first one after it, and the final
    step. Without one: where the ICL score has made 10%, 50% and 90% of its total change, and
    the final step.
    """
    keep = {steps[-1]}
    window = phase_change_window(tokens.double(), icl.double())
    t = tokens.double()
    if window is not None:
        before = torch.nonzero(t <= window.start)
        after = torch.nonzero(t >= window.end)
        keep.add(steps[int(before[-1]) if len(before) else 0])
        keep.add(steps[int((t - window.peak).abs().argmin())])
        keep.add(steps[int(after[0]) if len(after) else -1])
    else:
        total = icl[-1] - icl[0]
        if abs(float(total)) > 1e-6:
            progress = (icl - icl[0]) / total
            for q in (0.1, 0.5, 0.9):
                hit = torch.nonzero(progress >= q)
                keep.add(steps[int(hit[0]) if len(hit) else -1])
    return sorted(keep)[-n_keep:]


def _setup_logger(path: Path) -> logging.Logger:
    logger = logging.getLogger(f"induction_heads.train.{path}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        h = logging.FileHandler(path)
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(h)
    return logger


def train(
    size: str,
    name: str,
    out: Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    stop_after_step: int | None = None,
    model_cfg: ModelConfig | None = None,
    train_cfg: TrainConfig | None = None,
) -> Path:
    """Train (or resume, or skip if finished) model ``name`` of preset ``size``.

    Args:
        out: run folder (default ``data/<size>/runs/<name>``).
        device: ``"cpu"`` or ``"cuda"``.
        stop_after_step: stop (resumably) once this step is done; for tests of resumption.
        model_cfg, train_cfg: override the preset's configs (calibration sweeps); the preset
            still provides the tokenizer and evaluation set, so the vocabulary and context
            length must match it.
    Returns the run folder.
    """
    cfg: ModelConfig = model_cfg or model_config(size, name)
    tcfg: TrainConfig = train_cfg or train_config(size, name)
    p = get_preset(size)
    if (cfg.d_vocab, cfg.n_ctx) != (p.vocab_size, p.n_ctx):
        raise ValueError(f"model_cfg must keep the {size} preset's vocabulary and context length")
    run = Path(out) if out is not None else preset_dir(size) / "runs" / name
    run.mkdir(parents=True, exist_ok=True)
    info_path, metrics_path, resume_path = run / "info.json", run / "metrics.safetensors", run / "resume.safetensors"
    if info_path.exists() and json.loads(info_path.read_text()).get("finished"):
        return run
    log = _setup_logger(run / "train.log")
    prepare_data(size, log=log.info)
    stream = train_stream(size)
    torch.manual_seed(cfg.seed)
    model = InductionLM(cfg).to(device)
    opt = torch.optim.AdamW(_param_groups(model, tcfg.weight_decay, tcfg.decay_embeddings), lr=tcfg.lr, betas=tcfg.betas)
    recorder = Recorder(size, tcfg.eval_batch_size, device, tcfg.n_ablation_sequences)
    keys = METRIC_KEYS + (ABLATION_KEYS if tcfg.n_ablation_sequences else ())
    snaps = snapshot_steps(tcfg)
    # Compiled or not, the step is deterministic, so a resumed run still equals an uninterrupted
    # one; the recorder always runs the eager model.
    step_loss = torch.compile(next_token_loss) if tcfg.compile else next_token_loss
    history: dict[str, list[Tensor]] = {k: [] for k in keys}
    start, loss_sum, loss_n, elapsed = 0, 0.0, 0, 0.0

    if resume_path.exists():
        r = read_tensors(resume_path, "delete it to restart the run")
        model.load_state_dict({k[6:]: v for k, v in r.items() if k.startswith("model.")})
        _load_optimizer_state(opt, r)
        start, loss_sum, loss_n, elapsed = int(r["step"]), float(r["loss_sum"]), int(r["loss_n"]), float(r["elapsed_s"])
        if metrics_path.exists():
            m = read_tensors(metrics_path, "delete the run folder to restart it")
            keep = m["step"] <= start
            history = {k: list(m[k][keep]) for k in keys}
        log.info(f"resuming {size}/{name} at step {start}")
    else:
        log.info(f"starting {size}/{name}: {json.dumps(asdict(cfg))}")

    def snapshot(step: int) -> None:
        nonlocal loss_sum, loss_n
        rec = recorder(model)
        row = {
            "step": torch.tensor(step),
            "tokens": torch.tensor(step * tcfg.batch_size * cfg.n_ctx),
            "train_loss": torch.tensor(loss_sum / loss_n if loss_n else float("nan")),
            "lr": torch.tensor(lr_at(max(step - 1, 0), tcfg)),
            "elapsed_s": torch.tensor(elapsed),
            **rec,
        }
        for k in keys:
            history[k].append(row[k])
        loss_sum, loss_n = 0.0, 0
        atomic_save_tensors({k: torch.stack(v) for k, v in history.items()}, metrics_path)
        atomic_save_tensors(model.state_dict(), run / "checkpoints" / f"step_{step:07d}.safetensors")
        log.info(
            f"step {step} tokens {int(row['tokens']):,} eval_loss {float(rec['per_token_loss'].mean()):.3f} "
            f"icl {float(rec['icl_score']):+.3f} prefix_max {float(rec['prefix_matching'].max()):.3f} "
            f"prev_max {float(rec['previous_token'].max()):.3f}"
        )

    def save_resume(step: int) -> None:
        atomic_save_tensors(
            {
                **{f"model.{k}": v for k, v in model.state_dict().items()},
                **_optimizer_state_tensors(opt),
                "step": torch.tensor(step),
                "loss_sum": torch.tensor(loss_sum, dtype=torch.float64),
                "loss_n": torch.tensor(loss_n),
                "elapsed_s": torch.tensor(elapsed, dtype=torch.float64),
            },
            resume_path,
        )

    if start == 0 and not history["step"]:
        snapshot(0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=tcfg.total_steps, initial=start, desc=f"{size}/{name}", unit="step", mininterval=2)
    model.train()
    t0 = time.perf_counter()
    for step in range(start, tcfg.total_steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tcfg)
        batch = sample_batch(stream, step, tcfg.batch_size, cfg.n_ctx, tcfg.data_seed)
        if tcfg.repeat_frac:
            batch = with_repeated_windows(batch, step, tcfg.data_seed, tcfg.repeat_frac, tcfg.repeat_window)
        batch = batch.to(device)
        loss = step_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
        opt.step()
        loss_sum += float(loss.detach())
        loss_n += 1
        done = step + 1
        elapsed += time.perf_counter() - t0
        t0 = time.perf_counter()
        if done in snaps:
            snapshot(done)
        if done % tcfg.resume_every == 0 or done in snaps:
            save_resume(done)
        if bar is not None:
            bar.update(1)
            if done in snaps:
                bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}", icl=f"{float(history['icl_score'][-1]):+.2f}",
                                prefix=f"{float(history['prefix_matching'][-1].max()):.2f}")
        if stop_after_step is not None and done >= stop_after_step and done < tcfg.total_steps:
            save_resume(done)
            if bar is not None:
                bar.close()
            return run
    if bar is not None:
        bar.close()

    # Keep a few full checkpoints (before / during / after the ICL change, and the final one).
    m = {k: torch.stack(v) for k, v in history.items()}
    steps = m["step"].tolist()
    keep = set(select_checkpoints(m["tokens"], m["icl_score"], steps, p.n_checkpoints))
    for p in (run / "checkpoints").glob("step_*.safetensors"):
        if int(p.stem.split("_")[1]) not in keep:
            p.unlink()
    atomic_write_json(
        {
            "size": size,
            "name": name,
            "model_config": asdict(cfg),
            "train_config": asdict(tcfg),
            "seed": cfg.seed,
            "data_seed": tcfg.data_seed,
            "versions": _versions(),
            "git_commit": _git_commit(),
            "hardware": {"platform": platform.platform(), "processor": platform.processor(),
                         "device": device, "torch_threads": torch.get_num_threads()},
            "wall_time_s": elapsed,
            "tokens_trained": int(m["tokens"][-1]),
            "n_snapshots": len(steps),
            "checkpoints": sorted(keep),
            "finished": True,
        },
        info_path,
    )
    resume_path.unlink(missing_ok=True)
    log.info(f"finished in {elapsed:.0f}s; kept checkpoints at steps {sorted(keep)}")
    return run
