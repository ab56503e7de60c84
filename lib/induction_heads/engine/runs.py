"""The run store: reading and writing everything under ``data/``.

Layout (one folder per size, one per run)::

    data/<size>/tokenizer/                 Hugging Face fast tokenizer (byte-level BPE)
    data/<size>/token_counts.safetensors   token frequencies of the train split
    data/<size>/eval.safetensors           the shared held-out evaluation set (token ids) and
                                           the fixed random position of each sequence
    data/<size>/corpus_manifest.json       which bytes were used (sha256 per document)
    data/<size>/runs/<model>/info.json     configs, seed, versions, git commit, hardware, wall time
    data/<size>/runs/<model>/metrics.safetensors   the recorder's measurements at every snapshot
    data/<size>/runs/<model>/checkpoints/step_<n>.safetensors   a few full checkpoints
    data/<size>/runs/<model>/train.log     the run's log
    data/<size>/runs/<model>/resume.safetensors    (unfinished runs only, not committed)

Every reader goes through this module, so a missing or corrupt file gives one error that says
how to regenerate it. Every writer is atomic: a temporary file, then ``os.replace``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import MODEL_NAMES, SIZES, ModelConfig, validate_model_name, validate_size

__all__ = [
    "RunStoreError",
    "data_dir",
    "size_dir",
    "run_dir",
    "available_sizes",
    "available_runs",
    "run_info",
    "load_metrics",
    "list_checkpoints",
    "load_model",
    "load_bridge",
    "load_tokenizer",
    "load_eval_set",
    "load_token_counts",
    "atomic_save_tensors",
    "atomic_write_json",
    "delete_file",
    "read_tensors",
]


class RunStoreError(FileNotFoundError):
    """A file of the run store is missing or unreadable."""


def data_dir() -> Path:
    """``$INDUCTION_HEADS_DATA`` if set, else the repository's ``data/`` folder."""
    env = os.environ.get("INDUCTION_HEADS_DATA")
    if env:
        return Path(env)
    repo_data = Path(__file__).resolve().parents[3] / "data"
    return repo_data if repo_data.is_dir() else Path.cwd() / "data"


def size_dir(size: str) -> Path:
    return data_dir() / validate_size(size)


def run_dir(size: str, name: str) -> Path:
    return size_dir(size) / "runs" / validate_model_name(name)


def _regen_hint(size: str, name: str | None = None) -> str:
    if name is None:
        return f"regenerate it with `python -m induction_heads data --size {size}`"
    return f"regenerate it with `python -m induction_heads train --size {size} --model {name}`"


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def atomic_write_json(obj: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def delete_file(path: Path) -> None:
    """Remove a file of the run store (nothing if it is not there)."""
    Path(path).unlink(missing_ok=True)


def read_tensors(path: Path, hint: str) -> dict[str, torch.Tensor]:
    """Load a safetensors file, or raise :class:`RunStoreError` naming the file and the fix."""
    path = Path(path)
    if not path.exists():
        raise RunStoreError(f"missing {path}; {hint}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise RunStoreError(f"unreadable {path} ({e}); {hint}") from None


def available_sizes() -> list[str]:
    """Sizes whose run store holds at least one finished run, in size order."""
    return [s for s in SIZES if available_runs(s)]


def available_runs(size: str) -> list[str]:
    """Finished runs of a size, in the zoo's order (extra names afterwards, sorted)."""
    root = size_dir(size) / "runs"
    if not root.is_dir():
        return []
    done = {p.parent.name for p in root.glob("*/info.json") if json.loads(p.read_text()).get("finished")}
    return [n for n in MODEL_NAMES if n in done] + sorted(done - set(MODEL_NAMES))


def run_info(size: str, name: str) -> dict:
    path = run_dir(size, name) / "info.json"
    if not path.exists():
        raise RunStoreError(f"missing {path}; {_regen_hint(size, name)}")
    return json.loads(path.read_text())


def load_metrics(size: str, name: str) -> dict[str, torch.Tensor]:
    """The recorder's measurements at every snapshot of a run (see :mod:`induction_heads.engine.train`)."""
    return read_tensors(run_dir(size, name) / "metrics.safetensors", _regen_hint(size, name))


def list_checkpoints(size: str, name: str) -> list[int]:
    """Training steps that have a full checkpoint, ascending."""
    folder = run_dir(size, name) / "checkpoints"
    return sorted(int(p.stem.split("_")[1]) for p in folder.glob("step_*.safetensors"))


def _model_config(size: str, name: str) -> ModelConfig:
    cfg = run_info(size, name)["model_config"]
    return ModelConfig(**cfg)


def load_model(size: str, name: str, step: int | None = None):
    """The fast twin of a run at a checkpointed step (the final one by default), in eval mode."""
    from .model import InductionLM

    steps = list_checkpoints(size, name)
    if not steps:
        raise RunStoreError(f"no checkpoints in {run_dir(size, name)}; {_regen_hint(size, name)}")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise ValueError(f"no checkpoint at step {step} for {size}/{name}; checkpointed steps: {steps}")
    model = InductionLM(_model_config(size, name))
    path = run_dir(size, name) / "checkpoints" / f"step_{step:07d}.safetensors"
    model.load_state_dict(read_tensors(path, _regen_hint(size, name)))
    return model.eval()


def load_bridge(size: str, name: str, step: int | None = None):
    """A run's checkpoint as a TransformerLens ``TransformerBridge`` with the tokenizer attached."""
    from .model import to_bridge

    return to_bridge(load_model(size, name, step), tokenizer=load_tokenizer(size))


def load_tokenizer(size: str):
    from .tokenizer import load_tokenizer as _load

    path = size_dir(size) / "tokenizer"
    if not (path / "tokenizer.json").exists():
        raise RunStoreError(f"missing tokenizer {path}; {_regen_hint(size)}")
    return _load(path)


def load_eval_set(size: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens [n_eval, n_ctx], positions [n_eval])``: the evaluation set shared by every model
    of a size, and the one fixed random context position per sequence used for the
    per-token-loss vectors."""
    t = read_tensors(size_dir(size) / "eval.safetensors", _regen_hint(size))
    return t["tokens"].long(), t["positions"].long()


def load_token_counts(size: str) -> torch.Tensor:
    return read_tensors(size_dir(size) / "token_counts.safetensors", _regen_hint(size))["counts"]
