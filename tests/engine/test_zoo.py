"""A run as one typed object: its configs, trajectory and checkpoints read back what training
wrote, and the zoo loads the finished runs in the zoo's order."""

from __future__ import annotations

import pytest
import torch

import json
from dataclasses import asdict

from induction_heads.engine import runs
from induction_heads.engine.config import MODEL_NAMES, SIZES, ModelConfig, TrainConfig, model_config, train_config
from induction_heads.engine.zoo import Run, Trajectory, Zoo


@pytest.mark.parametrize("size", list(SIZES))
def test_configs_decode_what_info_json_holds(size):
    """``from_dict`` reads back what ``finish_run`` writes (``asdict``, then JSON: tuples become
    lists), for every model of every size and a recipe with marks (a ``-long`` run)."""
    for name in [*MODEL_NAMES, "attn-only-2l-long"]:
        m, t = model_config(size, name), train_config(size, name)
        stored = json.loads(json.dumps({"model_config": asdict(m), "train_config": asdict(t)}))
        assert isinstance(stored["train_config"]["betas"], list)  # what the decoding has to undo
        assert ModelConfig.from_dict(stored["model_config"]) == m
        assert TrainConfig.from_dict(stored["train_config"]) == t
    assert TrainConfig.from_dict(stored["train_config"]).marks == t.marks != ()


def test_the_run_and_the_store_decode_info_json_alike(tiny_zoo):
    run = Run("tiny", "attn-only-2l")
    assert runs._model_config("tiny", "attn-only-2l") == run.model_config == run.model().cfg


def test_checkpoint_file_names():
    """The one spelling of a checkpoint's file name, zero-padded so the files sort by step."""
    assert runs.checkpoint_file(1200) == "step_0001200.safetensors"
    assert runs.checkpoint_step(f"/x/{runs.CHECKPOINTS}/{runs.checkpoint_file(24_000)}") == 24_000
    from fnmatch import fnmatch

    assert fnmatch(runs.checkpoint_file(0), runs.CHECKPOINT_GLOB)


def test_run_reads_back_its_configs_and_tokens(tiny_zoo):
    run = Run("tiny", "attn-only-2l")
    assert run.model_config == model_config("tiny", "attn-only-2l")
    assert run.train_config == train_config("tiny", "attn-only-2l")  # tuples restored from JSON lists
    t = run.trajectory
    # tokens seen at every snapshot are the configured step x batch x context
    assert [run.tokens_at(int(s)) for s in t.steps] == t.tokens_seen.tolist()
    assert run.warmup_tokens == run.train_config.warmup_steps * run.train_config.batch_size * run.model_config.n_ctx
    assert run.wall_minutes == pytest.approx(run.info["wall_time_s"] / 60)
    assert run == Run("tiny", "attn-only-2l") and hash(run) == hash(Run("tiny", "attn-only-2l"))


def test_checkpoints_around_a_token_count(tiny_zoo):
    run = Run("tiny", "attn-only-2l")
    steps = run.checkpoints
    assert run.checkpoint_before(0.0) == steps[0] and run.checkpoint_after(1e12) == steps[-1]
    middle = run.tokens_at(steps[1])
    assert run.checkpoint_before(middle) == steps[1] == run.checkpoint_after(middle)
    assert run.checkpoint_before(middle - 1) == steps[0] and run.checkpoint_after(middle + 1) == steps[2]
    with torch.no_grad():
        toks = torch.randint(1, run.model_config.d_vocab, (1, 16))
        assert torch.allclose(run.model(steps[-1])(toks), run.bridge()(toks), atol=1e-4)


def test_trajectory_recorded_and_final():
    t = Trajectory({"tokens": torch.tensor([0, 10, 20]), "step": torch.tensor([0, 1, 2]),
                    "icl_score": torch.tensor([0.0, -0.2, -0.5])})
    assert t.recorded().tokens_seen.tolist() == [10, 20] and t.recorded()["icl_score"].tolist() == pytest.approx([-0.2, -0.5])
    assert float(t.final("icl_score")) == -0.5 and dict(t)["step"].tolist() == [0, 1, 2]
    assert t.has("icl_score") and not t.has("icl_score", "copied_logit")


def test_zoo_loads_finished_runs(tiny_zoo):
    zoo = Zoo.load("tiny", ["mlp-2l", "attn-only-2l", "no-such-model-2l"])
    assert list(zoo) == ["mlp-2l", "attn-only-2l"] and zoo.size == "tiny"  # the order given, finished runs only
    assert list(zoo.only(["mlp-2l", "attn-only-1l"])) == ["mlp-2l"]
    assert set(zoo.trajectories()) == {"attn-only-2l", "mlp-2l"}
    everything = Zoo.load("tiny")
    assert list(everything)[:2] == ["attn-only-1l", "attn-only-2l"] and "attn-only-2l-long" in everything
