"""From corpus to tokens: the tokenizer, the training token stream and the shared evaluation set
of one size (``python -m induction_heads data --size <size>``)."""

from __future__ import annotations

import os

import numpy as np
import torch

from .config import get_size
from .corpus import load_corpus
from .runs import load_tokenizer, size_dir
from .store import atomic_save_tensors, atomic_write_json
from .tokenizer import encode_documents, token_counts, train_tokenizer

__all__ = ["prepare_data", "train_stream", "sample_batch", "with_repeated_windows", "translation_map", "with_translated_windows"]


def _cache_path(size: str):
    return size_dir(size) / "cache" / "train_tokens.npy"


def prepare_data(size: str, source: str = "stdlib", force: bool = False, log=print) -> None:
    """Build whatever of the size's data is missing: tokenizer, token counts, evaluation set,
    corpus manifest, and the (uncommitted) cache of the training token stream.

    The tokenizer and evaluation set are committed under ``data/`` and never rebuilt unless
    ``force``: they define the token ids every model and chapter shares.
    """
    p = get_size(size)
    root = size_dir(size)
    have_all = all(
        (root / f).exists()
        for f in ("tokenizer/tokenizer.json", "token_counts.safetensors", "eval.safetensors", "corpus_manifest.json")
    )
    if have_all and _cache_path(size).exists() and not force:
        return
    corpus = load_corpus(source, max_bytes=p.corpus_max_bytes)
    train_docs, heldout_docs = corpus.split("train"), corpus.split("heldout")
    if force or not (root / "tokenizer" / "tokenizer.json").exists():
        log(f"training a {p.vocab_size}-token BPE on {len(train_docs)} documents")
        tok = train_tokenizer(train_docs, p.vocab_size, root / "tokenizer")
    else:
        tok = load_tokenizer(size)  # checked against the size's manifest
    stream = encode_documents(tok, train_docs)
    _cache_path(size).parent.mkdir(parents=True, exist_ok=True)
    # one temporary name per process: two workers building the cache at once (``zoo --jobs 2``
    # on a fresh clone) each write a whole file, and the atomic rename keeps one of them
    tmp = _cache_path(size).with_name(f"train_tokens.{os.getpid()}.tmp.npy")
    np.save(tmp, stream)
    os.replace(tmp, _cache_path(size))
    log(f"train split: {len(stream):,} tokens")
    if force or not (root / "token_counts.safetensors").exists():
        atomic_save_tensors({"counts": token_counts(stream, p.vocab_size)}, root / "token_counts.safetensors")
    if force or not (root / "eval.safetensors").exists():
        held = encode_documents(tok, heldout_docs)
        n_win = len(held) // p.n_ctx
        n_eval = p.train.n_eval_sequences
        if n_win < n_eval:
            raise ValueError(f"held-out split has {n_win} windows of {p.n_ctx} tokens; need {n_eval}")
        g = torch.Generator().manual_seed(p.train.data_seed)
        pick = torch.sort(torch.randperm(n_win, generator=g)[:n_eval]).values
        windows = torch.from_numpy(held[: n_win * p.n_ctx].astype(np.int32)).view(n_win, p.n_ctx)[pick]
        positions = torch.randint(0, p.n_ctx - 1, (n_eval,), generator=g)
        atomic_save_tensors(
            {"tokens": windows.to(torch.int32), "positions": positions.to(torch.int32)},
            root / "eval.safetensors",
        )
        log(f"evaluation set: {n_eval} held-out sequences of {p.n_ctx} tokens")
    if force or not (root / "corpus_manifest.json").exists():
        atomic_write_json(corpus.manifest(), root / "corpus_manifest.json")


def train_stream(size: str) -> np.ndarray:
    """The training split as one token stream (built and cached by :func:`prepare_data`)."""
    path = _cache_path(size)
    if not path.exists():
        prepare_data(size)
    return np.load(path, mmap_mode="r")


def sample_batch(stream: np.ndarray, step: int, batch_size: int, n_ctx: int, data_seed: int) -> torch.Tensor:
    """The training batch of ``step``: ``batch_size`` random windows of ``n_ctx + 1`` tokens.

    The batch depends only on (data_seed, step), so a resumed run sees exactly the batches an
    uninterrupted one would, and every model with the same data seed sees the same data in the
    same order (as in the paper).
    """
    g = torch.Generator().manual_seed(data_seed * 1_000_003 + step)
    starts = torch.randint(0, len(stream) - n_ctx - 1, (batch_size,), generator=g).numpy()
    idx = starts[:, None] + np.arange(n_ctx + 1)[None]
    return torch.from_numpy(np.asarray(stream[idx], dtype=np.int64))


def with_repeated_windows(
    batch: torch.Tensor, step: int, data_seed: int, frac: float, window: int
) -> torch.Tensor:
    """``batch`` with each sequence, with probability ``frac``, replaced by its first ``w`` tokens
    twice followed by the rest of it (cut to the same length), ``w`` drawn uniformly from
    ``window // 4 .. window`` per sequence so that no fixed offset (which rotary attention could
    learn by position alone) marks the repeat: synthetic repeats mixed into training (a
    calibration lever). Depends only on (data_seed, step)."""
    return _with_second_copy(batch, data_seed * 1_000_003 + step + 7_777_777, frac, window)


def translation_map(vocab_size: int, seed: int = 0) -> torch.Tensor:
    """A fixed random bijection between two disjoint halves of the vocabulary: the token ids
    (BOS excepted) are shuffled and paired, and each maps to its partner (``m[m[i]] == i``); with
    an odd count, one token is left to map to itself. ``m[0] == 0``."""
    ids = torch.randperm(vocab_size - 1, generator=torch.Generator().manual_seed(seed)) + 1
    half = (vocab_size - 1) // 2
    m = torch.arange(vocab_size)
    m[ids[:half]], m[ids[half : 2 * half]] = ids[half : 2 * half], ids[:half]
    return m


def with_translated_windows(
    batch: torch.Tensor, step: int, data_seed: int, frac: float, window: int, mapping: torch.Tensor
) -> torch.Tensor:
    """``batch`` with each sequence, with probability ``frac``, replaced by its first ``w`` tokens
    followed by their translation (``mapping`` applied token by token) and the rest of it, ``w``
    drawn per sequence as in :func:`with_repeated_windows`: a second "language" the model can
    learn to translate in context (paper, Argument 4). Depends only on (data_seed, step), and
    draws independently of :func:`with_repeated_windows`."""
    return _with_second_copy(batch, data_seed * 1_000_003 + step + 5_555_555, frac, window, mapping)


def _with_second_copy(batch: torch.Tensor, seed: int, frac: float, window: int,
                      mapping: torch.Tensor | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    chosen = torch.rand(len(batch), generator=g) < frac
    widths = torch.randint(window // 4, window + 1, (len(batch),), generator=g)
    if not chosen.any():
        return batch
    out = batch.clone()
    for row in torch.nonzero(chosen).flatten().tolist():
        first = batch[row, : int(widths[row])]
        second = first if mapping is None else mapping[first]
        out[row] = torch.cat([first, second, batch[row, len(first):]])[: batch.shape[1]]
    return out
