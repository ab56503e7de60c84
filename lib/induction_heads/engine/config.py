"""Model sizes, model names and training recipes: the one place they are defined.

A *size* (``tiny``, ``small``, ``base``) fixes the tokenizer's vocabulary, the model width,
the context length and the training recipe. A *model name* (``attn-only-2l``, ``smeared-1l``,
``attn-only-2l-seed1``, ...) picks the architecture variant inside a size. Together they give
one frozen :class:`ModelConfig` and one frozen :class:`TrainConfig`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Callable, NamedTuple

__all__ = [
    "ModelConfig",
    "TrainConfig",
    "SizeSpec",
    "OneLineError",
    "SizeError",
    "SIZES",
    "MODEL_NAMES",
    "CORE_MODELS",
    "INTERVENTION_MODELS",
    "EXTRA_MODELS",
    "checkpoints_kept",
    "get_size",
    "model_config",
    "train_config",
    "validate_size",
    "validate_model_name",
    "ModelName",
    "parse_model_name",
    "MODEL_VARIANTS",
    "TRAIN_VARIANTS",
    "ONSET_BATCHES",
    "ONSET_VARIANTS",
    "at_batch",
    "SEED_MODELS",
    "NATURAL_MODELS",
    "LONG_MODELS",
    "COPYING_MODELS",
    "NO_INDUCTION_MODELS",
    "RECIPES",
    "cooldown_recipe",
    "format_model_name",
    "natural_recipe",
    "long_recipe",
    "model_family",
    "width_lr",
]


def _from_dict(cls, d: dict):
    """``cls(**d)`` for a config read back from JSON (a run's ``info.json``), whose lists are made
    tuples again where the field is a tuple (JSON has no tuples)."""
    tuples = {f.name for f in fields(cls) if str(f.type).startswith("tuple")}
    return cls(**{k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one model of the zoo.

    The paper's small models put no positional information into the residual stream
    (a Shortformer-like variant); we use rotary embeddings on queries and keys only, which
    has the same property: an induction head must be built by K-composition with a
    previous-token head (or by smeared keys).
    """

    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    n_ctx: int
    d_vocab: int
    attn_only: bool = True
    d_mlp: int = 0
    smeared_key: bool = False
    rotary_base: float = 10000.0
    ln_eps: float = 1e-5
    init_std: float = 0.02
    seed: int = 0
    tied_embeddings: bool = False  # unembedding = token embedding transposed (one parameter)
    final_ln: bool = True  # False: the unembedding reads the residual stream directly
    # Interventions (the referee's test): each removes or hands over one route of induction.
    k_composition_knockout: bool = False  # layers after the first: keys read the token embedding only
    block_previous_token: bool = False  # first layer: no attention from a token to the one before it
    clamped_induction_head: bool = False  # head 0 of the last layer: attention fixed to the ideal induction pattern
    block_induction_target: bool = False  # layers after the first: no attention to an induction target

    @property
    def non_embedding_params(self) -> int:
        """Parameters outside the embedding and unembedding (the paper's measure of size): per
        layer, the attention's four ``d_model x (heads x d_head)`` matrices and the MLP's two
        ``d_model x d_mlp``; biases and layer norms left out."""
        per_layer = 4 * self.d_model * self.n_heads * self.d_head + (0 if self.attn_only else 2 * self.d_model * self.d_mlp)
        return self.n_layers * per_layer

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """The config that ``dataclasses.asdict`` wrote (``info.json``'s ``model_config``)."""
        return _from_dict(cls, d)

    def __post_init__(self) -> None:
        if self.d_head % 2:
            raise ValueError(f"d_head must be even for rotary embeddings, got {self.d_head}")
        if not self.attn_only and self.d_mlp <= 0:
            raise ValueError("a model with MLPs needs d_mlp > 0")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule and snapshot plan of one training run.

    ``dense`` is a (start, end) fraction of ``total_steps`` where the phase change is
    expected; snapshots are log-spaced over the whole run plus evenly spaced inside it.
    """

    batch_size: int
    total_steps: int
    lr: float
    warmup_steps: int
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.99)
    schedule: str = "constant"  # "constant" after warm-up, "cosine" down to min_lr_frac, or "wsd"
    min_lr_frac: float = 0.1
    decay_frac: float = 0.2  # "wsd": linear decay to 0 over this last fraction of the steps
    decay_embeddings: bool = True  # False: no weight decay on the embedding and unembedding
    repeat_frac: float = 0.0  # share of training sequences whose first repeat_window tokens repeat at once
    repeat_window: int = 64  # also the length of a translated window
    translate_frac: float = 0.0  # share of training sequences whose first window is followed by its translation
    grad_clip: float = 1.0
    n_log_snapshots: int = 40
    dense: tuple[float, float] = (0.2, 0.8)
    n_dense_snapshots: int = 40
    resume_every: int = 200  # steps between resumable checkpoints
    n_eval_sequences: int = 256
    eval_batch_size: int = 64
    n_ablation_sequences: int = 0  # per-snapshot single-head ablations on this many eval sequences
    data_seed: int = 1234
    compile: bool = False  # torch.compile the training step's forward + loss (not the recorder)
    marks: tuple[int, ...] = ()  # steps always snapshotted, whose full checkpoints are kept
    init_from: str = ""  # a cool-down: the run whose final weights this one starts from ("": from scratch)
    init_step: int = 0  # that run's last step: batches and tokens seen continue from it

    def tokens_seen(self, step: int, n_ctx: int) -> int:
        """Training tokens seen after ``step`` steps of this run (``step x batch x context``), counted
        from the start of the run it continues, if any (``init_step``)."""
        return (self.init_step + step) * self.batch_size * n_ctx

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The config that ``dataclasses.asdict`` wrote (``info.json``'s ``train_config``), its
        tuples (``betas``, ``dense``, ``marks``) read back from JSON's lists."""
        return _from_dict(cls, d)


@dataclass(frozen=True)
class SizeSpec:
    """Everything that differs between the ``tiny``, ``small`` and ``base`` zoos."""

    name: str
    description: str
    vocab_size: int
    n_ctx: int
    d_model: int
    n_heads: int
    d_head: int
    d_mlp: int
    train: TrainConfig
    corpus_max_bytes: int | None = None  # None: the whole standard library
    n_checkpoints: int = 4  # full checkpoints kept after training by a core model (final one included); others keep the final one
    checks_claims: bool = True  # False for tiny: its models train for seconds, too short to show the science
    extra: dict = field(default_factory=dict)


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(
        name="tiny",
        description="CI smoke size: trains in seconds, shows the pipeline, not the science",
        vocab_size=512,
        n_ctx=128,
        d_model=32,
        n_heads=2,
        d_head=16,
        d_mlp=128,
        corpus_max_bytes=3_000_000,
        checks_claims=False,
        train=TrainConfig(
            batch_size=8,
            total_steps=120,
            lr=3e-3,
            warmup_steps=20,
            n_log_snapshots=8,
            dense=(0.3, 0.8),
            n_dense_snapshots=4,
            resume_every=40,
            n_eval_sequences=32,
            eval_batch_size=32,
            n_ablation_sequences=32,
        ),
    ),
    "small": SizeSpec(
        name="small",
        description="the CPU zoo the book runs on (15-51 minutes per core model on one thread; the ten core models in about 2h10 on 2 cores)",
        vocab_size=1024,
        n_ctx=128,
        d_model=128,
        n_heads=4,
        d_head=32,
        d_mlp=512,
        # lr 6e-3 for 24k steps (24.6M tokens), snapshots dense from 4% to 95% of training: every
        # model with two or more layers forms its induction head in that budget. With a constant
        # learning rate the trajectory does not depend on the number of steps; only the snapshot
        # steps move. Half of the training sequences start with a window of 16-64 tokens of the
        # corpus shown twice (repeat_frac, repeat_window): the head-strength sweep's recipe, the
        # only lever that made the heads copy (benchmarks/head_strength_sweep.md). How the recipe
        # was calibrated, with the numbers: the decisions log, chapters/08_decisions.md.
        train=TrainConfig(
            batch_size=8,
            total_steps=24_000,
            lr=6e-3,
            warmup_steps=200,
            n_log_snapshots=24,
            dense=(0.04, 0.95),
            n_dense_snapshots=64,
            resume_every=500,
            n_eval_sequences=512,
            eval_batch_size=128,
            n_ablation_sequences=64,
            repeat_frac=0.5,
            repeat_window=64,
            compile=True,
        ),
    ),
    "base": SizeSpec(
        name="base",
        description="the GPU zoo: wider, longer context, more tokens",
        vocab_size=4096,
        n_ctx=512,
        d_model=256,
        n_heads=8,
        d_head=32,
        d_mlp=1024,
        train=TrainConfig(
            batch_size=32,
            total_steps=20_000,
            lr=1e-3,
            warmup_steps=500,
            schedule="cosine",
            n_log_snapshots=60,
            dense=(0.05, 0.5),
            n_dense_snapshots=80,
            resume_every=1000,
            n_eval_sequences=512,
            eval_batch_size=64,
        ),
    ),
}

