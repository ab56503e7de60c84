"""The run store: reading and writing everything under ``data/``.

Layout (one folder per size, one per run)::

    data/<size>/tokenizer/                 Hugging Face fast tokenizer (byte-level BPE)
    data/<size>/token_counts.safetensors   token frequencies of the train split
    data/<size>/eval.safetensors           the shared held-out evaluation set (token ids) and
                                           the fixed random position of each sequence
    data/<size>/corpus_manifest.json       which bytes were used (sha256 per document)
    data/<size>/checksums.json             sha256 of each file above
    data/<size>/zoo/<model>/info.json     configs, seed, versions, git commit, hardware, wall time
    data/<size>/zoo/<model>/metrics.safetensors   the recorder's measurements at every snapshot
    data/<size>/zoo/<model>/checkpoints/step_<n>.safetensors   a few full checkpoints
    data/<size>/zoo/<model>/train.log     the run's log
    data/<size>/zoo/<model>/resume.safetensors    (unfinished runs only, not committed)
    data/<size>/zoo/<model>/checksums.json        sha256 of each file of the run

Every reader goes through this module, so a missing, damaged or unlisted file gives one error
that names it and says how to regenerate it. The checksummed manifests, atomic writes and
verified reads themselves are :mod:`induction_heads.engine.store`'s; a run as one typed object
is :class:`induction_heads.engine.zoo.Run`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .config import MODEL_NAMES, SIZES, ModelConfig, validate_model_name, validate_size
from .model import InductionLM, to_bridge
from .store import (MANIFEST, RunStoreError, StoreReport, data_dir, file_problem, load_manifest, read_json,
                    read_tensors, store_files, verify_folder, write_manifests_under)
from .tokenizer import load_tokenizer as _load_tokenizer

__all__ = [
    "size_dir",
    "run_dir",
    "runs_root",
    "runs_folder",
    "RUNS_FOLDER",
    "available_sizes",
    "available_runs",
    "run_info",
    "load_metrics",
    "list_checkpoints",
    "CHECKPOINTS",
    "CHECKPOINT_GLOB",
    "checkpoint_file",
    "checkpoint_step",
    "load_model",
    "load_bridge",
    "load_tokenizer",
    "load_eval_set",
    "load_token_counts",
    "verify_store",
    "check_store",
    "write_manifests",
]


def size_dir(size: str) -> Path:
    return data_dir() / validate_size(size)


RUNS_FOLDER = "zoo"  # data/<size>/<this>/<model>: the runs the book reads


def runs_folder() -> str:
    """The folder of a size's runs under ``data/<size>/``: ``$INDUCTION_HEADS_RUNS`` if set, else
    :data:`RUNS_FOLDER`. A retrain on a new recipe trains into another folder
    (``INDUCTION_HEADS_RUNS=<folder> make zoo``) while the book goes on reading this one; the
    switch changes :data:`RUNS_FOLDER` and deletes the old folder in one commit, so no file is
    committed twice (a moved file would count as removed and added again). The book moved from
    ``runs`` to ``zoo`` this way when ``small`` was retrained on the repeat-window recipe."""
    return os.environ.get("INDUCTION_HEADS_RUNS") or RUNS_FOLDER


def runs_root(size: str) -> Path:
    return size_dir(size) / runs_folder()


def run_dir(size: str, name: str) -> Path:
    return runs_root(size) / validate_model_name(name)


def _regen_hint(size: str, name: str | None = None, folder: str | None = None) -> str:
    if name is None:
        return f"regenerate it with `python -m induction_heads data --size {size}` (delete a damaged file first)"
    folder = folder or runs_folder()
    env = "" if folder == RUNS_FOLDER else f"INDUCTION_HEADS_RUNS={folder} "
    return (f"regenerate it with `{env}python -m induction_heads train --size {size} --model {name}` "
            f"(delete {size_dir(size) / folder / name} first if the run had finished)")


# ------------------------------------------------------------------ a whole size

def _is_model_name(name: str) -> bool:
    try:
        validate_model_name(name)
    except ValueError:
        return False
    return True


def _hint_for(size: str, path: Path) -> str:
    """The regenerate hint of a file of ``size``: its run's (in whichever runs folder it lies),
    or the size's."""
    parts = Path(path).relative_to(size_dir(size)).parts
    if len(parts) > 2 and _is_model_name(parts[1]):
        return _regen_hint(size, parts[1], parts[0])
    return _regen_hint(size)


def _root(size: str) -> Path:
    root = size_dir(size)
    if not root.is_dir():
        raise RunStoreError(f"no run store at {root}; build it with `python -m induction_heads data --size {size}`")
    return root


