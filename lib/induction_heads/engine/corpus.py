"""Where the training text comes from.

Default: the Python standard library sources of the running interpreter, which are on every
machine (Colab included) and need no network. Also: any local folder of text files, and online
corpora through Hugging Face ``datasets`` (``hf:<name or local path>``), behind one parameter.

Every corpus is enumerated deterministically and described by a manifest (sha256 per document,
Python version, total bytes), and split into train / held-out by a hash of each document's
name, so that adding or removing a file never moves another file between the splits.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

__all__ = [
    "Document",
    "Corpus",
    "CorpusUnavailableError",
    "load_corpus",
    "is_heldout",
]

HELDOUT_PERCENT = 5
_TEXT_SUFFIXES = (".py", ".txt", ".md", ".rst", ".json", ".c", ".h", ".js", ".html", ".css")


class CorpusUnavailableError(RuntimeError):
    """An online corpus was asked for on a machine that cannot reach the hub."""


@dataclass(frozen=True)
class Document:
    name: str  # stable identifier: a path relative to the corpus root, or "<dataset>#<index>"
    text: str


def is_heldout(name: str) -> bool:
    """Held-out split membership, decided by a hash of the document's name (5% held out)."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100 < HELDOUT_PERCENT


@dataclass(frozen=True)
class Corpus:
    source: str
    documents: tuple[Document, ...]

    def split(self, which: str) -> list[Document]:
        """``"train"`` or ``"heldout"`` documents, in manifest order."""
        if which not in ("train", "heldout"):
            raise ValueError(f"unknown split {which!r}; choose one of: train, heldout")
        want = which == "heldout"
        return [d for d in self.documents if is_heldout(d.name) == want]

    def manifest(self) -> dict:
        """What exactly was used: per-document sha256, sizes, interpreter version."""
        files = [
            {
                "name": d.name,
                "sha256": hashlib.sha256(d.text.encode()).hexdigest(),
                "bytes": len(d.text.encode()),
                "split": "heldout" if is_heldout(d.name) else "train",
            }
            for d in self.documents
        ]
        return {
            "source": self.source,
            "python_version": platform.python_version(),
            "n_documents": len(files),
            "total_bytes": sum(f["bytes"] for f in files),
            "sha256": hashlib.sha256("".join(f["sha256"] for f in files).encode()).hexdigest(),
            "documents": files,
        }


def _stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _iter_folder(root: Path, suffixes: tuple[str, ...]) -> Iterator[Document]:
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in suffixes and "site-packages" not in p.parts
    )
    for p in paths:
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # a handful of stdlib test files are deliberately not UTF-8
        if text.strip():
            yield Document(p.relative_to(root).as_posix(), text)


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers (a TCP connection within ``timeout`` seconds)."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _iter_hf(name: str, text_column: str) -> Iterator[Document]:
    """Documents of a Hugging Face data set: a hub name, or a local folder/file it can read."""
    local = Path(name).exists()
    if not local and (os.environ.get("HF_HUB_OFFLINE") == "1" or not hub_reachable()):
        raise CorpusUnavailableError(
            f"cannot load online corpus {name!r}: this machine has no network access to the "
            "Hugging Face hub; use the default 'stdlib' corpus or a local folder"
        )
    import datasets  # imported lazily: it is slow to import and only this path needs it

    ds = datasets.load_dataset(name, split="train")
    if text_column not in ds.column_names:
        raise ValueError(
            f"data set {name!r} has no column {text_column!r}; columns: {', '.join(ds.column_names)}"
        )
    label = Path(name).name if local else name
    for i, text in enumerate(ds[text_column]):
        if text and text.strip():
            yield Document(f"{label}#{i}", text)


def load_corpus(
    source: str = "stdlib", *, max_bytes: int | None = None, text_column: str = "text"
) -> Corpus:
    """Load a corpus.

    Args:
        source: ``"stdlib"`` (the default, offline everywhere), a path to a local folder of text
            files, or ``"hf:<name>"`` for a Hugging Face data set (a hub name such as
            ``hf:roneneldan/TinyStories`` or ``hf:NeelNanda/pile-10k``, or a local data set path).
        max_bytes: keep documents in manifest order until this many bytes (for small sizes).
        text_column: the text column of a Hugging Face data set.
    """
    if source == "stdlib":
        docs: Iterator[Document] = _iter_folder(_stdlib_root(), (".py",))
    elif source.startswith("hf:"):
        docs = _iter_hf(source[3:], text_column)
    elif Path(source).is_dir():
        docs = _iter_folder(Path(source), _TEXT_SUFFIXES)
    else:
        raise ValueError(
            f"unknown corpus source {source!r}; use 'stdlib', a local folder, or 'hf:<data set>'"
        )
    kept: list[Document] = []
    total = 0
    for d in docs:
        if max_bytes is not None and total >= max_bytes:
            break
        kept.append(d)
        total += len(d.text.encode())
    if not kept:
        raise ValueError(f"corpus {source!r} holds no text documents")
    return Corpus(source, tuple(kept))
