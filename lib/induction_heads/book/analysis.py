"""Chapter-level analyses over a zoo: read several runs, find their windows, compare them.

Chapters call these few functions and plot the results with :mod:`induction_heads.book.figures`;
every measurement itself lives in :mod:`metrics`, :mod:`phase`, :mod:`circuits`,
:mod:`ablation`.
"""

from __future__ import annotations

from typing import Iterable

import torch
from jaxtyping import Float
from torch import Tensor

from ..measure.metrics import per_token_losses
from ..measure.phase import PhaseWindow, loss_bump, phase_change_window, snapshots_around
from ..engine.runs import available_runs, list_checkpoints, load_metrics, load_model, load_tokenizer, run_info

__all__ = [
    "CODE_SNIPPET",
    "load_runs",
    "windows",
    "bump",
    "first_crossing",
    "checkpoint_before",
    "checkpoint_after",
    "text_losses",
    "final_head_classes",
    "before_after_over_training",
    "induction_ablation",
    "full_vs_pattern_preserving",
    "repeat_profiles",
]

# Our analogue of the paper's Harry Potter paragraph: code in which made-up identifiers repeat,
# so a model can only predict their second and later occurrences from the context.
CODE_SNIPPET = '''def tally_glorp(glorp_ledger, frob_limit):
    glorp_total = 0
    for glorp_entry in glorp_ledger:
        if glorp_entry.frob_count > frob_limit:
            glorp_total += glorp_entry.frob_count
    return glorp_total
'''


def load_runs(size: str, names: Iterable[str] | None = None) -> dict[str, dict[str, Tensor]]:
    """The metrics of the given runs (default: every finished run of ``size``), in zoo order."""
    names = available_runs(size) if names is None else [n for n in names if n in set(available_runs(size))]
    return {n: load_metrics(size, n) for n in names}


def windows(runs: dict[str, dict[str, Tensor]]) -> dict[str, PhaseWindow | None]:
    """Each run's phase-change window (:func:`induction_heads.measure.phase.phase_change_window`)."""
    return {n: phase_change_window(m["tokens"].double(), m["icl_score"].double()) for n, m in runs.items()}


def bump(size: str, name: str, metrics: dict[str, Tensor]) -> tuple[float, float] | None:
    """The run's loss bump (:func:`induction_heads.measure.phase.loss_bump`) on its held-out loss averaged
    over all positions, looked for after the learning-rate warm-up (which also bends the curve)."""
    info = run_info(size, name)
    t = info["train_config"]
    warmup_tokens = t["warmup_steps"] * t["batch_size"] * info["model_config"]["n_ctx"]
    return loss_bump(metrics["tokens"].double(), metrics["loss_by_position"].mean(-1), after_tokens=warmup_tokens)


def first_crossing(tokens: Tensor, score: Tensor, threshold: float) -> float | None:
    """Training tokens at the first snapshot where ``score`` reaches ``threshold`` (None if never)."""
    hit = torch.nonzero(score >= threshold)
    return None if len(hit) == 0 else float(tokens[int(hit[0])])


def checkpoint_before(size: str, name: str, tokens: float) -> int:
    """The last checkpointed step at or before ``tokens`` training tokens (else the first)."""
    m = load_metrics(size, name)
    per_step = float(m["tokens"][-1]) / float(m["step"][-1])
    steps = list_checkpoints(size, name)
    before = [s for s in steps if s * per_step <= tokens]
    return before[-1] if before else steps[0]


def checkpoint_after(size: str, name: str, tokens: float) -> int:
    """The first checkpointed step at or after ``tokens`` training tokens (else the last)."""
    m = load_metrics(size, name)
    per_step = float(m["tokens"][-1]) / float(m["step"][-1])
    steps = list_checkpoints(size, name)
    after = [s for s in steps if s * per_step >= tokens]
    return after[0] if after else steps[-1]


@torch.no_grad()
def text_losses(size: str, name: str, step: int, text: str) -> tuple[list[str], Float[Tensor, "pos"]]:
    """Per-token losses of a checkpoint on ``text``: the predicted tokens (as strings) and the
    loss of predicting each from everything before it (BOS prepended). A text longer than the
    model's context is cut to its first ``n_ctx`` tokens."""
    tok = load_tokenizer(size)
    ids = torch.tensor([[tok.bos_token_id] + tok.encode(text, add_special_tokens=False)])
    model = load_model(size, name, step)
    ids = ids[:, : model.cfg.n_ctx]
    losses = per_token_losses(model(ids), ids)[0]
    return [tok.decode([i]) for i in ids[0, 1:].tolist()], losses


