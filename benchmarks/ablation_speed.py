"""How long per-head pattern-preserving ablation of every head takes, batched vs a naive loop.

Model: the small size's ``attn-only-2l`` (its latest checkpoint if training has saved one,
else the seeded random init: the cost does not depend on the weights). Data: the small
size's evaluation set, or random tokens of the size's ``n_eval_sequences x n_ctx`` shape if
the data has not been built yet.

- batched: ``induction_heads.measure.ablation.single_head_ablations`` (every head's ablation from the
  clean run's cache, value path only, several heads per forward pass when they fit);
- naive: ``naive_single_head_ablations`` (one hooked forward pass of the whole model per head).

One run of each on one CPU thread; prints seconds and the ratio. Run:
``.venv/bin/python benchmarks/ablation_speed.py``
"""

from __future__ import annotations

import time

import torch

from induction_heads.engine import runs
from induction_heads.measure.ablation import naive_single_head_ablations, single_head_ablations
from induction_heads.engine.config import get_size, model_config
from induction_heads.engine.model import InductionLM, to_bridge

def load_model() -> tuple[InductionLM, str]:
    try:
        model = runs.load_model("small", "attn-only-2l")
        return model, f"checkpoint at step {runs.list_checkpoints('small', 'attn-only-2l')[-1]}"
    except FileNotFoundError as err:  # no finished run yet (runs.RunStoreError)
        reason = str(err).split(";")[0]
        return InductionLM(model_config("small", "attn-only-2l")), f"random init, seed 0 ({reason})"


def eval_tokens() -> tuple[torch.Tensor, str]:
    try:
        return runs.load_eval_set("small")[0], "the small evaluation set"
    except FileNotFoundError:  # no run or data yet (runs.RunStoreError)
        p = get_size("small")
        g = torch.Generator().manual_seed(0)
        shape = (p.train.n_eval_sequences, p.n_ctx)
        return torch.randint(0, p.vocab_size, shape, generator=g), "random tokens"


def main() -> None:
    torch.set_num_threads(1)
    model, weights = load_model()
    bridge = to_bridge(model)
    tokens, data = eval_tokens()
    cfg = bridge.cfg
    print(f"model: small attn-only-2l ({cfg.n_layers} layers x {cfg.n_heads} heads), {weights}")
    print(f"data: {data}, {tokens.shape[0]} x {tokens.shape[1]} tokens; torch threads: 1")

    t0 = time.perf_counter()
    batched = single_head_ablations(bridge, tokens)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = naive_single_head_ablations(bridge, tokens)
    t_naive = time.perf_counter() - t0

    err = (batched - naive).abs().max().item()
    print(f"batched: {t_batched:.2f} s   naive per-head loop: {t_naive:.2f} s   "
          f"ratio naive/batched: {t_naive / t_batched:.2f}x   max |difference|: {err:.1e} nats")
    assert err < 1e-3, "the batched and naive ablations disagree"


if __name__ == "__main__":
    main()
