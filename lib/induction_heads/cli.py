"""Command line over the three packages: ``python -m induction_heads {data,train,zoo,summary,readings,verify} --size ...``."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch

from . import book  # noqa: F401  (registers every chapter's kept analyses)
from .book.copying import TRAIN_SAMPLE_FILE, write_train_sample
from .book.readings import ANALYSES, kept_analysis, kept_reading, readings_version, write_analysis, write_reading
from .book.summary import model_summary, seed_spreads, summary
from .engine.config import (CORE_MODELS, MODEL_NAMES, SIZES, SizeError, parse_model_name, train_config,
                            validate_model_name, validate_size)
from .engine.dataset import prepare_data
from .engine.runs import size_dir, verify_store, write_manifests
from .engine.store import RunStoreError
from .engine.train import train
from .engine.zoo import Run, Zoo

DEVICES = ("cpu", "cuda")


def _parser() -> argparse.ArgumentParser:
    sizes = "\n".join(f"  {p.name:<6} {p.description}" for p in SIZES.values())
    epilog = f"sizes:\n{sizes}\nmodels:\n  " + ", ".join(MODEL_NAMES)
    ap = argparse.ArgumentParser(
        prog="python -m induction_heads",
        description="Train and inspect the model zoo of 'Induction Heads, reproduced'.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p, model: bool):
        p.add_argument("--size", required=True, help=f"one of: {', '.join(SIZES)}")
        if model:
            p.add_argument("--model", required=True, help=f"one of: {', '.join(MODEL_NAMES)}")
        p.add_argument("--device", default="cpu", help="cpu or cuda")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    d = sub.add_parser("data", help="build the tokenizer and evaluation set of a size",
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--size", required=True, help=f"one of: {', '.join(SIZES)}")
    d.add_argument("--corpus", default="stdlib", help="'stdlib' (default), a local folder, or 'hf:<data set>'")
    d.add_argument("--force", action="store_true", help="rebuild the tokenizer and evaluation set")
    t = sub.add_parser("train", help="train (or resume) one model",
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(t, model=True)
    t.add_argument("--out", default=None, help="run folder (default data/<size>/zoo/<model>)")
    z = sub.add_parser("zoo", help="train every model of a size, skipping finished runs",
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(z, model=False)
    z.add_argument("--models", default=",".join(MODEL_NAMES), help="comma-separated subset")
    z.add_argument("--jobs", type=int, default=1,
                   help="train this many models at once, one process and one thread each (CPU; "
                        "2 on a 2-core machine); each run logs to its train.log")
    s = sub.add_parser("summary", help="the reproduction's headline numbers for every finished run",
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--size", required=True, help=f"one of: {', '.join(SIZES)}")
    s.add_argument("--json", action="store_true", help="print JSON (default: a table)")
    s.add_argument("--no-ablation", action="store_true", help="skip the (slower) induction-head ablation")
    r = sub.add_parser("readings", help="compute and keep every finished run's summary row (readings.json), "
                       "where it is missing or stale; the chapters read these instead of recomputing")
    r.add_argument("--size", required=True, help=f"one of: {', '.join(SIZES)}")
    r.add_argument("--force", action="store_true", help="recompute every run's reading, current or not")
    r.add_argument("--jobs", type=int, default=1, help="compute this many runs' readings at once, one process and "
                   "one thread each (2 on a 2-core machine)")
    v = sub.add_parser("verify", help="check every file of a size's run store against its sha256 manifest",
                       epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--size", required=True, help=f"one of: {', '.join(SIZES)}")
    v.add_argument("--write", action="store_true",
                   help="instead, (re)write the size's manifests from its files as they are now: this trusts "
                        "the files (use it for data written before manifests existed, or checked otherwise)")
    return ap


def zoo_order(names: list[str]) -> list[str]:
    """The order ``zoo --jobs N`` starts ``names`` in: core models first, then the rest; in each
    group by decreasing cost (layers x width² x training steps, an MLP layer counted as two attention
    layers, as measured on ``small``), MLP models first among equals."""

    def key(n: str) -> tuple:
        p = parse_model_name(n)
        width = (p.d_model or 128) / 128
        steps = train_config("small", n).total_steps * train_config("small", n).batch_size
        return (n not in CORE_MODELS, -p.n_layers * (2 if p.family == "mlp" else 1) * width**2 * steps, p.family != "mlp")

    return sorted(names, key=key)


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        validate_size(args.size)
    except SizeError as e:
        return _fail(str(e))
    if getattr(args, "device", "cpu") not in DEVICES:
        return _fail(f"unknown device {args.device!r}; choose one of: {', '.join(DEVICES)}")
    if getattr(args, "device", "cpu") == "cuda":
        if not torch.cuda.is_available():
            return _fail("device 'cuda' requested but no CUDA GPU is available; use --device cpu")
    if args.command == "data":
        prepare_data(args.size, source=args.corpus, force=args.force)
        return 0
    if args.command == "summary":
        return _summary(args)
    if args.command == "verify":
        return _verify(args.size, args.write)
    if args.command == "readings":
        return _readings(args.size, args.force, args.jobs)
    names = [args.model] if args.command == "train" else [n for n in args.models.split(",") if n]
    for n in names:
        try:
            validate_model_name(n)
        except ValueError as e:
            return _fail(str(e))
    if args.command == "zoo" and args.jobs != 1:
        if args.jobs < 1:
            return _fail(f"--jobs must be at least 1, got {args.jobs}")
        return _zoo_parallel(args.size, names, args.jobs, args.device)
    if args.device == "cpu":
        torch.set_num_threads(1)
    for n in names:
        out = train(args.size, n, out=getattr(args, "out", None), device=args.device,
                    progress=not args.no_progress)
        print(f"{args.size}/{n}: {out}")
    return 0


def _zoo_parallel(size: str, names: list[str], jobs: int, device: str) -> int:
    """Train ``names`` in ``jobs`` worker processes (``train --no-progress``): the core zoo before
    the other models (the book switches to a retrained zoo once its core is done), and within each
    group the costliest models first so the queues finish together. Each worker resumes or skips
    like ``train``; a cool-down starts once the run it continues has finished."""
    prepare_data(size)  # the token cache, built once here rather than raced for by the workers
    queue = zoo_order(names)
    running: dict[str, tuple[subprocess.Popen, float]] = {}
    failed = []
    while queue or running:
        while (ready := [n for n in queue if _source_done(n, queue, running)]) and len(running) < jobs:
            n = ready[0]
            queue.remove(n)
            cmd = [sys.executable, "-m", "induction_heads", "train", "--size", size, "--model", n,
                   "--device", device, "--no-progress"]
            running[n] = (subprocess.Popen(cmd), time.perf_counter())
            print(f"{size}/{n}: started ({len(queue)} waiting)", flush=True)
        time.sleep(1)
        for n, (proc, t0) in list(running.items()):
            if proc.poll() is not None:
                del running[n]
                ok = proc.returncode == 0
                failed += [] if ok else [n]
                print(f"{size}/{n}: {'done' if ok else f'FAILED (exit {proc.returncode})'} "
                      f"after {time.perf_counter() - t0:.0f}s", flush=True)
    if failed:
        return _fail(f"{len(failed)} run(s) failed: {', '.join(failed)}; see their train.log")
    return 0


def _source_done(name: str, queue: list[str], running: dict) -> bool:
    """Whether ``name`` may start: a cool-down waits until the run it continues is neither queued
    nor running (:attr:`induction_heads.engine.config.ModelName.source`)."""
    source = parse_model_name(name).source
    return source is None or (source not in queue and source not in running)


def _verify(size: str, write: bool) -> int:
    """``verify``: hash every file of ``data/<size>`` against its manifest (or, with ``write``,
    record them as they are); one line per problem, then one error line and exit 2."""
    t0 = time.perf_counter()
    try:
        report = write_manifests(size) if write else verify_store(size)
    except RunStoreError as e:
        return _fail(str(e))
    for problem in report.problems:
        print(problem)
    if report.problems:
        return _fail(f"{len(report.problems)} problem(s) in {size_dir(size)}, listed above")
    done = "recorded" if write else "verified"
    print(f"{size_dir(size)}: {report.files} files ({report.bytes / 1e6:.1f} MB) {done} "
          f"in {time.perf_counter() - t0:.2f} s")
    return 0


def _keep(run: Run, what: str) -> None:
    """Compute and keep one reading of ``run``: its summary row (``what`` = ``"summary"``) or the
    registered analysis ``what`` (:data:`induction_heads.book.readings.ANALYSES`)."""
    if what == "summary":
        write_reading(run, model_summary(run))
    else:
        analysis = ANALYSES[what]
        write_analysis(run, analysis, json.loads(json.dumps(analysis.compute(run))))


def _reading_of(size: str, name: str, what: str) -> tuple[str, str, float]:
    """Compute and keep one reading (a worker of :func:`_readings`): the run's name, what, seconds."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    _keep(Zoo.load(size, [name])[name], what)
    return name, what, time.perf_counter() - t0


