"""Wall time of the live chapter's run: training a model from scratch until its phase-change
window has ended (the library's rule, read online), measurement included, on 1 and 2 threads.

    python benchmarks/time_to_phase_change.py [--size small] [--model attn-only-2l] [--threads 1,2]

Each run trains into a temporary folder with the behaviour-only recorder, exactly as
``induction_heads.book.live.watch_phase_change`` does in the chapter (figure drawing aside). The
token stream's cache is built first and not timed (a fresh clone builds it once). Goal:
the end of the window within 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from induction_heads.book.live import watch_phase_change
from induction_heads.engine.dataset import prepare_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small")
    ap.add_argument("--model", default="attn-only-2l")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    args = ap.parse_args()
    prepare_data(args.size)
    print(f"{args.size}/{args.model}: time from the first step to the end of the phase-change window (online rule)")
    print(f"{'threads':>7} {'wall s':>8} {'tokens':>12} {'tokens/s':>9}  window")
    for threads in [int(t) for t in args.threads.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            r = watch_phase_change(args.size, args.model, threads=threads, out=Path(tmp) / "run", show=False)
        w = "none (ran to the recipe's last step)" if r.window is None else f"{r.window.start:,.0f}-{r.window.end:,.0f} tokens"
        print(f"{threads:>7} {r.wall_s:>8.0f} {r.tokens:>12,} {r.tokens / r.wall_s:>9,.0f}  {w}")


if __name__ == "__main__":
    main()