def verify_store(size: str) -> StoreReport:
    """Check every file of a size's store against its manifest (hashing each again) and every
    manifest entry against the files: damaged, unlisted, missing, or without a manifest."""
    root = _root(size)
    files = store_files(root)
    report = StoreReport(len(files), sum(p.stat().st_size for p in files))
    report.problems = [p for f in files if (p := file_problem(f, _hint_for(size, f), cached=False))]
    for manifest in sorted(root.rglob(MANIFEST)):
        for rel in (load_manifest(manifest, _regen_hint(size)) or {}).get("sha256", {}):
            path = manifest.parent / rel
            if not path.is_file():
                report.problems.append(f"missing {path} (listed in {manifest}); {_hint_for(size, path)}")
    return report


def check_store(size: str) -> StoreReport:
    """:func:`verify_store`, raising one :class:`RunStoreError` line (the first problem) if any."""
    report = verify_store(size)
    if report.problems:
        more = len(report.problems) - 1
        tail = f" (and {more} more: `python -m induction_heads verify --size {size}` lists them)" if more else ""
        raise RunStoreError(report.problems[0] + tail)
    return report


def write_manifests(size: str) -> StoreReport:
    """(Re)write every manifest of a size's store from its files as they are now (trusting them)."""
    return write_manifests_under(_root(size))


# ------------------------------------------------------------------ readers

def available_sizes() -> list[str]:
    """Sizes whose run store holds at least one finished run, in size order."""
    return [s for s in SIZES if available_runs(s)]


def available_runs(size: str) -> list[str]:
    """Finished runs of a size, in the zoo's order (extra names afterwards, sorted). Each run's
    ``info.json`` is checked against its manifest (not the whole run: that is cheap)."""
    root = runs_root(size)
    if not root.is_dir():
        return []
    done = {p.parent.name for p in root.glob("*/info.json")
            if read_json(p, _regen_hint(size, p.parent.name)).get("finished")}
    return [n for n in MODEL_NAMES if n in done] + sorted(done - set(MODEL_NAMES))


def run_info(size: str, name: str) -> dict:
    return read_json(run_dir(size, name) / "info.json", _regen_hint(size, name))


def load_metrics(size: str, name: str) -> dict[str, torch.Tensor]:
    """The recorder's measurements at every snapshot of a run (see :mod:`induction_heads.engine.train`)."""
    return read_tensors(run_dir(size, name) / "metrics.safetensors", _regen_hint(size, name))


CHECKPOINTS = "checkpoints"  # a run's folder of full checkpoints, one file per step
CHECKPOINT_GLOB = "step_*.safetensors"  # every checkpoint file in it


def checkpoint_file(step: int) -> str:
    """The file name of a run's full checkpoint at ``step`` (``step_0001200.safetensors``, zero-padded
    so that the files sort by step); :func:`checkpoint_step` reads it back."""
    return f"step_{step:07d}.safetensors"


def checkpoint_step(path: Path | str) -> int:
    """The step of a checkpoint file named by :func:`checkpoint_file`."""
    return int(Path(path).stem.split("_")[1])


def list_checkpoints(size: str, name: str) -> list[int]:
    """Training steps that have a full checkpoint, ascending."""
    folder = run_dir(size, name) / CHECKPOINTS
    return sorted(checkpoint_step(p) for p in folder.glob(CHECKPOINT_GLOB))


def _model_config(size: str, name: str) -> ModelConfig:
    return ModelConfig.from_dict(run_info(size, name)["model_config"])


def load_model(size: str, name: str, step: int | None = None):
    """The fast twin of a run at a checkpointed step (the final one by default), in eval mode."""
    steps = list_checkpoints(size, name)
    if not steps:
        raise RunStoreError(f"no checkpoints in {run_dir(size, name)}; {_regen_hint(size, name)}")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise ValueError(f"no checkpoint at step {step} for {size}/{name}; checkpointed steps: {steps}")
    model = InductionLM(_model_config(size, name))
    path = run_dir(size, name) / CHECKPOINTS / checkpoint_file(step)
    model.load_state_dict(read_tensors(path, _regen_hint(size, name)))
    return model.eval()


def load_bridge(size: str, name: str, step: int | None = None):
    """A run's checkpoint as a TransformerLens ``TransformerBridge`` with the tokenizer attached."""
    return to_bridge(load_model(size, name, step), tokenizer=load_tokenizer(size))


def load_tokenizer(size: str):
    """The size's tokenizer, its files checked against the size's manifest before loading."""
    path = size_dir(size) / "tokenizer"
    if not (path / "tokenizer.json").exists():
        raise RunStoreError(f"missing tokenizer {path}; {_regen_hint(size)}")
    verify_folder(path, _regen_hint(size))
    return _load_tokenizer(path)


def load_eval_set(size: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens [n_eval, n_ctx], positions [n_eval])``: the evaluation set shared by every model
    of a size, and the one fixed random context position per sequence used for the
    per-token-loss vectors."""
    t = read_tensors(size_dir(size) / "eval.safetensors", _regen_hint(size))
    return t["tokens"].long(), t["positions"].long()


def load_token_counts(size: str) -> torch.Tensor:
    return read_tensors(size_dir(size) / "token_counts.safetensors", _regen_hint(size))["counts"]