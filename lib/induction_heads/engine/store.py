"""The store's bytes: checksummed manifests, atomic writes and verified reads under ``data/``.

Every file of the run store is listed, with its sha256, in the manifest that covers it
(:func:`manifest_path`: ``checksums.json`` in its folder, or in the folder above for files in
``checkpoints/`` and ``tokenizer/``; so one per size folder and one per run folder, and parallel
training processes never share one). A manifest is ``{"sha256": {<path relative to its folder>:
<hex digest>}}``, sorted. Every writer is atomic (a temporary file, then ``os.replace``); while a
file is being replaced its new digest is also listed under ``"writing"``, so a process killed at
any moment leaves a file that its manifest accepts. Reads check a file against its manifest once
per process while the file is unchanged (same size, mtime and inode). Under ``data/`` a file
without a manifest is an error; a folder elsewhere (a calibration sweep's) without one was written
before manifests existed and is read as it is.

Nothing here knows what a size, a run or a tokenizer is: :mod:`induction_heads.engine.runs` lays
the store out and reads runs through these functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

try:
    import fcntl
except ImportError:  # Windows: manifests are then written without a lock
    fcntl = None

__all__ = [
    "RunStoreError",
    "MANIFEST",
    "StoreReport",
    "data_dir",
    "manifest_path",
    "sha256_file",
    "record_file",
    "atomic_save_tensors",
    "atomic_write_json",
    "replace_folder",
    "delete_file",
    "load_manifest",
    "file_problem",
    "verify_file",
    "verify_folder",
    "store_files",
    "write_manifests_under",
    "read_tensors",
    "read_json",
]

MANIFEST = "checksums.json"
_GROUPED = ("checkpoints", "tokenizer")  # folders whose files the folder above lists

class RunStoreError(FileNotFoundError):
    """A file of the run store is missing, unreadable, damaged or not in its manifest."""

def data_dir() -> Path:
    """``$INDUCTION_HEADS_DATA`` if set, else the repository's ``data/`` folder."""
    env = os.environ.get("INDUCTION_HEADS_DATA")
    if env:
        return Path(env)
    repo_data = Path(__file__).resolve().parents[3] / "data"
    return repo_data if repo_data.is_dir() else Path.cwd() / "data"


# ------------------------------------------------------------------ manifests

def manifest_path(path: Path) -> Path:
    """The manifest that lists ``path``: ``checksums.json`` in the file's folder, or in the folder
    above for files in ``checkpoints/`` and ``tokenizer/``. So one per size folder and one per
    run folder, wherever the run folder is."""
    folder = Path(path).parent
    return (folder.parent if folder.name in _GROUPED else folder) / MANIFEST


def _rel(path: Path, manifest: Path) -> str:
    return Path(path).relative_to(manifest.parent).as_posix()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (a temporary file, then ``os.replace``), recording nothing."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``flock`` on the directory) while its manifest is
    rewritten, so two processes that write files of one folder never lose each other's entry."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _update_manifest(manifest: Path, change: Callable[[dict, dict], None]) -> None:
    """Apply ``change(sha256, writing)`` to a manifest's two tables and write it back atomically
    (created if absent; sorted keys; ``writing`` only while it has entries)."""
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with _locked(manifest.parent):
        data = json.loads(manifest.read_text()) if manifest.exists() else {}
        files, writing = data.get("sha256", {}), data.get("writing", {})
        change(files, writing)
        out = {"sha256": files, **({"writing": writing} if writing else {})}
        _write_text(manifest, json.dumps(out, indent=1, sort_keys=True) + "\n")