# The share of training sequences followed by their translation in the "-translation" variant
# (engine.dataset.with_translated_windows); the rest is the usual recipe. 0.05 in the first
# translation model gave a head only 2.6x above uniform along the translation; 0.25 gives the
# bijection five times the examples (decisions log, "Argument 4's translation head").
TRANSLATION_SHARE = 0.25
# family -> (attn_only, smeared_key)
_FAMILIES = {"attn-only": (True, False), "mlp": (False, False), "smeared": (True, True)}
# Variants of a model, by name suffix: interventions on the architecture (ModelConfig changes;
# the referee's test of what causes the phase change), and changes of the recipe or the data
# (a TrainConfig change): a ten-times longer warm-up, a second "language" (Argument 4).
MODEL_VARIANTS: dict[str, dict] = {
    "k-knockout": {"k_composition_knockout": True},
    "no-prev-token": {"block_previous_token": True},
    "clamped-induction": {"clamped_induction_head": True},
    # The referee's second round: layers after the first may not attend to an induction target
    # (the token after an earlier occurrence of the query's token); the previous-token head and
    # K-composition stay available (model.induction_target_blocked_mask).
    "no-induction-target": {"block_induction_target": True},
    # Why the heads copy weakly, capacity (decisions log, "Copying: the experiments"): fewer, wider
    # heads at the same residual width and parameter count (at small: 2 heads of 64, 1 head of 128).
    **{f"h{k}": {"n_heads": k} for k in (1, 2)},
}


