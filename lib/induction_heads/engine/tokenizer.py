"""Byte-level BPE trained on the corpus's train split, and the token store built with it.

The tokenizer is saved as a Hugging Face fast tokenizer and reloaded from disk, which is what
TransformerLens needs for ``to_tokens`` / ``to_str_tokens`` (an in-memory tokenizer makes
``boot_native`` fail with ``KeyError: 'name_or_path'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from .corpus import Document
from .store import replace_folder

__all__ = [
    "BOS",
    "train_tokenizer",
    "load_tokenizer",
    "encode_documents",
    "token_counts",
    "random_token_pool",
    "printable_token_pool",
]

BOS = "<|endoftext|>"  # id 0: document separator and beginning-of-sequence token


def train_tokenizer(documents: Iterable[Document], vocab_size: int, out_dir: Path):
    """Train a byte-level BPE with ``vocab_size`` tokens and save it under ``out_dir``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((d.text for d in documents), trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=BOS, pad_token=BOS)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    hf.save_pretrained(tmp)
    replace_folder(tmp, out_dir)  # and record its files' sha256 in the size's manifest
    return load_tokenizer(out_dir)


def load_tokenizer(path: Path):
    """Load the saved tokenizer as a Hugging Face fast tokenizer (offline)."""
    from transformers import AutoTokenizer

    path = Path(path)
    if not (path / "tokenizer.json").exists():
        raise FileNotFoundError(
            f"no tokenizer at {path}; build it with `python -m induction_heads data --size <size>`"
        )
    return AutoTokenizer.from_pretrained(str(path))


def encode_documents(tokenizer, documents: Iterable[Document]) -> np.ndarray:
    """One token stream: every document's ids followed by the BOS/EOS separator (uint16)."""
    sep = tokenizer.convert_tokens_to_ids(BOS)
    texts = [d.text for d in documents]
    backend = tokenizer.backend_tokenizer
    parts: list[np.ndarray] = []
    for i in range(0, len(texts), 256):
        for enc in backend.encode_batch(texts[i : i + 256], add_special_tokens=False):
            parts.append(np.asarray(enc.ids + [sep], dtype=np.uint16))
    return np.concatenate(parts)


def token_counts(stream: np.ndarray, vocab_size: int) -> Int[Tensor, "vocab"]:
    """How often each token id occurs in a token stream."""
    return torch.from_numpy(np.bincount(stream, minlength=vocab_size).astype(np.int64))


def random_token_pool(
    counts: Int[Tensor, "vocab"], exclude_top: float = 0.05, exclude_bottom: float = 0.25
) -> Int[Tensor, "n"]:
    """Token ids the prefix-matching and copying tests draw from.

    The paper draws random tokens "excluding the most common and the least common tokens"
    without saying how many; we drop the most frequent 5% and the least frequent 25% of the
    vocabulary (and the BOS token), which keeps whitespace runs and never-seen merges out.
    """
    order = torch.argsort(counts, descending=True, stable=True)
    v = counts.numel()
    keep = order[int(v * exclude_top) : v - int(v * exclude_bottom)]
    keep = keep[keep != 0]
    return torch.sort(keep).values


def printable_token_pool(
    counts: Int[Tensor, "vocab"], token_strings: list[str], min_count: int = 1000, exclude_top: float = 0.05
) -> Int[Tensor, "n"]:
    """A proposed alternative to :func:`random_token_pool` for the repeat test: tokens that
    decode on their own to printable, non-blank text (no byte fragment of a multi-byte
    character, no control character, no whitespace run), seen at least ``min_count`` times in
    the train split (~1e-4 of its 11.7M tokens in the small preset, enough for the model to
    have learned the token), without the most frequent ``exclude_top`` share of the vocabulary.

    ``token_strings[i]`` is token ``i`` decoded alone (``tokenizer.decode([i])``). Not used by
    any evaluator yet: the prefix-matching and copying tests keep :func:`random_token_pool`.
    """
    order = torch.argsort(counts, descending=True, stable=True)
    top = set(order[: int(counts.numel() * exclude_top)].tolist())
    keep = [
        i for i, s in enumerate(token_strings)
        if i != 0 and i not in top and int(counts[i]) >= min_count
        and "\ufffd" not in s and s.isprintable() and s.strip() != ""
    ]
    return torch.tensor(keep, dtype=torch.long)