def _replace_recorded(shas: dict[Path, str], move: Callable[[], None], folder: Path | None = None) -> None:
    """Run ``move`` (which puts files with the digests ``shas`` in place) with their manifest
    accepting old and new bytes throughout: the new digests are listed under ``writing`` first
    and become the files' digests after the move. ``folder``: drop entries under it that the
    move did not write (a replaced folder's old files)."""
    if not shas:
        move()
        return
    manifest = manifest_path(next(iter(shas)))
    rels = {_rel(p, manifest): h for p, h in shas.items()}
    prefix = None if folder is None else _rel(Path(folder) / "_", manifest)[:-1]

    def commit(files: dict, writing: dict) -> None:
        for rel in [r for r in files if prefix is not None and r.startswith(prefix) and r not in rels]:
            del files[rel]
        files.update(rels)
        for rel in rels:
            writing.pop(rel, None)

    _update_manifest(manifest, lambda files, writing: writing.update(rels))
    move()
    _update_manifest(manifest, commit)


def record_file(path: Path) -> None:
    """Record the sha256 of a file written by other means than this module (a run's log)."""
    path = Path(path)
    if path.is_file():
        manifest, digest = manifest_path(path), sha256_file(path)
        _update_manifest(manifest, lambda files, writing: files.update({_rel(path, manifest): digest}))


# ------------------------------------------------------------------ writers

def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict | None = None) -> None:
    """Save tensors as safetensors, atomically, recording the file's sha256 in its manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    _replace_recorded({path: sha256_file(tmp)}, lambda: os.replace(tmp, path))


def atomic_write_json(obj: dict, path: Path) -> None:
    """Write ``obj`` as JSON (sorted keys), atomically, recording the file's sha256 in its manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")
    _replace_recorded({path: sha256_file(tmp)}, lambda: os.replace(tmp, path))