def final_head_classes(metrics: dict[str, Tensor]) -> list[str]:
    """Every head's class at the last snapshot (:func:`induction_heads.measure.heads.classify_heads`)."""
    from ..measure.heads import classify_heads

    return classify_heads(metrics["prefix_matching"][-1], metrics["copying"][-1], metrics["previous_token"][-1])


def before_after_over_training(
    metrics: dict[str, Tensor], window: PhaseWindow
) -> Float[Tensor, "snapshot layer head"]:
    """The recorder's per-snapshot head ablations projected on the run's own phase change
    (:func:`induction_heads.measure.ablation.before_and_after_attribution`): ``u`` runs from the
    per-token-loss vector at the last snapshot before the window to the one at the first
    snapshot after it, restricted to the ablated evaluation sequences."""
    from ..measure.ablation import before_and_after_attribution

    ablated = metrics["ablation_per_token_loss"]  # [S, L, H, n]
    n = ablated.shape[-1]
    clean = metrics["per_token_loss"][:, :n]
    i0, i1 = snapshots_around(metrics["tokens"], window)
    return torch.stack([
        before_and_after_attribution(ablated[s], clean[s], clean[i0], clean[i1]) for s in range(len(clean))
    ])


@torch.no_grad()
def induction_ablation(size: str, name: str, heads: list[str], n_sequences: int | None = None) -> dict:
    """Zero-ablate ``heads`` together (pattern-preserving) and each on its own, at the final
    checkpoint on the evaluation set (its first ``n_sequences``, default all): the ICL score
    clean and ablated, the fraction of the ICL removed, and the sum of the single-head ΔICLs
    (redundant heads make the joint effect exceed that sum)."""
    from ..measure.ablation import ablate_heads, clean_losses
    from ..measure.metrics import icl_score
    from ..engine.runs import load_bridge, load_eval_set

    bridge = load_bridge(size, name)
    tokens = load_eval_set(size)[0][:n_sequences]
    clean = float(icl_score(clean_losses(bridge, tokens).mean(0)))
    ablated = ablate_heads(bridge, tokens, [heads] + [[h] for h in heads])
    icl = icl_score(ablated.mean(1))  # [1 + len(heads)]
    return {
        "icl_clean": clean,
        "icl_all_ablated": float(icl[0]),
        "fraction_removed": (float(icl[0]) - clean) / -clean if clean < 0 else float("nan"),
        "delta_icl_together": float(icl[0]) - clean,
        "delta_icl_sum_of_singles": float((icl[1:] - clean).sum()),
    }


@torch.no_grad()
def full_vs_pattern_preserving(size: str, name: str, n_sequences: int = 128) -> Float[Tensor, "mode layer head"]:
    """Every head's ΔICL at the final checkpoint under pattern-preserving (``[0]``) and full
    (``[1]``) zero ablation, on the first ``n_sequences`` evaluation sequences."""
    from ..measure.ablation import clean_losses, delta_icl, single_head_ablations
    from ..engine.runs import load_bridge, load_eval_set

    bridge = load_bridge(size, name)
    tokens = load_eval_set(size)[0][:n_sequences]
    clean = clean_losses(bridge, tokens)
    return torch.stack([delta_icl(single_head_ablations(bridge, tokens, preserve), clean) for preserve in (True, False)])


@torch.no_grad()
def repeat_profiles(
    size: str, names: Iterable[str], length: int = 30, repeats: int = 4, n_sequences: int = 20
) -> dict[str, dict[str, Tensor]]:
    """The repeat test of each model's final checkpoint, the way courses show it: BOS + ``length``
    random tokens (the evaluators' pool) repeated ``repeats`` times; for each model the mean loss
    at every position (``loss_by_position``) and the loss and top-1 accuracy per copy
    (:func:`induction_heads.measure.repeats.repeat_scores`; copy 0 is the first showing)."""
    from ..engine.runs import load_token_counts
    from ..engine.tokenizer import random_token_pool
    from ..measure.repeats import repeat_scores, repeated_sequences

    tokens = repeated_sequences(random_token_pool(load_token_counts(size)), n_sequences, length, repeats)
    out = {}
    for name in names:
        logits = load_model(size, name)(tokens)
        out[name] = {"loss_by_position": per_token_losses(logits, tokens).mean(0),
                     **repeat_scores(logits, tokens, length)}
    return out
