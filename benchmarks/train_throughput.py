"""Tokens per second of our trainer's step, side by side in one run: at 1 and 2 threads, against
training the TransformerLens bridge directly (same model, batch and optimizer), and against the
machine's fp32 matmul ceiling measured by this script; then where the step's time goes.

    python benchmarks/train_throughput.py [--size small] [--model attn-only-2l] [--steps 60] [--threads 1,2]
                                          [--device cuda] [--profile]

"Our trainer" is the step `induction_heads.engine.train` runs: the fast twin (fused SDPA
attention) through `next_token_loss`, compiled with torch.compile when the size's
TrainConfig.compile is set (compile time is excluded: it is paid once per run), with the
trainer's fused AdamW; the bridge is trained the way a TransformerLens user would (AdamW's
default implementation).

Model FLOPs per token (the usual estimate, said here because the utilisation depends on it):
6 x (the parameters of every matrix multiply, unembedding included, embedding lookup excluded)
+ 6 x layers x n_ctx x (heads x d_head) for attention scores and values (causal: half of the
n_ctx x n_ctx products, forward and backward). Utilisation = model FLOPs/s / the ceiling: the
best fp32 rate of square matmuls (1024 to 4096) at the same thread count.
Goals: trainer/bridge >= 2x; utilisation >= 60%.
"""

from __future__ import annotations

import argparse
import time

import torch

from induction_heads.engine.config import model_config, train_config
from induction_heads.engine.model import InductionLM, to_bridge
from induction_heads.engine.train import next_token_loss


def tokens_per_second(model, params, batch: torch.Tensor, steps: int, loss_fn=next_token_loss,
                      fused: bool = False) -> float:
    opt = torch.optim.AdamW(params, lr=1e-3, fused=fused)
    model.train()

    def step():
        loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up (and compilation)
        step()
    _sync(batch.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(batch.device)
    return steps * batch[:, 1:].numel() / (time.perf_counter() - t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def model_flops_per_token(model: InductionLM) -> float:
    """6 x matmul parameters + 6 x layers x n_ctx x (heads x d_head) (see the module docstring)."""
    cfg = model.cfg
    matmul = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith("embed"))
    if cfg.tied_embeddings:
        matmul += model.embed.weight.numel()  # the unembedding is the embedding's matrix
    return 6 * matmul + 6 * cfg.n_layers * cfg.n_ctx * cfg.n_heads * cfg.d_head


def matmul_ceiling(device: torch.device, sizes=(1024, 2048, 4096), repeats: int = 5) -> float:
    """The best fp32 FLOP/s of an n x n x n matmul over ``sizes`` on ``device``."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        a @ b
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        _sync(device)
        best = max(best, repeats * 2 * n**3 / (time.perf_counter() - t0))
    return best


def measure(cfg, tcfg, batch, steps: int, device: torch.device, with_bridge: bool) -> dict[str, float]:
    model = InductionLM(cfg).to(device)
    step_loss = torch.compile(next_token_loss) if tcfg.compile else next_token_loss
    out = {"trainer": tokens_per_second(model, model.parameters(), batch, steps, step_loss, fused=True)}
    if with_bridge:
        bridge = to_bridge(InductionLM(cfg))
        bridge = bridge if device.type == "cpu" else bridge.to(device)
        out["bridge"] = tokens_per_second(bridge, bridge.parameters(), batch, steps)
    out["ceiling"] = matmul_ceiling(device)
    return out


def profile(cfg, tcfg, batch, device: torch.device, top: int = 12) -> None:
    """Where one step's time goes: the operators with the most self time over 10 steps."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    model = InductionLM(cfg).to(device)
    step_loss = torch.compile(next_token_loss) if tcfg.compile else next_token_loss
    tokens_per_second(model, model.parameters(), batch, 2, step_loss, fused=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(10):
            loss = step_loss(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small")
    ap.add_argument("--model", default="attn-only-2l")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (CPU)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--profile", action="store_true", help="print the step's top operators at the last thread count")
    args = ap.parse_args()
    device = torch.device(args.device)
    cfg, tcfg = model_config(args.size, args.model), train_config(args.size, args.model)
    batch = torch.randint(0, cfg.d_vocab, (tcfg.batch_size, cfg.n_ctx + 1), generator=torch.Generator().manual_seed(0))
    batch = batch.to(device)
    flops = model_flops_per_token(InductionLM(cfg))
    print(f"size {args.size}, model {args.model}, batch {tcfg.batch_size} x {cfg.n_ctx}, {args.steps} steps, "
          f"torch.compile {'on' if tcfg.compile else 'off'}, device {device}; model FLOPs/token {flops / 1e6:.2f}M")
    print(f"{'threads':>7} {'trainer tok/s':>14} {'bridge tok/s':>13} {'ratio':>6} {'ceiling GFLOP/s':>16} {'utilisation':>11}")
    for threads in [int(t) for t in args.threads.split(",")] if device.type == "cpu" else [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        r = measure(cfg, tcfg, batch, args.steps, device, with_bridge=True)
        util = r["trainer"] * flops / r["ceiling"]
        print(f"{threads:>7} {r['trainer']:>14,.0f} {r['bridge']:>13,.0f} {r['trainer'] / r['bridge']:>5.2f}x "
              f"{r['ceiling'] / 1e9:>16.1f} {100 * util:>10.1f}%")
    if args.profile:
        profile(cfg, tcfg, batch, device)


if __name__ == "__main__":
    main()
