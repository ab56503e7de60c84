"""Watch it form: train a model from scratch inside a chapter and redraw the phase change as it
happens, with the committed run of the same model drawn faintly behind.

The run trains with the book's own trainer into a temporary folder (nothing in ``data/`` is
touched, so interrupting the kernel loses only the live run), records only what the figure
shows at each snapshot (a behaviour-only :class:`~induction_heads.measure.recorder.Recorder`),
and stops as soon as the phase-change window has ended by the library's own rule, read online
(:func:`~induction_heads.measure.phase.ended_phase_change`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from torch import Tensor

from ..engine.config import train_config
from ..engine.dataset import prepare_data
from ..engine.runs import available_runs, load_metrics
from ..engine.store import read_tensors
from ..engine.train import make_recorder, train
from ..measure.phase import PhaseWindow, ended_phase_change
from .figures.style import HEAD_CLASS_COLORS, ICL_COLOR, ICL_LABEL, shade_window, tokens_axis

__all__ = ["LiveResult", "LiveFigure", "watch_phase_change"]

@dataclass
class LiveResult:
    """What a live run trained: its recorded metrics, the window (None if training ended without
    one), wall time (data preparation excluded) and tokens seen, and the run's folder."""

    metrics: dict[str, Tensor]
    window: PhaseWindow | None
    wall_s: float
    tokens: int
    run: Path


class LiveFigure:
    """Three panels redrawn during training: the ICL score; the largest prefix-matching and
    previous-token scores; the loss by context position now. The committed run, if any, is
    drawn faintly behind each."""

    def __init__(self, reference: dict[str, Tensor] | None, title: str, show: bool = True):
        self.reference, self.title = reference, title
        self.fig, self.axes = plt.subplots(1, 3, figsize=(12, 3.4))
        plt.close(self.fig)  # shown through the display handle only
        self.handle = None
        if show:
            self.handle = display(self.fig, display_id=True)

    def draw(self, m: dict[str, Tensor], window: PhaseWindow | None = None) -> None:
        for ax in self.axes:
            ax.clear()
        for metrics, alpha, label in ((self.reference, 0.25, "committed run"), (m, 1.0, "live")):
            if metrics is not None:
                self._curves(metrics, alpha, label)
        shade_window(self.axes[0], window)
        self.axes[0].set_ylabel(ICL_LABEL)
        self.axes[1].set_ylabel("largest score of any head")
        self.axes[1].set_ylim(0, 1)
        self.axes[2].set_xlabel("context position")
        self.axes[2].set_ylabel("loss (nats)")
        for ax in self.axes:
            ax.legend(fontsize=7)
        self.fig.suptitle(f"{self.title}: {int(m['tokens'][-1]):,} tokens")
        self.fig.tight_layout()
        if self.handle is not None:
            self.handle.update(self.fig)

    def _curves(self, m: dict[str, Tensor], alpha: float, label: str) -> None:
        keep = m["tokens"] > 0
        t = m["tokens"][keep]
        self.axes[0].plot(t, m["icl_score"][keep], color=ICL_COLOR, alpha=alpha, label=label)
        self.axes[1].plot(t, m["prefix_matching"][keep].flatten(1).amax(1), color=HEAD_CLASS_COLORS["induction"],
                          alpha=alpha, label=f"prefix matching ({label})")
        self.axes[1].plot(t, m["previous_token"][keep].flatten(1).amax(1), color=HEAD_CLASS_COLORS["previous-token"],
                          alpha=alpha, label=f"previous token ({label})")
        self.axes[2].plot(m["loss_by_position"][-1], color="0.2", alpha=alpha, label=label)
        for ax in self.axes[:2]:
            tokens_axis(ax)


def watch_phase_change(size: str, name: str = "attn-only-2l", threads: int = 2, redraw_s: float = 5.0,
                       out: Path | None = None, show: bool = True) -> LiveResult:
    """Train ``name`` of ``size`` from scratch until its phase change has ended (or its recipe's
    last step), redrawing :class:`LiveFigure` at most every ``redraw_s`` seconds; ``threads``
    CPU threads. Returns what it trained; the run stays in ``out`` (default: a temporary folder)."""
    torch.set_num_threads(threads)
    t = train_config(size, name)
    recorder = make_recorder(size, t, circuits=False)
    reference = load_metrics(size, name) if name in available_runs(size) else None
    view = LiveFigure(reference, f"{size}/{name}, trained live", show)
    run = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"live-{size}-{name}-"))
    last_draw = [0.0]

    def on_snapshot(m: dict[str, Tensor]) -> bool:
        window = ended_phase_change(m["tokens"].double(), m["icl_score"].double()) if len(m["tokens"]) > 5 else None
        if window is not None or time.perf_counter() - last_draw[0] >= redraw_s:
            view.draw(m, window)
            last_draw[0] = time.perf_counter()
        return window is not None

    prepare_data(size)  # the token stream's cache: built once, not part of the timed run
    start = time.perf_counter()
    train(size, name, out=run, progress=show, recorder=recorder, on_snapshot=on_snapshot)
    wall = time.perf_counter() - start
    metrics = read_tensors(run / "metrics.safetensors", "the live run wrote no metrics")
    window = ended_phase_change(metrics["tokens"].double(), metrics["icl_score"].double())
    view.draw(metrics, window)
    return LiveResult(metrics, window, wall, int(metrics["tokens"][-1]), run)
