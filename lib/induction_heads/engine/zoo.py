"""A trained run as one typed object: :class:`Run` (its configs, its :class:`Trajectory` of
recorded snapshots, its checkpoints as models and bridges) and a :class:`Zoo` of them.

Analyses and figures take these instead of ``(size, name)`` strings that they would reload the
store from: a chapter loads its zoo once (:meth:`Zoo.load`) and hands runs and trajectories on.
Everything is read lazily through :mod:`induction_heads.engine.runs`, so every file is checked
against its manifest on first use, and read once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from torch import Tensor

from .config import ModelConfig, TrainConfig
from .runs import available_runs, list_checkpoints, load_bridge, load_metrics, load_model, run_info

__all__ = ["Trajectory", "Run", "Zoo"]


class Trajectory(Mapping[str, Tensor]):
    """A run's recorded snapshots: one tensor per recorded quantity, one row per snapshot (the
    recorder's keys, :mod:`induction_heads.measure.recorder`, plus ``step``, ``tokens``,
    ``train_loss``, ``lr`` and ``elapsed_s``). Reads like the dict of tensors it wraps."""

    def __init__(self, metrics: Mapping[str, Tensor]):
        self._m = dict(metrics)

    def __getitem__(self, key: str) -> Tensor:
        return self._m[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._m)

    def __len__(self) -> int:
        return len(self._m)

    @property
    def tokens_seen(self) -> Tensor:
        """Training tokens seen at each snapshot (the store's ``tokens``)."""
        return self._m["tokens"]

    @property
    def steps(self) -> Tensor:
        return self._m["step"]

    def recorded(self) -> "Trajectory":
        """The snapshots after the first (``tokens_seen > 0``): the ones a log-scaled axis can show."""
        keep = self.tokens_seen > 0
        return Trajectory({k: v[keep] for k, v in self._m.items()})

    def final(self, key: str) -> Tensor:
        """``key`` at the last snapshot."""
        return self._m[key][-1]

    def has(self, *keys: str) -> bool:
        """Whether every key was recorded (runs trained before a key existed lack it)."""
        return all(k in self._m for k in keys)


@dataclass(frozen=True)
class Run:
    """One finished run of the store, ``Run("small", "attn-only-2l")``."""

    size: str
    name: str

    @cached_property
    def info(self) -> dict:
        """The run's ``info.json`` (configs, versions, hardware, wall time, kept checkpoints)."""
        return run_info(self.size, self.name)

    @cached_property
    def model_config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.info["model_config"])

    @cached_property
    def train_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.info["train_config"])

    @cached_property
    def trajectory(self) -> Trajectory:
        return Trajectory(load_metrics(self.size, self.name))

    @property
    def checkpoints(self) -> list[int]:
        """Steps with a full checkpoint, ascending."""
        return list_checkpoints(self.size, self.name)

    def model(self, step: int | None = None):
        """The fast twin at a checkpointed step (the final one by default), in eval mode."""
        return load_model(self.size, self.name, step)

    def bridge(self, step: int | None = None):
        """The checkpoint as a TransformerLens ``TransformerBridge`` with the tokenizer attached."""
        return load_bridge(self.size, self.name, step)

    def tokens_at(self, step: int) -> int:
        """Training tokens seen after ``step`` steps."""
        return self.train_config.tokens_seen(step, self.model_config.n_ctx)

    @property
    def warmup_tokens(self) -> int:
        """Training tokens seen by the end of the learning-rate warm-up."""
        return self.tokens_at(self.train_config.warmup_steps)

    @property
    def wall_minutes(self) -> float:
        """The measured training wall time in minutes."""
        return float(self.info["wall_time_s"]) / 60

    def checkpoint_before(self, tokens: float) -> int:
        """The last checkpointed step at or before ``tokens`` training tokens (else the first)."""
        steps = self.checkpoints
        before = [s for s in steps if self.tokens_at(s) <= tokens]
        return before[-1] if before else steps[0]

    def checkpoint_after(self, tokens: float) -> int:
        """The first checkpointed step at or after ``tokens`` training tokens (else the last)."""
        steps = self.checkpoints
        after = [s for s in steps if self.tokens_at(s) >= tokens]
        return after[0] if after else steps[-1]


class Zoo(Mapping[str, Run]):
    """Finished runs of one size, by name."""

    def __init__(self, size: str, runs: Iterable[Run]):
        self.size = size
        self._runs = {r.name: r for r in runs}

    @classmethod
    def load(cls, size: str, names: Iterable[str] | None = None) -> "Zoo":
        """The given runs that have finished, in the order given (default: every finished run of
        ``size``, in the zoo's order)."""
        done = available_runs(size)
        wanted = done if names is None else [n for n in names if n in set(done)]
        return cls(size, [Run(size, n) for n in wanted])

    def __getitem__(self, name: str) -> Run:
        return self._runs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def only(self, names: Iterable[str]) -> "Zoo":
        """The runs among ``names`` (in the order given)."""
        return Zoo(self.size, [self._runs[n] for n in names if n in self._runs])

    def trajectories(self) -> dict[str, Trajectory]:
        """Each run's :class:`Trajectory`, by name."""
        return {n: r.trajectory for n, r in self._runs.items()}
