"""Argument 6's online path: the Pythia suite's public training checkpoints, scored as the
recorder scores our runs.

EleutherAI's Pythia models (Biderman et al. 2023) were trained on the same data in the same
order at every size and publish checkpoints as Hugging Face revisions ``step0``, ``step1``, ...
``step512``, ``step1000``, ... ``step143000`` (2,097,152 tokens per step: 1,024 sequences of
2,048 tokens). Later work reads the phase change in them at about the same step at every size.
For each checkpoint we load the model through TransformerLens
(``TransformerBridge.boot_transformers``) and measure the largest prefix-matching score over its
heads (the paper's evaluator: BOS + 25 random tokens repeated 4 times) and its ICL score (loss at
the 500th token minus the 50th, on 512-token windows of our held-out Python code, re-tokenised
by Pythia's tokenizer).

The chapter's ``pythia`` parameter turns this on (it is off in the book: it downloads
checkpoints). A model is a Pythia size (``"70m"``, ``"EleutherAI/pythia-70m"``) or a local folder
holding one ``save_pretrained`` folder per revision (``<folder>/step<N>/``): that is how the tests
run this path offline, on tiny GPT-NeoX models they build. Without network a Hub model stops with
one line that says so; an unknown name with one line listing what is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from jaxtyping import Int
from torch import Tensor

from ..engine.config import OneLineError
from ..measure.handbuilt import attention_patterns
from ..measure.metrics import icl_score, per_token_losses, prefix_matching_score, repeated_random_tokens
from .chapter import ParameterError
from .pretrained import boot_bridge

__all__ = [
    "PYTHIA_SIZES",
    "PYTHIA_STEPS",
    "TOKENS_PER_STEP",
    "PythiaUnavailable",
    "validate_pythia",
    "checkpoint_steps",
    "load_checkpoint",
    "code_windows",
    "checkpoint_scores",
    "scores_over_training",
]

PYTHIA_SIZES = ("14m", "70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b")
PYTHIA_STEPS = (0, 32, 128, 256, 512, 1000, 2000, 4000, 8000, 16000, 33000, 66000, 143000)
"""The revisions read by default: log-spaced from initialisation to the end (143,000 steps);
later work puts the induction-head bump near step 1,000-2,000 (2-4B tokens)."""
TOKENS_PER_STEP = 1024 * 2048


class PythiaUnavailable(OneLineError):
    """A Pythia checkpoint that cannot be loaded here (no network, no cached copy)."""


def _is_local(model: str) -> bool:
    return Path(model).is_dir() and any(Path(model).glob("step*/config.json"))


def _hub_name(model: str) -> str | None:
    short = model.removeprefix("EleutherAI/").removeprefix("pythia-")
    return f"EleutherAI/pythia-{short}" if short in PYTHIA_SIZES else None


def validate_pythia(value: object) -> tuple[str, ...]:
    """The chapter's ``pythia`` parameter: ``""`` (off) or comma-separated models, each a Pythia
    size (``"70m"`` or ``"EleutherAI/pythia-70m"``) or a local folder of ``step<N>`` revisions.
    Returns the models (Hub names in full), or raises a one-line :class:`ParameterError`."""
    if not isinstance(value, str):
        raise ParameterError(f"pythia must be a string (\"\" for off); got {value!r}")
    out = []
    for item in (v.strip() for v in value.split(",") if v.strip()):
        model = _hub_name(item) or (item if _is_local(item) else None)
        if model is None:
            raise ParameterError(f"unknown Pythia model {item!r}; choose from: {', '.join(PYTHIA_SIZES)} "
                                 "(or EleutherAI/pythia-<size>, or a local folder of step<N> save_pretrained folders), "
                                 "comma-separated; \"\" turns the online path off")
        out.append(model)
    return tuple(out)


def checkpoint_steps(model: str, steps: Sequence[int] = PYTHIA_STEPS) -> list[int]:
    """The steps to read: a local folder's ``step<N>`` revisions, else ``steps``."""
    if _is_local(model):
        return sorted(int(p.parent.name[4:]) for p in Path(model).glob("step*/config.json"))
    return list(steps)