def replace_folder(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` by the finished folder ``tmp`` (a saved tokenizer), recording the sha256
    of its files in the manifest that covers them; entries of the old folder's files go."""
    tmp, folder = Path(tmp), Path(folder)
    shas = {folder / p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}

    def move() -> None:
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)

    _replace_recorded(shas, move, folder=folder)


def delete_file(path: Path) -> None:
    """Remove a file of the run store and its manifest entry (nothing if neither is there). The
    entry goes first: a process killed in between leaves an unlisted file, never a listed one
    that is gone."""
    path = Path(path)
    manifest = manifest_path(path)
    rel = _rel(path, manifest)

    def drop(files: dict, writing: dict) -> None:
        files.pop(rel, None)
        writing.pop(rel, None)

    if manifest.exists():
        _update_manifest(manifest, drop)
    path.unlink(missing_ok=True)


# ------------------------------------------------------------------ verification on read

_MANIFESTS: dict[str, tuple[tuple, dict]] = {}  # manifest path -> (stat key, parsed)
_VERIFIED: dict[str, tuple] = {}  # file path -> stat key when it last matched its manifest


def _stat_key(st: os.stat_result) -> tuple:
    return st.st_size, st.st_mtime_ns, st.st_ino


def load_manifest(manifest: Path, hint: str) -> dict | None:
    """A parsed manifest (parsed again only when it changed), or None if there is none."""
    try:
        key = _stat_key(manifest.stat())
    except FileNotFoundError:
        return None
    cached = _MANIFESTS.get(str(manifest))
    if cached is None or cached[0] != key:
        try:
            cached = (key, json.loads(manifest.read_text()))
        except (OSError, ValueError) as e:
            raise RunStoreError(f"unreadable manifest {manifest} ({e}); {hint}") from None
        _MANIFESTS[str(manifest)] = cached
    return cached[1]


def _in_store(path: Path) -> bool:
    return Path(path).resolve().is_relative_to(data_dir().resolve())


def _trust_hint(path: Path) -> str:
    size = Path(path).resolve().relative_to(data_dir().resolve()).parts[0]
    return f" (or, trusting the files as they are, `python -m induction_heads verify --size {size} --write`)"


def _problem(path: Path, hint: str) -> str | None:
    """Why ``path`` does not match its manifest (one line ending with ``hint``), or None."""
    manifest = manifest_path(path)
    data = load_manifest(manifest, hint)
    if data is None:
        return f"{path} has no manifest ({manifest} is missing); {hint}{_trust_hint(path)}" if _in_store(path) else None
    rel = _rel(path, manifest)
    allowed = {data.get("sha256", {}).get(rel), data.get("writing", {}).get(rel)} - {None}
    if not allowed:
        return f"{path} is not listed in {manifest}; {hint}"
    if sha256_file(path) not in allowed:
        return f"{path} is damaged or changed (its sha256 differs from {manifest}); {hint}"
    return None


def file_problem(path: Path, hint: str, cached: bool = True) -> str | None:
    """:func:`_problem`, skipped for a file that matched before in this process and is unchanged."""
    try:
        key = _stat_key(path.stat())
    except FileNotFoundError:
        return f"missing {path}; {hint}"
    name = os.path.abspath(path)
    if cached and _VERIFIED.get(name) == key:
        return None
    problem = _problem(path, hint)
    if problem is None:
        _VERIFIED[name] = key
    return problem


def verify_file(path: Path, hint: str) -> None:
    """Check ``path`` against its manifest (once per process while unchanged); raise
    :class:`RunStoreError` naming the file and ``hint`` if it is missing, unlisted or damaged."""
    problem = file_problem(Path(path), hint)
    if problem:
        raise RunStoreError(problem)


def verify_folder(folder: Path, hint: str) -> None:
    """:func:`verify_file` for every file of ``folder``, and every file its manifest lists there present."""
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    if not files:
        raise RunStoreError(f"missing {folder}; {hint}")
    for path in files:
        verify_file(path, hint)
    manifest = manifest_path(files[0])
    prefix = _rel(folder / "_", manifest)[:-1]
    for rel in (load_manifest(manifest, hint) or {}).get("sha256", {}):
        if rel.startswith(prefix) and not (manifest.parent / rel).is_file():
            raise RunStoreError(f"missing {manifest.parent / rel} (listed in {manifest}); {hint}")


# ------------------------------------------------------------------ a folder of manifests

@dataclass
class StoreReport:
    """What :func:`~induction_heads.engine.runs.verify_store` or
    :func:`~induction_heads.engine.runs.write_manifests` went through, and what is wrong."""

    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)


def store_files(root: Path) -> list[Path]:
    """Every file of a size's store that a manifest must list: all but the manifests, the token
    cache (``cache/``, not committed), the temporary files of writes under way and the log of a
    run still training (its folder holds ``resume.safetensors``; the log is recorded when the run
    finishes)."""
    def listed(rel: Path) -> bool:
        return rel.name != MANIFEST and rel.parts[0] != "cache" and not any(p.endswith(".tmp") for p in rel.parts)

    def training_log(path: Path) -> bool:
        return path.name == "train.log" and (path.parent / "resume.safetensors").is_file()

    return sorted(p for p in root.rglob("*") if p.is_file() and listed(p.relative_to(root)) and not training_log(p))


def write_manifests_under(root: Path) -> StoreReport:
    """(Re)write every manifest under ``root`` from its files as they are now (:func:`store_files`).
    This trusts the files: for data written before manifests existed, or checked by other means."""
    files = store_files(root)
    tables: dict[Path, dict[str, str]] = {}
    for path in files:
        manifest = manifest_path(path)
        tables.setdefault(manifest, {})[_rel(path, manifest)] = sha256_file(path)
    for manifest in root.rglob(MANIFEST):
        if manifest not in tables:
            manifest.unlink()
    for manifest, table in tables.items():
        _write_text(manifest, json.dumps({"sha256": table}, indent=1, sort_keys=True) + "\n")
    return StoreReport(len(files), sum(p.stat().st_size for p in files))


# ------------------------------------------------------------------ verified reads

def read_tensors(path: Path, hint: str) -> dict[str, torch.Tensor]:
    """Load a safetensors file checked against its manifest, or raise :class:`RunStoreError`
    naming the file and the fix."""
    path = Path(path)
    verify_file(path, hint)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise RunStoreError(f"unreadable {path} ({e}); {hint}") from None


def read_json(path: Path, hint: str) -> dict:
    verify_file(path, hint)
    return json.loads(path.read_text())
