"""Argument 6's ladder (book/argument6.py): rungs picked by parsing names, the missing ones, sizes,
and the readings chapter 07 compares, on names and metrics whose answers are known."""

from __future__ import annotations

import math

import pytest
import torch

from induction_heads.book import argument6 as ladder
from induction_heads.engine.config import model_config
from induction_heads.engine.zoo import Zoo
from induction_heads.measure.phase import PhaseWindow

torch.set_num_threads(1)

NAMES = ["attn-only-1l", "attn-only-2l", "attn-only-2l-seed1", "smeared-2l", "mlp-6l", "attn-only-2l-d256",
         "attn-only-2l-d128", "mlp-2l-k-knockout", "attn-only-2l-warmup10x", "not-a-model", "mlp-3l"]


def test_ladder_picks_vanilla_rungs_by_name_and_sorts_them():
    rungs = ladder.ladder("small", NAMES)
    assert [r.name for r in rungs] == ["attn-only-1l", "attn-only-2l", "attn-only-2l-d256", "mlp-3l", "mlp-6l"]
    assert rungs[2] == ladder.Rung("attn-only-2l-d256", "attn-only", 2, 256)
    assert ladder.rung("small", "attn-only-2l-seed1") is None and ladder.rung("small", "smeared-2l") is None
    assert ladder.rung("tiny", "mlp-4l") == ladder.Rung("mlp-4l", "mlp", 4, 32)  # the size's width


def test_missing_rungs_are_the_planned_ones_without_data():
    have = ["attn-only-1l", "attn-only-2l", "attn-only-3l", "mlp-1l", "mlp-2l", "mlp-3l"]
    assert ladder.missing_rungs("small", have) == ["attn-only-2l-d64", "attn-only-2l-d256", "attn-only-4l", "attn-only-6l",
                                                   "mlp-4l", "mlp-6l"]
    # at tiny, d64 and d256 are other widths too; a d128 name at small is attn-only-2l itself
    assert "attn-only-2l-d128" not in ladder.missing_rungs("small", have, [*ladder.PLANNED_RUNGS, "attn-only-2l-d128"])
    assert ladder.missing_rungs("small", ladder.PLANNED_RUNGS) == []


def test_non_embedding_params_and_the_extremes():
    assert model_config("small", "attn-only-2l").non_embedding_params == 2 * 4 * 128 * 128
    assert model_config("small", "mlp-3l").non_embedding_params == 3 * (4 * 128 * 128 + 2 * 128 * 512)
    assert model_config("small", "attn-only-2l-d256").non_embedding_params == 2 * 4 * 256 * 256
    small, large = ladder.smallest_and_largest("small", ladder.ladder("small", ["mlp-3l", "attn-only-2l", "attn-only-3l"]))
    assert (small.name, large.name) == ("attn-only-2l", "mlp-3l")
    assert ladder.smallest_and_largest("small", ladder.ladder("small", ["mlp-3l"])) is None


def test_icl_after_window_on_a_logistic_step():
    tokens = torch.logspace(4, 8, 120, dtype=torch.float64)
    step = torch.sigmoid((tokens.log() - math.log(1e6)) / 0.1)
    metrics = {"tokens": tokens, "icl_score": -0.6 * step - 0.05 * (tokens.log() - math.log(1e4)) / math.log(1e4)}
    r = ladder.icl_after_window(metrics, PhaseWindow(1e5, 1e7, 1e6))
    assert r.before == pytest.approx(-0.0125, abs=0.01)  # ICL at 10^5 tokens: the slow drift only
    assert r.at_window_end == pytest.approx(-0.6375, abs=0.01)
    assert r.final == pytest.approx(-0.65, abs=0.01)
    assert r.growth_after_window == pytest.approx(0.0125, abs=0.01)
    none = ladder.icl_after_window(metrics, None)
    assert math.isnan(none.before) and none.final == pytest.approx(-0.65, abs=0.01)


def test_log_spread():
    assert ladder.log_spread([1e6, math.e * 1e6, 2e6]) == pytest.approx(1.0)
    assert math.isnan(ladder.log_spread([1e6]))


def test_onset_points_read_batch_and_context_from_the_runs(tiny_zoo):
    windows = {"attn-only-2l": PhaseWindow(1e4, 2e4, 1.5e4), "attn-only-2l-seed1": None, "attn-only-3l": None,
               "mlp-2l": None}
    points = ladder.onset_points(Zoo.load("tiny"), windows)
    assert [(p.name, p.batch, p.context, p.onset_tokens) for p in points] == [
        ("attn-only-2l", 8, 128, 1e4), ("attn-only-2l-seed1", 8, 128, None)]
    assert points[0].batch_times_context == 1024
    assert ladder.onset_sweep("tiny") == ((4, 128), (8, 128), (16, 128), (32, 128))
    assert ladder.missing_onset_points(points, ladder.onset_sweep("tiny")) == [(4, 128), (16, 128), (32, 128)]


@pytest.mark.slow
def test_a_batch_variant_is_an_onset_point_with_its_trained_batch(tiny_data):
    """`attn-only-2l-b32` trains at batch 32 on the same tokens, with the same warm-up in tokens,
    and enters the onset law with the batch its info.json records; other variants do not."""
    from induction_heads.engine.config import train_config
    from induction_heads.engine.train import train

    base, b32 = train_config("tiny", "attn-only-2l"), train_config("tiny", "attn-only-2l-b32")
    assert (b32.batch_size, b32.total_steps * 32, b32.warmup_steps * 32) == (32, base.total_steps * 8, base.warmup_steps * 8)
    for name in ("attn-only-2l-b32", "attn-only-2l-warmup10x"):
        train("tiny", name, progress=False)
    points = ladder.onset_points(Zoo.load("tiny"), {"attn-only-2l-b32": PhaseWindow(3e4, 5e4, 4e4), "attn-only-2l-warmup10x": None})
    assert [(p.name, p.batch, p.context, p.onset_tokens) for p in points] == [("attn-only-2l-b32", 32, 128, 3e4)]
    assert ladder.rung("tiny", "attn-only-2l-b32") is None


def test_seeds_of():
    assert ladder.seeds_of("attn-only-2l", NAMES + ["attn-only-2l-seed2", "attn-only-3l-seed1"]) == [
        "attn-only-2l", "attn-only-2l-seed1", "attn-only-2l-seed2"]


def test_estimated_minutes_along_depth():
    r = lambda fam, depth, width=128: ladder.Rung(f"{fam}-{depth}l", fam, depth, width)  # noqa: E731
    measured = {r("mlp", 1): 25.0, r("mlp", 2): 40.0, r("mlp", 3): 55.0, r("attn-only", 2): 24.0}
    assert ladder.estimated_minutes(measured, r("mlp", 6)) == pytest.approx(100.0)
    assert ladder.estimated_minutes(measured, r("attn-only", 4)) is None  # one depth measured
    assert ladder.estimated_minutes(measured, r("mlp", 2, 256)) is None  # no run at that width