def at_batch(batch: int) -> Callable[[TrainConfig], TrainConfig]:
    """The recipe at another batch size, for the onset law's sweep (onset against batch x
    context): the same training tokens and the same warm-up *in tokens* (steps scaled by the
    batch ratio, so the warm-up confound stays fixed), the same learning rate and snapshots."""

    def change(t: TrainConfig) -> TrainConfig:
        r = t.batch_size / batch
        return replace(t, batch_size=batch, total_steps=max(1, round(t.total_steps * r)),
                       warmup_steps=max(1, round(t.warmup_steps * r)), resume_every=max(1, round(t.resume_every * r)))

    return change


# The onset law's batch sizes beside the size's own (8 at small), at the size's context: the
# context stays fixed because every instrument of the recorder (the evaluation set, the
# repeated-random-token evaluator, the ICL score's positions) is defined on it.
ONSET_BATCHES: tuple[int, ...] = (4, 16, 32)
ONSET_VARIANTS: dict[str, int] = {f"b{b}": b for b in ONSET_BATCHES}  # variant name -> batch size
TRAIN_VARIANTS: dict[str, Callable[[TrainConfig], TrainConfig]] = {
    "warmup10x": lambda t: replace(t, warmup_steps=10 * t.warmup_steps),
    "translation": lambda t: replace(t, translate_frac=TRANSLATION_SHARE),
    **{v: at_batch(b) for v, b in ONSET_VARIANTS.items()},
}


