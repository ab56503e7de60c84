"""The repeat test on any run: does the model complete sequences it has already seen?

    python benchmarks/repeat_test.py --size small --model attn-only-2l     # a committed zoo run
    python benchmarks/repeat_test.py --run runs/head_strength/hs-tied-attn-only-2l [--step N]
    python benchmarks/repeat_test.py --checkpoint <run>/checkpoints/step_0012000.safetensors
    (add --json for one JSON object)

Prints, for the final checkpoint (or --step): top-1 accuracy and loss on every copy of 20
sequences x 30 random tokens shown 4 times, for three token pools (the evaluators' pool
`random_token_pool`, the proposed `printable_token_pool` with >= 1000 training occurrences, and
its frequent part with >= 10000), the held-out passage shown twice (64 evaluation windows' first
63 tokens: top-1 on copy 1 / copy 2), the largest prefix-matching score as the recorder measures
it (BOS + 25 random tokens x 4, 10 sequences), and that head's copying score (paper threshold 0).
"""

from __future__ import annotations

import argparse
import json
import math
from functools import cache
from pathlib import Path

import torch

from induction_heads.measure.circuits import copying_score
from induction_heads.engine.config import ModelConfig
from induction_heads.measure.metrics import prefix_matching_score, repeated_random_tokens
from induction_heads.engine.model import InductionLM, to_bridge
from induction_heads.measure.repeats import passage_twice, repeat_test, repeated_sequences
from induction_heads.engine.runs import (checkpoint_file, checkpoint_step, load_eval_set, load_model, load_token_counts,
                                        load_tokenizer)
from induction_heads.engine.store import read_tensors
from induction_heads.engine.tokenizer import printable_token_pool, random_token_pool


@cache
def pools(size: str) -> dict[str, torch.Tensor]:
    counts = load_token_counts(size)
    tok = load_tokenizer(size)
    strings = [tok.decode([i]) for i in range(counts.numel())]
    return {
        "old": random_token_pool(counts),
        "printable": printable_token_pool(counts, strings, min_count=1000),
        "frequent": printable_token_pool(counts, strings, min_count=10_000),
    }


@torch.no_grad()
def measure(model: InductionLM, size: str = "small") -> dict:
    """Every number this script prints, for one model, as a flat dict."""
    model = model.eval()
    out: dict = {}
    for name, pool in pools(size).items():
        s = repeat_test(model, repeated_sequences(pool, n_sequences=20, length=30, repeats=4), length=30)
        out[f"rep_top1_{name}"] = [round(float(v), 3) for v in s["top1"]]
        out[f"rep_loss_{name}"] = [round(float(v), 2) for v in s["loss"]]
        out[f"rep_{name}"] = round(float(s["top1"][1:].mean()), 3)
    ev, _ = load_eval_set(size)
    s = repeat_test(model, passage_twice(ev, n_passages=64, length=63), length=63)
    out["passage_top1"] = [round(float(v), 3) for v in s["top1"]]
    out["passage_loss"] = [round(float(v), 2) for v in s["loss"]]
    rep = repeated_random_tokens(pools(size)["old"], n_sequences=10, length=25, repeats=4, bos=0, seed=0)
    prefix = prefix_matching_score(model.attention_patterns(rep), rep)
    layer, head = divmod(int(prefix.argmax()), prefix.shape[1])
    copying = copying_score(to_bridge(model), rep[:, 1:])
    out.update(prefix_max=round(float(prefix.max()), 3), induction_head=f"{layer}.{head}",
               copying_of_induction_head=round(float(copying[layer, head]), 3))
    return out


def load_run_model(run: Path, step: int | None = None) -> tuple[InductionLM, int]:
    """The fast twin of a run folder's checkpoint (its last one by default)."""
    info = json.loads((run / "info.json").read_text())
    steps = sorted(checkpoint_step(p) for p in (run / "checkpoints").glob("step_*.safetensors"))
    if not steps:
        raise SystemExit(f"no checkpoints in {run}")
    step = steps[-1] if step is None else step
    model = InductionLM(ModelConfig.from_dict(info["model_config"]))
    model.load_state_dict(read_tensors(run / "checkpoints" / checkpoint_file(step), "retrain the run"))
    return model, step


def print_table(m: dict, title: str) -> None:
    print(f"## {title}")
    print(f"largest prefix matching {m['prefix_max']} (head {m['induction_head']}), its copying score "
          f"{m['copying_of_induction_head']:+.3f}")
    print("| input | top-1 per copy | loss per copy (nats) | top-1 on copies 2.. |")
    print("|---|---|---|---|")
    for name in ("old", "printable", "frequent"):
        print(f"| 30 random tokens x 4, pool {name} | {m[f'rep_top1_{name}']} | {m[f'rep_loss_{name}']} | {m[f'rep_{name}']} |")
    print(f"| held-out passage x 2 | {m['passage_top1']} | {m['passage_loss']} | {m['passage_top1'][1]} |")
    print(f"(chance: top-1 ~0, loss ~{math.log(1024):.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small")
    ap.add_argument("--model", help="a zoo model of --size (data/<size>/runs/<model>)")
    ap.add_argument("--run", type=Path, help="a run folder (info.json + checkpoints/)")
    ap.add_argument("--checkpoint", type=Path, help="a checkpoint file inside a run folder's checkpoints/")
    ap.add_argument("--step", type=int, help="checkpointed step (default: the last)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.checkpoint:
        args.run, args.step = args.checkpoint.parent.parent, int(args.checkpoint.stem.split("_")[1])
    if args.run:
        model, step = load_run_model(args.run, args.step)
        title = f"{args.run} step {step}"
    elif args.model:
        model = load_model(args.size, args.model, args.step)
        title = f"{args.size}/{args.model}" + (f" step {args.step}" if args.step else " (final)")
    else:
        raise SystemExit("give --model NAME, --run FOLDER or --checkpoint FILE")
    m = measure(model, args.size)
    print(json.dumps({"run": title, **m}) if args.json else "", end="\n" if args.json else "")
    if not args.json:
        print_table(m, title)


if __name__ == "__main__":
    main()