def load_checkpoint(model: str, step: int):
    """The checkpoint of ``model`` at training ``step`` as a TransformerLens ``TransformerBridge``
    on the CPU, in eval mode. A Hub model is read at ``revision="step<N>"`` (downloaded on first
    use, then from Hugging Face's cache); a local folder at ``<folder>/step<N>``, offline."""
    hint = "run the chapter with pythia=\"\" or where the Hub is reachable"
    if not _is_local(model):
        return boot_bridge(model, revision=f"step{step}", unavailable=PythiaUnavailable, hint=hint)
    path = Path(model) / f"step{step}"
    if not (path / "config.json").is_file():
        raise ParameterError(f"{model!r} has no revision step{step}; it has: "
                             + ", ".join(f"step{s}" for s in checkpoint_steps(model)))
    return boot_bridge(str(path), unavailable=PythiaUnavailable, hint=hint)


def code_windows(tokenizer, texts: Sequence[str], length: int = 512, n_windows: int = 32) -> Int[Tensor, "window length"]:
    """Up to ``n_windows`` windows of ``length`` tokens from the start of each text long enough
    (BOS first, as our evaluation sequences), tokenised by ``tokenizer``."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    rows = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) >= length - 1:
            rows.append([bos] + ids[: length - 1])
        if len(rows) == n_windows:
            break
    if not rows:
        raise ValueError(f"no text reaches {length} tokens")
    return torch.tensor(rows)


@torch.no_grad()
def checkpoint_scores(
    bridge, windows: Int[Tensor, "window length"], n_sequences: int = 10, seed: int = 0
) -> dict[str, Tensor]:
    """One checkpoint's ``prefix_matching [layer, head]`` (BOS + 25 random tokens x 4, the
    tokens drawn from the first ``min(vocab, 50000)`` ids but BOS) and ``icl_score`` (on the
    code ``windows``: :func:`~induction_heads.measure.metrics.icl_score` at the paper's 500th
    and 50th token for 512-token windows, scaled for shorter ones)."""
    tok = bridge.tokenizer
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    pool = torch.tensor([t for t in range(min(bridge.cfg.d_vocab, 50_000)) if t != bos])
    rr = repeated_random_tokens(pool, n_sequences, 25, 4, bos, seed)
    prefix = prefix_matching_score(attention_patterns(bridge, rr), rr)
    losses = torch.cat([per_token_losses(bridge(w[None]), w[None]) for w in windows])
    return {"prefix_matching": prefix.float(), "icl_score": icl_score(losses.mean(0)).float()}


def scores_over_training(
    model: str, texts: Sequence[str], steps: Sequence[int] | None = None, length: int = 512, n_windows: int = 16,
) -> dict[str, Tensor]:
    """:func:`checkpoint_scores` at every step of ``model`` (default :func:`checkpoint_steps`),
    stacked like the recorder's metrics: ``step [S]``, ``tokens [S]``, ``prefix_matching
    [S, layer, head]``, ``icl_score [S]``. Checkpoints are loaded one at a time."""
    steps = checkpoint_steps(model) if steps is None else list(steps)
    rows: list[dict[str, Tensor]] = []
    windows = None
    for step in steps:
        bridge = load_checkpoint(model, step)
        if windows is None:
            windows = code_windows(bridge.tokenizer, texts, min(length, bridge.cfg.n_ctx), n_windows)
        rows.append(checkpoint_scores(bridge, windows))
        del bridge
    return {
        "step": torch.tensor(steps),
        "tokens": torch.tensor(steps, dtype=torch.float64) * TOKENS_PER_STEP,
        "prefix_matching": torch.stack([r["prefix_matching"] for r in rows]),
        "icl_score": torch.stack([r["icl_score"] for r in rows]),
    }
