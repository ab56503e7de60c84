"""Each chapter's wall time at a size, executed as ``make book`` executes it (papermill, a fresh
kernel, the size as a parameter), and a profile of one chapter: where its seconds go.

    .venv/bin/python benchmarks/chapter_times.py --size small                 # every chapter
    .venv/bin/python benchmarks/chapter_times.py --size small --only 00 04    # some of them
    .venv/bin/python benchmarks/chapter_times.py --size small --profile 04    # cProfile of one

The times include the kernel's start and the imports (what a reader waits for). The profile runs
the chapter's code cells in this process, in order, under cProfile (no kernel), and prints the
functions with the largest cumulative time. Report the table before and after a change, on the
same machine with nothing else running.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"


def chapters(only: list[str]) -> list[Path]:
    """The chapter notebooks whose file name starts with one of ``only`` (all when empty)."""
    every = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in every if not only or any(p.name.startswith(o) for o in only)]


def wall_time(notebook: Path, size: str) -> float:
    """Seconds to execute ``notebook`` at ``size`` with papermill, into a temporary file."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(Path(tmp) / notebook.name),
                        "-p", "size", size, "--no-progress-bar", "--cwd", str(CHAPTERS)],
                       check=True, capture_output=True)
        return time.perf_counter() - t0


def profile(notebook: Path, size: str, top: int = 30) -> str:
    """The chapter's code cells run in this process under cProfile (the parameters cell's ``size``
    replaced), the ``top`` functions by cumulative time."""
    import matplotlib

    matplotlib.use("Agg")
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    source = "\n".join("".join(c["source"]) for c in cells if "google.colab" not in "".join(c["source"]))
    namespace = {"__name__": "__chapter__", "display": lambda *a, **k: None}
    code = compile(source.replace('size = "small"', f"size = {size!r}", 1), str(notebook), "exec")
    prof = cProfile.Profile()
    prof.runctx(code, namespace, namespace)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small")
    ap.add_argument("--only", nargs="*", default=[], help="chapter file-name prefixes, e.g. 00 04")
    ap.add_argument("--profile", default=None, help="profile the chapter with this prefix instead")
    args = ap.parse_args()
    if args.profile:
        (nb,) = chapters([args.profile])
        print(profile(nb, args.size))
        return 0
    print(f"| chapter | {args.size}: wall time (s) |\n| --- | --- |")
    total = 0.0
    for nb in chapters(args.only):
        seconds = wall_time(nb, args.size)
        total += seconds
        print(f"| {nb.stem} | {seconds:.0f} |", flush=True)
    print(f"| all | {total:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