def _readings(size: str, force: bool, jobs: int = 1) -> int:
    """``readings``: keep the size's training-split sample (:func:`induction_heads.book.copying.write_train_sample`)
    and write the summary row of every finished run whose kept reading is missing or stale (all of
    them with ``force``), and every registered analysis (:data:`induction_heads.book.readings.ANALYSES`)
    of the runs it covers, one line each with its time; ``jobs`` at once, one process and one
    thread each (each run's files are its own; a run's summary and analyses go to one worker)."""
    torch.set_num_threads(1)
    if force or not (size_dir(size) / TRAIN_SAMPLE_FILE).exists():
        write_train_sample(size)
        print(f"{size}: kept {TRAIN_SAMPLE_FILE} (the training split's successors and plain windows)", flush=True)
    zoo = Zoo.load(size)
    todo = [(run, "summary") for run in zoo.values() if force or kept_reading(run) is None]
    print(f"{size}: {len(zoo) - len(todo)} of {len(zoo)} runs have current readings (code version "
          f"{readings_version()}); computing {len(todo)}", flush=True)
    for a in ANALYSES.values():
        covered = a.covers(list(zoo))
        stale = [(zoo[n], a.name) for n in covered if force or kept_analysis(zoo[n], a) is None]
        print(f"{size}: {a.name}: {len(covered) - len(stale)} of {len(covered)} runs current (code version "
              f"{a.version}); computing {len(stale)}", flush=True)
        todo += stale
    if jobs <= 1:
        for i, (run, what) in enumerate(todo, 1):
            t0 = time.perf_counter()
            _keep(run, what)
            print(f"  [{i}/{len(todo)}] {run.name} {what}: {time.perf_counter() - t0:.0f} s", flush=True)
        return 0
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_reading_of, size, run.name, what) for run, what in todo]
        for i, done in enumerate(as_completed(futures), 1):
            name, what, seconds = done.result()
            print(f"  [{i}/{len(todo)}] {name} {what}: {seconds:.0f} s", flush=True)
    return 0


def _summary(args) -> int:
    torch.set_num_threads(1)
    try:
        table = summary(args.size, with_ablation=not args.no_ablation)
    except FileNotFoundError as e:
        return _fail(str(e))
    if args.json:  # every model's row, and the spread over seeds of each model trained with several
        print(json.dumps({"models": table, "seed_spread": seed_spreads(table)}, indent=2))
        return 0
    cols = ["layers", "attn_only", "smeared_key", "icl_score_final", "icl_score_before_window",
            "icl_share_in_window", "max_prefix_matching_score", "induction_heads", "loss_bump"]
    print("model".ljust(20) + "".join(c[:14].rjust(16) for c in cols))
    for name, row in table.items():
        print(name.ljust(20) + "".join(str(row.get(c))[:14].rjust(16) for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
