"""The recorder: every measurement the paper takes of a model, at one training snapshot.

The trainer calls it at each snapshot; chapters then only read what it recorded. Measured on a
size's shared held-out evaluation set (the same sequences for every model and snapshot):

- ``loss_by_position [n_ctx-1]``: mean loss at every context position;
- ``per_token_loss [n_eval]``: the loss at one fixed random position per sequence;
- ``icl_score``; ``prefix_matching [L, H]`` (on repeated random tokens); ``previous_token [L, H]``;
- the repeat test (:mod:`induction_heads.measure.repeats`): ``repeat_top1 [copies]`` and
  ``repeat_loss [copies]`` on random tokens repeated, ``passage_top1 [2]`` and
  ``passage_loss [2]`` on a held-out passage shown twice (copy 0: the first showing);
- per sequence, the samples a bootstrap interval resamples
  (:mod:`induction_heads.measure.intervals`): ``icl_score_by_sequence [n_eval]``,
  ``repeat_top1_by_sequence`` and ``repeat_loss_by_sequence [n_repeats, copies]``,
  ``passage_top1_by_sequence`` and ``passage_loss_by_sequence [n_passages, 2]`` (their means over
  sequences are the aggregate keys above);
- ``copying [L, H]``, ``ov_positivity [L, H]``, ``k_composition_trace [L, H]`` (on the
  TransformerLens bridge of the model; NaN in layers whose keys read the token embedding, a
  model whose ``cfg.k_composition_knockout`` is set);
- ``copied_logit_heads [L, H]``, ``copied_logit_direct`` and ``copied_logit``: on the repeat
  test's random repeats, copies 1.., the centred logit of the copied token, and each head's and
  the direct path's (embedding) direct contribution to it (:mod:`induction_heads.measure.attribution`);
- with ``n_ablation_sequences`` > 0, every head's pattern-preserving ablation:
  ``ablation_delta_icl [L, H]`` and ``ablation_per_token_loss [L, H, n]``.

Nothing here knows how models are trained or stored: the model, its conversion to a bridge,
the evaluation set and the random-token pool come in as arguments.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from .ablation import single_head_ablations
from .attribution import direct_path_attribution
from .circuits import copying_score, k_composition_trace, ov_eigenvalue_positivity
from .metrics import (
    icl_score,
    icl_window_positions,
    per_token_losses,
    prefix_matching_score,
    previous_token_score,
    repeated_random_tokens,
)
from .phase import per_token_loss_vector
from .repeats import copy_positions, passage_twice, repeat_test, repeated_sequences

__all__ = ["Recorder", "BEHAVIOUR_KEYS", "CIRCUIT_KEYS", "RECORDED_KEYS", "ABLATION_KEYS"]

BEHAVIOUR_KEYS = (
    "loss_by_position", "per_token_loss", "icl_score", "prefix_matching", "previous_token",
    "repeat_top1", "repeat_loss", "passage_top1", "passage_loss",
    "icl_score_by_sequence", "repeat_top1_by_sequence", "repeat_loss_by_sequence",
    "passage_top1_by_sequence", "passage_loss_by_sequence",
)
CIRCUIT_KEYS = ("copying", "ov_positivity", "k_composition_trace", "copied_logit_heads", "copied_logit_direct",
                "copied_logit")
RECORDED_KEYS = BEHAVIOUR_KEYS + CIRCUIT_KEYS
ABLATION_KEYS = ("ablation_delta_icl", "ablation_per_token_loss")


class Recorder:
    """One snapshot's measurements of a model on a fixed evaluation set.

    Args:
        tokens, positions: the evaluation sequences and the one random position per sequence
            whose loss goes into the per-token-loss vector.
        pool: token ids the repeated-random-token evaluator draws from (the paper's evaluator:
            BOS + 25 random tokens repeated 4 times, 10 sequences).
        repeat_pool: the pool of the repeat test's random sequences (default ``pool``).
        to_bridge: converts the model into a TransformerLens ``TransformerBridge``; the circuit
            statistics and ablations are computed on it.
        n_ablation_sequences: ablate every head on this many evaluation sequences (0: none).
        circuits: False records only the behaviour (losses, ICL, prefix-matching and
            previous-token scores): no bridge, no circuit statistics, no ablations. Several
            times cheaper; what the live chapter draws.
    """

    def __init__(
        self,
        tokens: Int[Tensor, "n_eval pos"],
        positions: Int[Tensor, "n_eval"],
        pool: Int[Tensor, "n"],
        to_bridge: Callable[[nn.Module], object],
        eval_batch_size: int = 64,
        device: str = "cpu",
        n_ablation_sequences: int = 0,
        circuits: bool = True,
        repeat_pool: Int[Tensor, "m"] | None = None,
    ):
        self.tokens, self.positions = tokens, positions
        self.repeated = repeated_random_tokens(pool, n_sequences=10, length=25, repeats=4, bos=0, seed=0)
        self.text_for_prev = tokens[:16]
        self.repeat_length = 30
        self.random_repeats = repeated_sequences(pool if repeat_pool is None else repeat_pool, length=self.repeat_length)
        self.passages = passage_twice(tokens, n_passages=min(64, len(tokens)), length=(tokens.shape[1] - 1) // 2)
        self.to_bridge = to_bridge
        self.batch = eval_batch_size
        self.device = device
        self.circuits = circuits
        self.n_abl = min(n_ablation_sequences, len(tokens)) if circuits else 0

    @property
    def keys(self) -> tuple[str, ...]:
        """The names of what :meth:`__call__` returns."""
        return (RECORDED_KEYS if self.circuits else BEHAVIOUR_KEYS) + (ABLATION_KEYS if self.n_abl else ())

    @torch.no_grad()
    def eval_losses(self, model: nn.Module) -> Float[Tensor, "n_eval pos"]:
        """Every next-token loss of the model on the evaluation set."""
        out = []
        for i in range(0, len(self.tokens), self.batch):
            toks = self.tokens[i : i + self.batch].to(self.device)
            out.append(per_token_losses(model(toks), toks).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> dict[str, Tensor]:
        was_training = model.training
        model.eval()
        losses = self.eval_losses(model)
        patterns = model.attention_patterns(self.repeated.to(self.device)).cpu()
        text_patterns = model.attention_patterns(self.text_for_prev.to(self.device)).cpu()
        model.train(was_training)
        out = {
            "loss_by_position": losses.mean(0),
            "per_token_loss": per_token_loss_vector(losses, self.positions),
            "icl_score": icl_score(losses.mean(0)),
            "icl_score_by_sequence": icl_score(losses),
            "prefix_matching": prefix_matching_score(patterns, self.repeated),
            "previous_token": previous_token_score(text_patterns),
            **self.repeat_scores(model),
        }
        if self.circuits:
            bridge = self.to_bridge(copy.deepcopy(model).cpu().eval())
            out.update(self.circuit_statistics(bridge, out["previous_token"], getattr(model, "cfg", None)))
            if self.n_abl:
                out.update(self.ablations(bridge, losses[: self.n_abl]))
        return {k: out[k] for k in self.keys}

    @torch.no_grad()
    def repeat_scores(self, model: nn.Module) -> dict[str, Tensor]:
        """The repeat test's loss and top-1 accuracy per copy, on random repeats and a passage."""
        was_training = model.training
        model.eval()
        rand = repeat_test(model, self.random_repeats.to(self.device), self.repeat_length, self.batch, by_sequence=True)
        passage = repeat_test(model, self.passages.to(self.device), (self.passages.shape[1] - 1) // 2, self.batch,
                              by_sequence=True)
        model.train(was_training)
        out = {}
        for name, scores in (("repeat", rand), ("passage", passage)):
            for k in ("top1", "loss"):
                out[f"{name}_{k}"] = scores[k].mean(0).cpu()
                out[f"{name}_{k}_by_sequence"] = scores[k].cpu()
        return out

    def circuit_statistics(self, bridge, prev: Float[Tensor, "layer head"], cfg=None) -> dict[str, Tensor]:
        """Copying, OV positivity and the K-composition trace; the trace is NaN in layers whose
        keys read the token embedding (``cfg.k_composition_knockout``)."""
        k_trace = k_composition_trace(bridge, prev)
        if getattr(cfg, "k_composition_knockout", False):
            k_trace[1:] = float("nan")  # keys read the token embedding: no K-composition to trace
        return {
            "copying": copying_score(bridge, self.repeated[:, 1:]),
            "ov_positivity": ov_eigenvalue_positivity(bridge),
            "k_composition_trace": k_trace,
            **self.copied_logit(bridge),
        }

    def copied_logit(self, bridge) -> dict[str, Tensor]:
        """On the random repeats' copies 1.. (where the next token is a copy): the centred logit
        of the copied token, and the direct contributions of each head and of the direct path."""
        paths = direct_path_attribution(bridge, self.random_repeats)
        copies = (self.random_repeats.shape[1] - 1) // self.repeat_length
        idx = copy_positions(self.repeat_length, copies)[1:].flatten()
        return {"copied_logit_heads": paths.heads[..., idx].mean((-2, -1)),
                "copied_logit_direct": paths.embed[:, idx].mean(), "copied_logit": paths.logit[:, idx].mean()}

    def ablations(self, bridge, clean: Float[Tensor, "n pos"]) -> dict[str, Tensor]:
        """Every head's pattern-preserving ablation on the first ``n_abl`` sequences: its ΔICL
        and its per-token-loss vector. Only the positions these need are unembedded."""
        n, n_pos = clean.shape
        early, late = icl_window_positions(n_pos)
        window = torch.tensor(early + late).expand(n, -1)
        positions = torch.cat([window, self.positions[:n, None]], dim=1)
        ablated = single_head_ablations(bridge, self.tokens[:n], positions=positions)  # [L, H, n, 11]
        sparse = torch.full((*ablated.shape[:2], n_pos), float("nan"))
        sparse[..., early + late] = ablated[..., :-1].mean(-2)
        return {
            "ablation_delta_icl": icl_score(sparse) - icl_score(clean.mean(0)),
            "ablation_per_token_loss": ablated[..., -1],
        }
