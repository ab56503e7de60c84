"""Tokens per second of our trainer's step against training the TransformerLens bridge
directly: same model, same batch, same optimizer, one thread.

    python benchmarks/train_throughput.py [--size small] [--model attn-only-2l] [--steps 60]

"Our trainer" is the step `induction_heads.engine.train` runs: the fast twin (fused SDPA attention)
through `next_token_loss`, compiled with torch.compile when the size's TrainConfig.compile is
set (compile time is excluded: it is paid once per run). The eager fast twin is printed too.
Prints one ratio from one run (goal: >= 1.5x on CPU).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from induction_heads.engine.config import model_config, train_config
from induction_heads.engine.model import InductionLM, to_bridge
from induction_heads.engine.train import next_token_loss


def tokens_per_second(model, params, batch: torch.Tensor, steps: int, loss_fn=next_token_loss) -> float:
    opt = torch.optim.AdamW(params, lr=1e-3)
    model.train()

    def step():
        loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch[:, 1:].numel() / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small")
    ap.add_argument("--model", default="attn-only-2l")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, tcfg = model_config(args.size, args.model), train_config(args.size, args.model)
    batch = torch.randint(0, cfg.d_vocab, (tcfg.batch_size, cfg.n_ctx + 1), generator=torch.Generator().manual_seed(0))
    eager = InductionLM(cfg)
    eager_tps = tokens_per_second(eager, eager.parameters(), batch, args.steps)
    if tcfg.compile:
        fast = InductionLM(cfg)
        fast_tps = tokens_per_second(fast, fast.parameters(), batch, args.steps, torch.compile(next_token_loss))
    else:
        fast_tps = eager_tps
    bridge = to_bridge(InductionLM(cfg))
    bridge_tps = tokens_per_second(bridge, bridge.parameters(), batch, args.steps)
    print(f"size {args.size}, model {args.model}, batch {tcfg.batch_size} x {cfg.n_ctx}, "
          f"{args.threads} thread(s), {args.steps} steps, torch.compile {'on' if tcfg.compile else 'off'}")
    print(f"fast twin, eager:       {eager_tps:10,.0f} tokens/s")
    print(f"our trainer's step:     {fast_tps:10,.0f} tokens/s")
    print(f"TransformerLens bridge: {bridge_tps:10,.0f} tokens/s")
    print(f"ratio trainer/bridge: {fast_tps / bridge_tps:.2f}x")


if __name__ == "__main__":
    main()
