"""Chapter 05's measurements of each model, computed once and kept with the run's readings.

Argument 4's chapter measures every plain model with two or more layers (about 20 at ``small``)
five ways on its final checkpoint: a held-out passage shown twice (:func:`~induction_heads.book.argument4.passage_copying`),
the lag curve clean and with the heads it follows ablated (:func:`~induction_heads.book.argument4.lag_curves`),
the fuzzy prefix-matching scores of every variation (:func:`~induction_heads.book.argument4.fuzzy_scores`)
and the pattern task with exact and novel items (:func:`~induction_heads.book.argument4.pattern_matching`).
:func:`chapter_measurements` does all of them for one run, as the chapter did cell by cell (same
inputs, same order), and :data:`CHAPTER_MEASUREMENTS` keeps the result (``make readings``) in
``data/<size>/zoo/<model>/readings/argument4.chapter.json``. Tensors travel as exact lists
(:func:`to_plain`, :func:`from_plain`: a float32 survives JSON unchanged), so a kept measurement
prints what the computation prints.

This module is kept apart from :mod:`induction_heads.book.argument4` (which the summary imports)
so that its version covers the chapter's measurements without making every summary row stale.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Iterable

import torch
from torch import Tensor

from ..engine.config import get_size
from ..engine.runs import load_eval_set, load_tokenizer
from ..engine.zoo import Run
from ..measure.heads import classify_heads, head_labels, induction_heads
from .argument1 import multi_layer
from .argument4 import (FUZZY_KINDS, CopyingResult, bridge_and_heads, code_lines, eval_texts, fuzzy_examples,
                        fuzzy_scores, identifier_pool, lag_curves, passage_copying, pattern_matching, pattern_task)
from .readings import Provenance, analysis_value, register_analysis

__all__ = ["to_plain", "from_plain", "chapter_models", "chapter_measurements", "CHAPTER_MEASUREMENTS",
           "model_readings"]

_TENSOR = "__tensor__"


def to_plain(x: Any) -> Any:
    """``x`` as JSON's types: a tensor as ``{"__tensor__": x.tolist(), "dtype": ...}`` (exact: a
    float32 or an integer round-trips through JSON unchanged), tuples as lists, dicts with their
    keys as strings; numbers, strings, booleans and None as they are."""
    if isinstance(x, Tensor):
        return {_TENSOR: x.tolist(), "dtype": str(x.dtype).removeprefix("torch.")}
    if isinstance(x, dict):
        return {str(k): to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_plain(v) for v in x]
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise TypeError(f"to_plain: cannot keep a {type(x).__name__} as JSON")


def from_plain(x: Any) -> Any:
    """The inverse of :func:`to_plain` (tuples come back as lists)."""
    if isinstance(x, dict):
        if _TENSOR in x:
            return torch.tensor(x[_TENSOR], dtype=getattr(torch, x["dtype"]))
        return {k: from_plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_plain(v) for v in x]
    return x


def chapter_models(names: Iterable[str]) -> list[str]:
    """The models chapter 05 measures: every plain model with two or more layers
    (:func:`induction_heads.book.argument1.multi_layer`) but the ``-translation`` one, which has
    a section of its own."""
    return [n for n in multi_layer(names) if not n.endswith("-translation")]


def _heads(run: Run) -> dict:
    """The run's induction heads, final head scores, labels, classes, and the heads the chapter
    follows (its induction heads; without any, at tiny, the best prefix matcher)."""
    final = {k: run.trajectory.final(k) for k in ("prefix_matching", "copying")}
    labels = head_labels(*final["prefix_matching"].shape)
    induction = induction_heads(final["prefix_matching"], final["copying"])
    return dict(induction=induction, final=final, labels=labels,
                classes=classify_heads(final["prefix_matching"], final["copying"], run.trajectory.final("previous_token")),
                focus=induction or [labels[int(final["prefix_matching"].argmax())]])


def chapter_measurements(run: Run) -> dict:
    """Chapter 05's five measurements of ``run`` at its final checkpoint, as :func:`to_plain`
    JSON: ``copying`` (the :class:`~induction_heads.book.argument4.CopyingResult`'s fields),
    ``lags`` and ``lag`` (the lag curves clean and with the followed heads ablated), ``fuzzy``
    (per variation, each example's per-head ``score`` and ``control``) and ``pattern`` (per
    ``"exact"``/``"novel"``, :func:`~induction_heads.book.argument4.pattern_matching`'s result;
    None where the tokenizer cannot express the task)."""
    tok, ev = load_tokenizer(run.size), load_eval_set(run.size)[0]
    bos = tok.bos_token_id
    bridge, _, _ = bridge_and_heads(run)
    focus = _heads(run)["focus"]
    copying = passage_copying(bridge, ev, bos)
    lags, lag = lag_curves(bridge, identifier_pool(tok, get_size(run.size).vocab_size),
                           {"clean": [], "induction heads ablated": focus}, bos)
    lines = code_lines(eval_texts(tok, ev))
    fuzzy = {kind: fuzzy_scores(bridge, tok, fuzzy_examples(lines, kind), kind, bos) for kind in FUZZY_KINDS}
    pattern = {}
    for key, novel in (("exact", False), ("novel", True)):
        task = pattern_task(tok, bos, novel, n_examples=128)
        pattern[key] = None if isinstance(task, str) else pattern_matching(bridge, task)
    return to_plain({"copying": {f.name: getattr(copying, f.name) for f in fields(copying)},
                     "lags": lags, "lag": lag, "fuzzy": fuzzy, "pattern": pattern})


CHAPTER_MEASUREMENTS = register_analysis("argument4.chapter", chapter_measurements, chapter_models)


def model_readings(run: Run, provenance: Provenance | None = None) -> dict:
    """What chapter 05 reads of one model: its heads (``induction``, ``final``, ``labels``,
    ``classes``, ``focus``) and its kept measurements (:data:`CHAPTER_MEASUREMENTS`, computed now
    when stale): ``copying`` as a :class:`~induction_heads.book.argument4.CopyingResult`, ``lags``,
    ``lag``, ``fuzzy``, and ``pattern`` keyed by ``False`` (exact items) and ``True`` (novel)."""
    m = from_plain(analysis_value(run, CHAPTER_MEASUREMENTS, provenance))
    c = m["copying"]
    c["loss_per_copy"], c["logit"] = tuple(c["loss_per_copy"]), tuple(c["logit"])
    return {**_heads(run), "copying": CopyingResult(**c), "lags": m["lags"], "lag": m["lag"], "fuzzy": m["fuzzy"],
            "pattern": {False: m["pattern"]["exact"], True: m["pattern"]["novel"]}}
