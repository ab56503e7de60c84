"""The online path of chapter 05: Argument 4's analyses on a pretrained model (``gpt2`` or a
Pythia checkpoint) loaded through TransformerLens' ``TransformerBridge.boot_transformers``.

The rendered book uses our own zoo; a reader in Colab sets the chapter's ``pretrained``
parameter to one of :data:`ACCEPTED` and the chapter adds one section measured on that model.
A folder written by ``save_pretrained`` (model and tokenizer) is accepted too: that is how the
tests exercise the path offline, on a tiny GPT-2 / GPT-NeoX they build themselves.

The pretrained model's induction heads are found as the book finds ours
(:func:`induction_heads.measure.heads.induction_heads` on prefix matching and copying over
repeated random tokens), then the same analyses run on held-out code from our evaluation set,
re-tokenised by the model's own tokenizer.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..engine.config import OneLineError
from ..engine.corpus import hub_reachable
from ..measure.circuits import copying_score
from ..measure.handbuilt import attention_patterns
from ..measure.heads import induction_heads
from ..measure.metrics import prefix_matching_score, repeated_random_tokens
from . import argument4
from .chapter import ParameterError

__all__ = ["ACCEPTED", "PretrainedUnavailable", "validate_pretrained", "boot_bridge", "load_pretrained", "head_scores",
           "argument4_report"]

ACCEPTED = ("gpt2", "EleutherAI/pythia-70m", "EleutherAI/pythia-160m", "EleutherAI/pythia-410m")


class PretrainedUnavailable(OneLineError):
    """A pretrained model that cannot be loaded here (no network and no cached copy)."""


def _is_saved_folder(name: str) -> bool:
    return (Path(name) / "config.json").is_file()


def validate_pretrained(name: object) -> str:
    """The chapter's ``pretrained`` parameter: ``""`` (off: our zoo only), one of
    :data:`ACCEPTED`, or a local ``save_pretrained`` folder."""
    if name == "" or name in ACCEPTED or (isinstance(name, str) and _is_saved_folder(name)):
        return name
    raise ParameterError(f"pretrained must be \"\" (off) or one of: {', '.join(ACCEPTED)} "
                         f"(or a local save_pretrained folder); got {name!r}")


def boot_bridge(model: str, revision: str | None = None, unavailable: type[OneLineError] = PretrainedUnavailable,
                hint: str = "the chapter's other sections use our zoo"):
    """A Hugging Face model as a TransformerLens ``TransformerBridge`` on the CPU, in eval mode:
    the one loader of the book's online paths (this chapter's ``pretrained``, chapter 07's
    ``pythia``). ``model`` is a local ``save_pretrained`` folder (loaded offline) or a Hub name,
    read at ``revision`` if given. A Hub name needs the network, or ``HF_HUB_OFFLINE=1`` and a
    copy in Hugging Face's cache; otherwise ``unavailable`` is raised in one line ending in
    ``hint``."""
    from transformer_lens.model_bridge import TransformerBridge
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one chapter line, not a progress bar per weight file
    what = model if revision is None else f"{model} at {revision}"
    if _is_saved_folder(model):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    elif not os.environ.get("HF_HUB_OFFLINE") and not hub_reachable():
        raise unavailable(f"cannot load {what}: no network here (huggingface.co unreachable; with HF_HUB_OFFLINE=1 a "
                          f"cached copy is used); {hint}")
    try:
        bridge = TransformerBridge.boot_transformers(model, device="cpu", **({} if revision is None else {"revision": revision}))
    except OSError as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise unavailable(f"cannot load {what} here (no network and no cached copy: {first}); {hint}") from None
    return bridge.eval()


def load_pretrained(name: str):
    """``(bridge, tokenizer)`` for a validated, non-empty ``name`` (:func:`boot_bridge`)."""
    validate_pretrained(name)
    if not name:
        raise ParameterError("pretrained is off (\"\"); there is no model to load")
    bridge = boot_bridge(name)
    return bridge, bridge.tokenizer


def _bos(tokenizer) -> int:
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    return 0 if bos is None else int(bos)


@torch.no_grad()
def head_scores(bridge, tokenizer, n_sequences: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """Prefix matching (BOS + 25 random tokens x 4) and copying (the same without BOS) of every
    head, as the trainer's recorder measures our models, with tokens drawn from the first
    ``min(vocab, 50000)`` ids but BOS."""
    bos = _bos(tokenizer)
    n = min(bridge.cfg.d_vocab, 50_000)
    pool = torch.tensor([t for t in range(n) if t != bos])
    tokens = repeated_random_tokens(pool, n_sequences, 25, 4, bos, seed)
    return {"prefix_matching": prefix_matching_score(attention_patterns(bridge, tokens), tokens),
            "copying": copying_score(bridge, tokens[:, 1:])}


@torch.no_grad()
def argument4_report(bridge, tokenizer, code_lines: list[str], texts: list[str], n_passages: int = 16,
                     length: int = 63, heads: list[str] | None = None) -> dict[str, object]:
    """Argument 4's numbers on a pretrained model: its induction heads, their share of the
    copy-2 logit gain on a passage shown twice, their fuzzy (camel-case) and literal scores, and
    pattern accuracy (exact and novel items). ``texts`` are held-out code passages (re-encoded
    here), ``code_lines`` their lines for the fuzzy examples. ``heads`` overrides the heads
    studied (default: the model's induction heads by the book's definition)."""
    bos = _bos(tokenizer)
    scores = head_scores(bridge, tokenizer)
    heads = induction_heads(scores["prefix_matching"], scores["copying"]) if heads is None else heads
    enc = [tokenizer.encode(t, add_special_tokens=False)[:length] for t in texts]
    windows = torch.tensor([e for e in enc if len(e) == length][:n_passages])
    length = min(length, (bridge.cfg.n_ctx - 1) // 2)
    out: dict[str, object] = {"induction_heads": heads, "max_prefix_matching": float(scores["prefix_matching"].max())}
    if len(windows):
        c = argument4.passage_copying(bridge, windows[:, :length], bos, len(windows), length)
        out |= {"loss_copy_1": round(c.loss_per_copy[0], 4), "loss_copy_2": round(c.loss_per_copy[1], 4),
                "copying_gain_share": round(c.share(heads), 4) if heads else None}
    for kind in ("literal", "camel"):
        f = argument4.fuzzy_scores(bridge, tokenizer, argument4.fuzzy_examples(code_lines, kind, 24), kind, bos)
        out[f"fuzzy_{kind}"] = round(float(argument4.heads_mean(f["score"], heads).mean()), 4) if heads and len(f["score"]) else None
    for novel in (False, True):
        task = argument4.pattern_task(tokenizer, bos, novel, n_examples=32)
        key = "pattern_accuracy_" + ("novel" if novel else "exact")
        out[key] = task if isinstance(task, str) else round(argument4.pattern_matching(bridge, task)["accuracy"], 4)
    return out
