"""Why the induction heads copy weakly: the copying diagnostics (lib/induction_heads/book/copying.py)
on the final checkpoints of five `small` runs and on the hand-built circuit, in a few compact tables.

    .venv/bin/python benchmarks/copying_diagnostics.py [--size small] [--sequences 20]

Reads data/<size>/ only (the committed runs, the token counts and the cached training stream);
writes nothing. About a minute on one core (the five runs' diagnostics about 30 s).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from induction_heads.book.copying import (copying_diagnostics, handbuilt_diagnostics, loss_curves, recipe_facts,
                                          split_losses, train_split_tokens)
from induction_heads.engine.dataset import train_stream
from induction_heads.engine.runs import available_runs, load_token_counts
from induction_heads.engine.tokenizer import random_token_pool
from induction_heads.engine.zoo import Run
from induction_heads.measure.copying import MISS_CLASSES, most_frequent_successor, top1_under_head_gain
from induction_heads.measure.repeats import repeated_sequences

MODELS = ["attn-only-2l", "attn-only-2l-long", "attn-only-2l-clamped-induction", "attn-only-2l-natural", "mlp-6l"]


def table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small")
    ap.add_argument("--sequences", type=int, default=20, help="repeat-test sequences (20 = the recorder's)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    size = args.size
    stream = train_stream(size)
    counts = load_token_counts(size).long()
    successor = most_frequent_successor(stream, counts.numel())
    print(f"successor table from {len(stream):,} training tokens in {time.time() - t0:.1f}s\n")

    diags, extra_k = [handbuilt_diagnostics(args.sequences)], {}
    tokens = repeated_sequences(random_token_pool(counts), args.sequences, 30)
    for name in MODELS:
        run = Run(size, name)
        d = copying_diagnostics(run, successor=successor, n_sequences=args.sequences)
        diags.append(d)
        if d.heads:
            extra_k[name] = float(top1_under_head_gain(run.bridge(), tokens, 30, d.heads, ks=(8.0,)).mean())
    print(f"diagnostics in {time.time() - t0:.0f}s ({args.sequences} sequences each)\n")

    print("## Repeat top-1 (copies 2-4) and gain: induction heads' outputs x k\n")
    show_k = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
    table(["model", "induction heads", "top-1 at k=1 [95%]", "stored"] + [f"k={k:g}" for k in show_k]
          + ["k=8 (extra)", "reading (k 0-5)", "level [95%]"],
          [[d.name, " ".join(d.heads) or "-", d.repeat_top1.format(),
            "-" if d.stored_repeat_top1 is None else f"{d.stored_repeat_top1:.2f}"]
           + [f"{float(d.gain_top1[d.ks.index(k)].mean()):.2f}" for k in show_k]
           + [f"{extra_k[d.name]:.2f}" if d.name in extra_k else "-",
              f"{d.gain.limit}" + (f" (0.9 at k={d.gain.k_reached:g})" if d.gain.k_reached is not None else
                                    f" (last slope {d.gain.last_slope:+.3f}/k)"),
              d.gain_level.format()] for d in diags])

    print("## The OV map over the vocabulary: own logit the largest the full OV circuit writes\n")
    rows = []
    for d in diags:
        for h, s in d.ov.items():
            rows.append([d.name, h, f"{s.own_share:.2f}", f"{s.own_share_pool:.2f}", f"{s.median_margin:+.2f}",
                         f"{s.median_relative_margin:+.2f}"])
    table(["model", "head", "own-top share (vocab)", "own-top share (pool)", "median margin",
           "median margin / row std"], rows)

    print("## What wins when the copy fails (share of misses [95%]) and the mean logit gap by path\n")
    rows = []
    for d in diags:
        m = d.misses
        n = int(m.correct.numel())
        parts = m.mean_gap_parts()
        ind = sum(parts[h] for h in d.heads) if d.heads else float("nan")
        heads_all = sum(v for k, v in parts.items() if "." in k)
        rows.append([d.name, f"{len(m.winner)}/{n}"] + [d.miss_shares[c].format() for c in MISS_CLASSES]
                    + [f"{parts['gap']:.2f}", f"{parts['embed']:+.2f}", f"{ind:+.2f}", f"{heads_all - ind:+.2f}"
                       if d.heads else "-", f"{parts['mlp']:+.2f}", f"{parts['bias']:+.2f}"])
    table(["model", "misses"] + list(MISS_CLASSES) + ["gap", "direct", "induction heads", "other heads", "mlp",
                                                      "bias"], rows)
    rows = []
    for d in diags[1:]:
        for c in MISS_CLASSES:
            p = d.misses.mean_gap_parts(c)
            if not math.isnan(p["gap"]):
                rows.append([d.name, c, f"{p['gap']:.2f}", f"{p['embed']:+.2f}",
                             " ".join(f"{h}:{p[h]:+.2f}" for h in d.heads),
                             f"{sum(v for k, v in p.items() if '.' in k and k not in d.heads):+.2f}",
                             f"{p['mlp']:+.2f}", f"{p['bias']:+.2f}"])
    table(["model", "winner class", "gap", "direct", "induction heads", "other heads", "mlp", "bias"], rows)
    rows = []
    for d in diags[1:]:
        off = d.misses.offset[d.misses.winner_class == MISS_CLASSES.index("in sequence")]
        vals, cnt = off.unique(return_counts=True)
        top = sorted(zip(cnt.tolist(), vals.tolist()), reverse=True)[:3]
        rows.append([d.name, str(len(off)), ", ".join(f"{v:+d} ({c})" for c, v in top) or "-"])
    table(["model", "in-sequence winners", "commonest offsets from the target (count)"], rows)

    print("## Copying by frequency: top-1 by the target's training count (quartiles of the pool)\n")
    d0 = diags[1]
    e = d0.frequency_edges.tolist()
    bins = [f"{e[i]:,.0f}-{e[i + 1]:,.0f}" for i in range(len(e) - 1)]
    table(["model"] + bins, [[d.name] + [b.format() for b in d.top1_by_frequency] for d in diags[1:]])

    print("## The recipe: passes over the training split\n")
    split = train_split_tokens(size)
    f0 = recipe_facts(Run(size, MODELS[0]), split)
    print(f"training split {split:,} tokens; {f0.tokens_per_step:,} tokens a step, {f0.schedule} learning rate "
          f"{f0.lr:g}; vocabulary {f0.d_vocab}, d_model {f0.d_model}, {f0.n_heads} heads of {f0.d_head} a layer\n")
    rows = []
    for name in available_runs(size):
        f = recipe_facts(Run(size, name), split)
        rows.append([name, f"{f.tokens_trained / 1e6:.1f}M", f"{f.passes:.1f}", f"{f.repeat_frac:g}",
                     f"{f.d_model}/{f.n_heads}x{f.d_head}"])
    table(["run", "tokens trained", "passes", "repeat share", "d_model/heads x d_head"], rows)

    print("## Does the long run memorise its split? Recorded curves (train loss includes the repeated windows)\n")
    c = loss_curves(Run(size, "attn-only-2l-long"))
    pick = sorted({int(i) for i in torch.linspace(0, len(c.tokens) - 1, 8).round()})
    table(["tokens", "train loss (recipe batches)", "held-out loss", "held-out - train"],
          [[f"{float(c.tokens[i]) / 1e6:.1f}M", f"{float(c.train_loss[i]):.3f}", f"{float(c.heldout_loss[i]):.3f}",
            f"{float(c.gap[i]):+.3f}"] for i in pick])
    print("Measured on plain windows (128 evenly spaced training-split windows vs 128 held-out windows):\n")
    rows = []
    for name in MODELS:
        run = Run(size, name)
        steps = run.checkpoints if name == "attn-only-2l-long" else run.checkpoints[-1:]
        for s in split_losses(run, stream, steps):
            rows.append([name, f"{s.tokens / 1e6:.1f}M", s.train.format(".3f"), s.heldout.format(".3f"),
                         f"{s.gap:+.3f}"])
    table(["run", "tokens", "train-split loss [95%]", "held-out loss [95%]", "held-out - train"], rows)
    print(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