def natural_recipe(t: TrainConfig) -> TrainConfig:
    """The ``-natural`` recipe: the corpus alone, no repeated windows (``repeat_frac = 0``, the
    paper's data), for :data:`NATURAL_STEPS_FACTOR` times the steps. On natural code the slowest
    model forms its head late (``mlp-2l``: the previous 36k-step zoo and a first 48k-step run of this
    set both had its window run to the last snapshot, the second with its prefix-matching score
    level from about 37M tokens), so the set trains three times the repeat recipe's 24k steps
    (73.7M tokens). The dense snapshots start at the short run's first dense step (its attention-only
    windows start near 1M tokens) and run to the same fraction of the longer run; there are 1.5
    times as many, and twice the log-spaced ones, so both early and late windows are resolved."""
    k = NATURAL_STEPS_FACTOR
    return replace(t, repeat_frac=0.0, total_steps=t.total_steps * k, dense=(t.dense[0] / k, t.dense[1]),
                   n_dense_snapshots=t.n_dense_snapshots * 3 // 2, n_log_snapshots=2 * t.n_log_snapshots)


def long_recipe(t: TrainConfig) -> TrainConfig:
    """The ``-long`` recipe: :data:`LONG_STEPS_FACTOR` times the steps on the same data in the same
    order. The dense snapshots stay at the same *steps* as the short run's (its phase change is
    resolved alike; with a constant learning rate the first steps follow the short run's trajectory
    closely, though not bit for bit: the decisions log has the numbers); :data:`LONG_LOG_SNAPSHOTS` log-spaced snapshots cover the late regime; the short
    run's last step is a mark (always snapshotted, its checkpoint kept)."""
    k = LONG_STEPS_FACTOR
    return replace(t, total_steps=t.total_steps * k, dense=(t.dense[0] / k, t.dense[1] / k),
                   n_log_snapshots=LONG_LOG_SNAPSHOTS, marks=tuple(sorted({*t.marks, t.total_steps})))


def cooldown_recipe(source: str, t: TrainConfig) -> TrainConfig:
    """The ``-cooldown`` recipe: continue run ``source`` (recipe ``t``) from its final weights on the
    data it would have seen next, the learning rate warmed up again over ``t.warmup_steps`` (the
    checkpoint keeps no optimizer state) and then decayed linearly to 0 (the "wsd" schedule's decay
    over the whole continuation). It lasts :data:`COOLDOWN_FRAC` of the source's steps
    (:data:`LONG_COOLDOWN_FRAC` for a ``-long`` source): the cool-down of a
    warm-up-stable-decay schedule, whose decay usually takes the last 10-20% of training. Its
    snapshots are dense over the whole continuation; only the final checkpoint is kept."""
    frac = LONG_COOLDOWN_FRAC if parse_model_name(source).long else COOLDOWN_FRAC
    return replace(t, init_from=source, init_step=t.total_steps, total_steps=max(1, round(frac * t.total_steps)),
                   schedule="wsd", decay_frac=1.0, marks=(), dense=(0.0, 1.0), n_dense_snapshots=24,
                   n_log_snapshots=12)


NATURAL_STEPS_FACTOR = 3
LONG_STEPS_FACTOR = 10
LONG_LOG_SNAPSHOTS = 120
COOLDOWN_FRAC = 0.2
LONG_COOLDOWN_FRAC = 0.1
# Recipe changes that can follow any variant in a name (``attn-only-2l-k-knockout-natural``),
# in this order: name suffix -> change of the size's recipe. ``-cooldown`` (last) continues the run
# named without it (:func:`cooldown_recipe`).
RECIPES: dict[str, Callable[[TrainConfig], TrainConfig]] = {"natural": natural_recipe, "long": long_recipe}
# The core zoo: Arguments 1, 2, 3 and 5 rest on these ten.
CORE_MODELS: tuple[str, ...] = (
    "attn-only-1l",
    "attn-only-2l",
    "attn-only-3l",
    "mlp-1l",
    "mlp-2l",
    "mlp-3l",
    "smeared-1l",
    "smeared-2l",
    "attn-only-2l-seed1",
    "attn-only-2l-seed2",
)
# The referee's test (Argument 2 in the other direction): knockouts on two seeds with their
# controls (mlp-2l-seed1 is the second seed's control; attn-only-2l-seed1 is in the core), the
# blocked previous-token route, the clamped positive control and the warm-up confound.
INTERVENTION_MODELS: tuple[str, ...] = (
    "attn-only-2l-k-knockout",
    "attn-only-2l-k-knockout-seed1",
    "mlp-2l-k-knockout",
    "mlp-2l-k-knockout-seed1",
    "mlp-2l-seed1",
    "attn-only-2l-no-prev-token",
    "attn-only-2l-clamped-induction",
    "attn-only-2l-warmup10x",
)
# Argument 4's translation model; Argument 6's ladder (depths 4 and 6 in both families, two more
# widths at two layers) and the onset law's other batch sizes. mlp-6l trains last: it was added
# once the others' costs were measured (mlp-4l 70 CPU-minutes); the rungs added to the core zoo
# and the batch sweep then took 321 CPU-minutes, under the ladder's 4 hours on 2 cores (README).
EXTRA_MODELS: tuple[str, ...] = (
    "attn-only-2l-translation",
    "attn-only-4l",
    "attn-only-6l",
    "mlp-4l",
    "attn-only-2l-d64",
    "attn-only-2l-d256",
    *(f"attn-only-2l-{v}" for v in ONSET_VARIANTS),
    "mlp-6l",
)
# Three seeds per core multi-layer family (intervals over seeds): the core zoo has attn-only-2l
# with two more seeds and mlp-2l-seed1 among the interventions' controls.
SEED_MODELS: tuple[str, ...] = (
    "attn-only-3l-seed1",
    "attn-only-3l-seed2",
    "mlp-2l-seed2",
    "mlp-3l-seed1",
    "mlp-3l-seed2",
    "smeared-2l-seed1",
    "smeared-2l-seed2",
)
# The natural-code control set (no repeated windows): did the repeated windows make the phase
# change? The core claims and the referee's knockout on the paper's kind of data.
NATURAL_MODELS: tuple[str, ...] = (
    "attn-only-1l-natural",
    "attn-only-2l-natural",
    "mlp-2l-natural",
    "smeared-2l-natural",
    "attn-only-2l-k-knockout-natural",
)
# One model trained ten times longer: does copying keep improving after the window?
LONG_MODELS: tuple[str, ...] = ("attn-only-2l-long",)
# Why the heads copy weakly (Argument 5): capacity (wider heads at the same width and parameter
# count) and optimisation noise (a cool-down of the zoo-length run and of the long run). What each
# outcome will mean was written in the decisions log before they trained.
COPYING_MODELS: tuple[str, ...] = (
    "attn-only-2l-h2",
    "attn-only-2l-h1",
    "attn-only-2l-cooldown",
    "attn-only-2l-long-cooldown",
)
# The referee's second round: induction attention forbidden in training, composition intact, on
# two seeds and on natural code.
NO_INDUCTION_MODELS: tuple[str, ...] = (
    "attn-only-2l-no-induction-target",
    "attn-only-2l-no-induction-target-seed1",
    "attn-only-2l-no-induction-target-natural",
)
# Every model ``make zoo`` trains, in the order it trains them: the core first (the book switches
# to a retrained zoo when the core is done), then the rest.
MODEL_NAMES: tuple[str, ...] = (CORE_MODELS + INTERVENTION_MODELS + EXTRA_MODELS + LONG_MODELS + NATURAL_MODELS
                                + SEED_MODELS + COPYING_MODELS + NO_INDUCTION_MODELS)
_NAME_RE = re.compile(
    r"^(attn-only|mlp|smeared)-(\d+)l(?:-d(\d+))?(?:-(" + "|".join([*MODEL_VARIANTS, *TRAIN_VARIANTS])
    + r"))?(?:-(natural))?(?:-(long))?(?:-(cooldown))?(?:-seed(\d+))?$"
)


class ModelName(NamedTuple):
    """The parts of a model name
    ``<family>-<n>l[-d<width>][-<variant>][-natural][-long][-cooldown][-seed<k>]``, e.g.
    ``attn-only-2l``, ``mlp-4l``, ``attn-only-2l-d256``, ``mlp-2l-k-knockout-seed1``,
    ``attn-only-2l-k-knockout-natural``, ``attn-only-2l-long``, ``attn-only-2l-long-cooldown``,
    ``attn-only-2l-h2`` (two heads per layer: a variant)."""

    family: str
    n_layers: int
    d_model: int | None  # None: the size's width
    variant: str | None  # an intervention on the architecture, or a change of the recipe or data
    seed: int
    natural: bool = False  # trained on the corpus alone (:func:`natural_recipe`)
    long: bool = False  # trained ten times longer (:func:`long_recipe`)
    cooldown: bool = False  # continues the run named without ``-cooldown`` (:func:`cooldown_recipe`)

    @property
    def recipes(self) -> tuple[str, ...]:
        """The recipe changes the name asks for, in order (:data:`RECIPES`, then ``cooldown``)."""
        return tuple(r for r, on in (("natural", self.natural), ("long", self.long), ("cooldown", self.cooldown)) if on)

    @property
    def source(self) -> str | None:
        """The run a ``-cooldown`` run continues (its own name without ``-cooldown``), else None."""
        return None if not self.cooldown else format_model_name(self._replace(cooldown=False))


class OneLineError(ValueError):
    """A bad value given by a reader: in a notebook it prints as one line, not a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom error display
        return [f"{type(self).__name__}: {self}"]


class SizeError(OneLineError):
    """An unknown size."""


def validate_size(size: str) -> str:
    """Return ``size`` if it names a size, else raise a one-line :class:`SizeError`.

    The one check of a size: the command line, the run store and every chapter's papermill
    ``size`` parameter (through :func:`induction_heads.book.setup_chapter`) call it.
    """
    if size not in SIZES:
        raise SizeError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
    return size


def get_size(size: str) -> SizeSpec:
    return SIZES[validate_size(size)]


def parse_model_name(name: str) -> ModelName:
    """The parts of a model name, or a one-line ``ValueError`` listing the zoo's names."""
    m = _NAME_RE.match(name)
    if not m or int(m.group(2)) < 1 or (m.group(3) is not None and int(m.group(3)) < 1):
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    family, layers, width, variant, natural, long, cooldown, seed = m.groups()
    return ModelName(family, int(layers), None if width is None else int(width), variant, int(seed or 0),
                     natural is not None, long is not None, cooldown is not None)


def format_model_name(n: ModelName) -> str:
    """The name :func:`parse_model_name` reads as ``n`` (its inverse)."""
    parts = [f"{n.family}-{n.n_layers}l", *([f"d{n.d_model}"] if n.d_model is not None else []),
             *([n.variant] if n.variant else []), *n.recipes, *([f"seed{n.seed}"] if n.seed else [])]
    return "-".join(parts)


def validate_model_name(name: str) -> str:
    """Accept the zoo's names and any
    ``<family>-<n>l[-d<width>][-<variant>][-natural][-long][-cooldown][-seed<k>]``."""
    parse_model_name(name)
    return name


def model_family(name: str) -> tuple[str, int, int]:
    """``(family, n_layers, seed)`` of a model name, e.g. ``("attn-only", 2, 1)``."""
    n = parse_model_name(name)
    return n.family, n.n_layers, n.seed


def model_config(size: str, name: str) -> ModelConfig:
    """The architecture of model ``name`` in size ``size``. A width ``-d<w>`` keeps the size's
    head dimension (``w / d_head`` heads) and MLP ratio (``d_mlp = w * d_mlp / d_model``)."""
    p, n = get_size(size), parse_model_name(name)
    attn_only, smeared = _FAMILIES[n.family]
    d_model = n.d_model or p.d_model
    changes = dict(MODEL_VARIANTS.get(n.variant, {}))
    if d_model % p.d_head:
        raise ValueError(f"width {d_model} of {name!r} is not a multiple of the head dimension {p.d_head}")
    n_heads = changes.pop("n_heads", d_model // p.d_head)
    d_head = d_model // n_heads
    if n.variant in MODEL_VARIANTS and n.n_layers < 2:
        raise ValueError(f"{name!r}: the {n.variant} intervention needs two or more layers")
    return ModelConfig(
        n_layers=n.n_layers, d_model=d_model, n_heads=n_heads, d_head=d_head, n_ctx=p.n_ctx,
        d_vocab=p.vocab_size, attn_only=attn_only, d_mlp=0 if attn_only else p.d_mlp * d_model // p.d_model,
        smeared_key=smeared, seed=n.seed, **changes,
    )


def width_lr(lr: float, d_model: int, d_size: int) -> float:
    """The learning rate of a model ``d_model`` wide in a size calibrated at width ``d_size``:
    divided by the width ratio for a wider model (Adam's update of a weight matrix grows with
    its fan-in, so muP scales the hidden rate as 1 / width), kept for a narrower one (never above
    the rate the size was calibrated at). At ``small``, ``attn-only-2l-d256`` at the size's 6e-3
    stalled at an evaluation loss of 3.5 with no induction head (decisions log, "The ladder's
    widths")."""
    return lr * min(1.0, d_size / d_model)


def train_config(size: str, name: str) -> TrainConfig:
    """The training recipe of ``name`` in ``size``.

    Every model of a size sees the same data in the same order (as in the paper), except the
    extra seeds, which change both the initialisation and the data order so that the spread
    of the onset over seeds is an honest one. ``-warmup10x`` warms the learning rate up over ten
    times as many steps (the warm-up confound of the phase change's timing). A width ``-d<w>``
    takes :func:`width_lr`; ``-natural`` and ``-long`` then change the recipe (:data:`RECIPES`).
    """
    p, n = get_size(size), parse_model_name(name)
    t = replace(p.train, data_seed=p.train.data_seed + n.seed) if n.seed else p.train
    if n.d_model is not None and n.d_model != p.d_model:
        t = replace(t, lr=width_lr(t.lr, n.d_model, p.d_model))
    t = TRAIN_VARIANTS[n.variant](t) if n.variant in TRAIN_VARIANTS else t
    for r in n.recipes:
        t = cooldown_recipe(n.source, t) if r == "cooldown" else RECIPES[r](t)
    return t


def checkpoints_kept(size: str, name: str) -> int:
    """How many full checkpoints a finished run keeps: the size's ``n_checkpoints`` for the core
    zoo (chapters read checkpoints before, during and after its phase changes), only the final
    one for every other model (its chapters read the recorded metrics and the final weights), so
    the committed run store stays small. A long run keeps three: before its phase change, at
    the short recipe's end (its mark) and its last."""
    n = parse_model_name(name)
    if n.long and not n.cooldown:
        return 3
    return get_size(size).n_checkpoints if name in CORE_MODELS else 1
