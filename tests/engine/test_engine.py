"""The engine: corpus, tokenizer, model zoo conversion, trainer (resume, determinism), CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from induction_heads.engine import config
from induction_heads.engine.config import CORE_MODELS, MODEL_NAMES, ModelConfig, model_config
from induction_heads.engine.corpus import CorpusUnavailableError, is_heldout, load_corpus
from induction_heads.engine.model import InductionLM, to_bridge
from induction_heads.engine.runs import CHECKPOINT_GLOB, CHECKPOINTS, RUNS_FOLDER

torch.set_num_threads(1)


# ---------------------------------------------------------------- corpus


def test_stdlib_corpus_is_deterministic_and_split_by_name():
    a = load_corpus("stdlib", max_bytes=300_000)
    b = load_corpus("stdlib", max_bytes=300_000)
    assert [d.name for d in a.documents] == sorted(d.name for d in a.documents)
    assert a.manifest() == b.manifest()
    m = a.manifest()
    assert {"python_version", "total_bytes", "sha256", "documents"} <= set(m)
    assert m["total_bytes"] == sum(len(d.text.encode()) for d in a.documents)
    held = a.split("heldout")
    assert all(is_heldout(d.name) for d in held)
    assert len(held) + len(a.split("train")) == len(a.documents)


def test_heldout_split_is_about_five_percent():
    names = [f"pkg/mod{i}.py" for i in range(4000)]
    frac = sum(map(is_heldout, names)) / len(names)
    assert 0.03 < frac < 0.07


def test_local_folder_corpus(tmp_path):
    (tmp_path / "b.txt").write_text("second")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("first")
    (tmp_path / "skip.bin").write_bytes(b"\x00\x01")
    c = load_corpus(str(tmp_path))
    assert [d.name for d in c.documents] == ["b.txt", "sub/a.md"]


def test_hf_corpus_through_real_datasets_loader(tmp_path):
    """The online path, offline: `datasets.load_dataset` reads a local data set we write."""
    folder = tmp_path / "tiny-stories"
    folder.mkdir()
    rows = [{"text": f"Once upon a time {i}."} for i in range(5)] + [{"text": "  "}]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    c = load_corpus(f"hf:{folder}")
    assert [d.text for d in c.documents] == [r["text"] for r in rows[:5]]
    assert c.documents[0].name == "tiny-stories#0"
    with pytest.raises(ValueError, match="no column 'story'"):
        load_corpus(f"hf:{folder}", text_column="story")


def test_online_corpus_without_network_is_one_line_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CorpusUnavailableError) as e:
        load_corpus("hf:roneneldan/TinyStories")
    assert "no network" in str(e.value) and "\n" not in str(e.value)


def test_unknown_corpus_source():
    with pytest.raises(ValueError, match="unknown corpus source"):
        load_corpus("/no/such/folder")


# ---------------------------------------------------------------- config


def test_model_names_and_sizes():
    assert config.validate_size("small") == "small"
    with pytest.raises(ValueError, match="unknown size 'huge'; choose one of: tiny, small, base"):
        config.validate_size("huge")
    with pytest.raises(ValueError, match="unknown model 'gpt-2'"):
        model_config("tiny", "gpt-2")
    c = model_config("small", "smeared-1l")
    assert c.smeared_key and c.attn_only and c.n_layers == 1
    assert model_config("small", "mlp-3l").d_mlp > 0
    assert model_config("tiny", "attn-only-2l-seed2").seed == 2
    assert config.train_config("tiny", "attn-only-2l-seed1").data_seed != config.train_config("tiny", "attn-only-2l").data_seed
    assert config.train_config("tiny", "smeared-2l").data_seed == config.train_config("tiny", "attn-only-2l").data_seed


def test_model_names_carry_width_interventions_and_seed():
    n = config.parse_model_name("mlp-2l-k-knockout-seed1")
    assert n == config.ModelName("mlp", 2, None, "k-knockout", 1)
    c = model_config("small", "mlp-2l-k-knockout-seed1")
    assert c.k_composition_knockout and not c.attn_only and c.seed == 1
    wide = model_config("small", "attn-only-2l-d256")
    assert (wide.d_model, wide.n_heads, wide.d_head) == (256, 8, 32)
    assert model_config("small", "mlp-2l-d64").d_mlp == 256  # the size's MLP ratio (4)
    assert model_config("small", "attn-only-2l-no-prev-token").block_previous_token
    assert model_config("small", "attn-only-2l-clamped-induction").clamped_induction_head
    base = config.train_config("small", "attn-only-2l")
    assert config.train_config("small", "attn-only-2l-warmup10x").warmup_steps == 10 * base.warmup_steps
    assert model_config("small", "attn-only-2l-warmup10x") == model_config("small", "attn-only-2l")
    # widths: the rate falls as 1 / width above the size's width, and stays at it below
    assert config.train_config("small", "attn-only-2l-d256").lr == pytest.approx(base.lr / 2)
    assert config.train_config("small", "attn-only-2l-d64").lr == base.lr
    assert config.train_config("small", "attn-only-2l-d128") == base
    assert config.train_config("small", "attn-only-2l-translation").translate_frac == config.TRANSLATION_SHARE
    for bad, msg in [("attn-only-2l-knockout", "unknown model"), ("attn-only-1l-k-knockout", "two or more layers"),
                     ("attn-only-2l-d48", "not a multiple of the head dimension")]:
        with pytest.raises(ValueError, match=msg):
            model_config("small", bad)


# ---------------------------------------------------------------- fast twin -> bridge


_OPTIONS = {"": {}, "tied": {"tied_embeddings": True}, "no-final-ln": {"final_ln": False},
            "tied-no-final-ln": {"tied_embeddings": True, "final_ln": False}}


@pytest.mark.parametrize("options", list(_OPTIONS), ids=[k or "default" for k in _OPTIONS])
@pytest.mark.parametrize("name", [n for n in CORE_MODELS if "seed" not in n] + ["attn-only-4l"])
def test_bridge_conversion_is_exact(name, options):
    from dataclasses import replace

    cfg = replace(model_config("tiny", name), **_OPTIONS[options])
    model = InductionLM(cfg).eval()
    with torch.no_grad():  # make the smear and every bias non-trivial
        for n, p in model.named_parameters():
            if n.endswith(("bias", "smear_alpha")):
                p.normal_(0, 0.5)
    bridge = to_bridge(model)
    toks = torch.randint(0, cfg.d_vocab, (3, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(toks)
        out = bridge(toks)
        _, cache = bridge.run_with_cache(toks)
        fast_patterns = model.attention_patterns(toks)
    assert (ref - out).abs().max() <= 1e-5
    for layer in range(cfg.n_layers):
        assert (cache["pattern", layer] - fast_patterns[layer]).abs().max() <= 1e-6
    assert torch.equal(bridge.W_U, model.W_U)
    if cfg.tied_embeddings:
        assert torch.equal(model.W_U, model.embed.weight.T) and not hasattr(model, "unembed")


_INTERVENED = ["attn-only-2l-k-knockout", "mlp-2l-k-knockout", "attn-only-3l-k-knockout",
               "attn-only-2l-no-prev-token", "attn-only-2l-clamped-induction", "mlp-3l-clamped-induction",
               "attn-only-2l-no-induction-target", "mlp-3l-no-induction-target", "attn-only-2l-h1"]


def _perturbed(name: str) -> InductionLM:
    model = InductionLM(model_config("tiny", name)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.05)
    return model


def _tokens_with_repeats(vocab: int) -> torch.Tensor:
    toks = torch.randint(1, vocab, (3, 40), generator=torch.Generator().manual_seed(2))
    toks[:, 22:32] = toks[:, 4:14]
    return toks


@pytest.mark.parametrize("name", _INTERVENED)
def test_bridge_conversion_is_exact_for_interventions(name):
    model = _perturbed(name)
    toks = _tokens_with_repeats(model.cfg.d_vocab)
    bridge = to_bridge(model)
    with torch.no_grad():
        logits, cache = bridge.run_with_cache(toks)
        assert (model(toks) - logits).abs().max() <= 1e-5
        fast = model.attention_patterns(toks)
    for layer in range(model.cfg.n_layers):
        assert (cache["pattern", layer] - fast[layer]).abs().max() <= 1e-6


@pytest.mark.parametrize("name, knocked_out", [("attn-only-2l-k-knockout", True), ("attn-only-2l", False)])
def test_k_knockout_keys_do_not_read_earlier_heads(name, knocked_out):
    """Zeroing every first-layer head changes the second layer's keys (hook_k) in a normal
    model and leaves them exactly as they were under the K-composition knockout."""
    model = _perturbed(name)
    bridge = to_bridge(model)
    toks = _tokens_with_repeats(model.cfg.d_vocab)
    zero = lambda z, hook: torch.zeros_like(z)  # noqa: E731
    with torch.no_grad():
        _, clean = bridge.run_with_cache(toks)
        ablated = {}
        bridge.run_with_hooks(toks, fwd_hooks=[("blocks.0.attn.hook_z", zero),
                                                ("blocks.1.attn.hook_k", lambda k, hook: ablated.setdefault("k", k))])
    assert torch.equal(ablated["k"], clean["k", 1]) == knocked_out


def test_previous_token_blocked_and_clamped_induction_head():
    blocked = _perturbed("attn-only-2l-no-prev-token")
    toks = _tokens_with_repeats(blocked.cfg.d_vocab)
    assert torch.diagonal(blocked.attention_patterns(toks)[0], offset=-1, dim1=-2, dim2=-1).abs().max() == 0
    assert torch.diagonal(blocked.attention_patterns(toks)[1], offset=-1, dim1=-2, dim2=-1).abs().max() > 0
    from induction_heads.measure.metrics import ideal_induction_pattern, prefix_matching_score

    clamped = InductionLM(model_config("tiny", "attn-only-2l-clamped-induction")).eval()  # untrained
    patterns = clamped.attention_patterns(toks)
    assert torch.equal(patterns[1][:, 0], ideal_induction_pattern(toks))
    scores = prefix_matching_score(patterns, toks)
    assert scores[1, 0] == pytest.approx(1.0) and scores[1, 1:].max() < 0.5


def test_no_induction_target_masks_exactly_the_induction_targets():
    """Known answer on ``[5, 7, 5, 7, 9]``: query 2 (token 5) may not attend to key 1 (the 7 after
    the first 5), query 3 (token 7) not to key 2; nothing else is masked, and the first layer is
    untouched. On repeated tokens the masked layer's prefix-matching score is exactly 0."""
    from induction_heads.engine.model import induction_target_allowed_mask
    from induction_heads.measure.metrics import prefix_matching_score

    allowed = induction_target_allowed_mask(torch.tensor([[5, 7, 5, 7, 9]]))[0, 0]
    expected = torch.ones(5, 5, dtype=torch.bool).tril()
    expected[2, 1] = expected[3, 2] = False
    assert torch.equal(allowed, expected)
    model = _perturbed("attn-only-2l-no-induction-target")
    toks = _tokens_with_repeats(model.cfg.d_vocab)
    patterns = model.attention_patterns(toks)
    scores = prefix_matching_score(patterns, toks)
    assert scores[1].abs().max() == 0 and scores[0].min() > 0
    assert torch.allclose(patterns[:, :, :, :, :].sum(-1), torch.ones(()))  # rows still sum to 1


def test_head_width_variants_keep_the_parameter_count():
    for name, heads in (("attn-only-2l-h2", 2), ("attn-only-2l-h1", 1)):
        c = model_config("small", name)
        assert (c.n_heads, c.d_head, c.d_model) == (heads, 128 // heads, 128)
        assert c.non_embedding_params == model_config("small", "attn-only-2l").non_embedding_params
        assert config.train_config("small", name) == config.train_config("small", "attn-only-2l")
    assert (model_config("tiny", "attn-only-2l-h1").n_heads, model_config("tiny", "attn-only-2l-h1").d_head) == (1, 32)


def test_cooldown_continues_its_source_and_decays_to_zero():
    """``-cooldown`` continues the run named without it: from its last step, on the data it
    would have seen next, for 20% of its steps (10% of a long run's), warmed up again and then
    linearly down to 0."""
    from induction_heads.engine.train import lr_at, training_batch

    base, cool = config.train_config("small", "attn-only-2l"), config.train_config("small", "attn-only-2l-cooldown")
    assert config.parse_model_name("attn-only-2l-cooldown").source == "attn-only-2l"
    assert config.parse_model_name("attn-only-2l-long-cooldown").source == "attn-only-2l-long"
    assert (cool.init_from, cool.init_step, cool.total_steps) == ("attn-only-2l", 24_000, 4_800)
    long_cool = config.train_config("small", "attn-only-2l-long-cooldown")
    assert (long_cool.init_step, long_cool.total_steps) == (240_000, 24_000)
    assert cool.tokens_seen(0, 128) == base.tokens_seen(base.total_steps, 128)
    assert lr_at(cool.warmup_steps, cool) == pytest.approx(base.lr * (1 - cool.warmup_steps / cool.total_steps))
    assert lr_at(cool.total_steps - 1, cool) == pytest.approx(base.lr / cool.total_steps)
    assert config.checkpoints_kept("small", "attn-only-2l-long-cooldown") == 1
    cfg = model_config("small", "attn-only-2l")
    stream = torch.arange(100_000) % 1024
    assert torch.equal(training_batch(stream, 0, cool, cfg), training_batch(stream, 24_000, base, cfg))
    with pytest.raises(ValueError, match="unknown model"):
        config.parse_model_name("attn-only-2l-cooldown-long")  # the cool-down comes last


@pytest.mark.slow
def test_cooldown_trains_from_its_sources_final_weights(tiny_data, tmp_path, monkeypatch):
    """A cool-down refuses to start before its source has finished; then its step 0 is the
    source's final checkpoint and its tokens seen continue the source's."""
    from dataclasses import replace

    from safetensors.torch import load_file

    from induction_heads.engine.runs import RunStoreError, load_model
    from induction_heads.engine.train import train

    monkeypatch.setenv("INDUCTION_HEADS_RUNS", "cooldown-test")  # a runs folder of its own
    short = dict(n_log_snapshots=2, n_dense_snapshots=2)
    cool = replace(config.train_config("tiny", "attn-only-2l-cooldown"), init_step=10, total_steps=6, **short)
    with pytest.raises(RunStoreError, match="not trained yet"):
        train("tiny", "attn-only-2l-cooldown", out=tmp_path / "early", progress=False, train_cfg=cool)
    train("tiny", "attn-only-2l", progress=False,
          train_cfg=replace(config.train_config("tiny", "attn-only-2l"), total_steps=10, **short))
    run = train("tiny", "attn-only-2l-cooldown", out=tmp_path / "cool", progress=False, train_cfg=cool)
    metrics, final, info = _read_run(run)
    assert info["finished"] and int(metrics["tokens"][0]) == 10 * 8 * 128 and int(metrics["tokens"][-1]) == 16 * 8 * 128
    source = load_model("tiny", "attn-only-2l").state_dict()
    # its first snapshot measures the source's final weights
    assert float(metrics["icl_score"][0]) == pytest.approx(float(load_file(
        str(tiny_data / "tiny" / "cooldown-test" / "attn-only-2l" / "metrics.safetensors"))["icl_score"][-1]), abs=1e-6)
    assert not all(torch.equal(final[k], source[k]) for k in source)  # it trained


def test_model_options_default_to_the_committed_architecture():
    from induction_heads.engine.config import ModelConfig

    cfg = model_config("small", "attn-only-2l")
    assert not cfg.tied_embeddings and cfg.final_ln
    names = {n for n, _ in InductionLM(cfg).named_parameters()}
    assert {"unembed.weight", "ln_f.weight"} <= names
    assert ModelConfig.__dataclass_fields__["tied_embeddings"].default is False


def test_circuit_weights_fold_no_final_layernorm():
    """Without a final LayerNorm the direct path's unembedding is W_U itself (no centring)."""
    from dataclasses import replace

    from induction_heads.measure.circuits import CircuitWeights

    model = InductionLM(replace(model_config("tiny", "attn-only-2l"), final_ln=False)).eval()
    assert torch.equal(CircuitWeights.from_bridge(to_bridge(model)).W_U, model.W_U)
    with_ln = InductionLM(model_config("tiny", "attn-only-2l")).eval()
    assert not torch.allclose(CircuitWeights.from_bridge(to_bridge(with_ln)).W_U, with_ln.W_U)


def test_lr_schedules():
    from dataclasses import replace

    from induction_heads.engine.train import lr_at

    t = replace(config.train_config("tiny", "attn-only-2l"), total_steps=1000, warmup_steps=10, lr=1.0,
                schedule="wsd", decay_frac=0.2)
    assert lr_at(0, t) == pytest.approx(0.1) and lr_at(10, t) == 1.0 and lr_at(800, t) == 1.0
    assert lr_at(900, t) == pytest.approx(0.5) and lr_at(999, t) == pytest.approx(1 / 200)


def test_no_weight_decay_on_embeddings():
    from dataclasses import replace

    from induction_heads.engine.train import make_optimizer

    model = InductionLM(model_config("tiny", "attn-only-2l"))
    t = replace(config.train_config("tiny", "attn-only-2l"), weight_decay=0.1)
    decayed = lambda opt: {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}  # noqa: E731
    assert id(model.embed.weight) in decayed(make_optimizer(model, t))
    off = decayed(make_optimizer(model, replace(t, decay_embeddings=False)))
    assert id(model.embed.weight) not in off and id(model.unembed.weight) not in off
    assert id(model.blocks[0].attn.q.weight) in off


def test_repeated_windows_in_training_batches():
    from induction_heads.engine.dataset import with_repeated_windows

    batch = torch.arange(8 * 129).view(8, 129)
    assert torch.equal(with_repeated_windows(batch, 0, 1234, 0.0, 64), batch)
    out = with_repeated_windows(batch, 0, 1234, 1.0, 64)
    widths = []
    for row, orig in zip(out, batch):
        w = int((row[1:] == orig[0]).nonzero()[0]) + 1  # where the copy starts
        widths.append(w)
        assert torch.equal(row[:w], orig[:w]) and torch.equal(row[w : 2 * w], orig[:w])
        assert torch.equal(row[2 * w :], orig[w : 129 - w])
    assert min(widths) >= 16 and max(widths) <= 64 and len(set(widths)) > 1
    some = torch.stack([(with_repeated_windows(batch, s, 1234, 0.125, 64) != batch).any(1) for s in range(200)])
    assert 0.08 < some.float().mean() < 0.17  # about 1 sequence in 8
    assert torch.equal(with_repeated_windows(batch, 5, 1234, 0.5, 64), with_repeated_windows(batch, 5, 1234, 0.5, 64))


def test_smeared_hook_k_shows_smeared_keys():
    cfg = model_config("tiny", "smeared-1l")
    model = InductionLM(cfg).eval()
    with torch.no_grad():
        model.blocks[0].attn.k.smear_alpha.copy_(torch.tensor([-1.0, 2.0]))
    bridge = to_bridge(model)
    toks = torch.randint(0, cfg.d_vocab, (2, 10))
    with torch.no_grad():
        _, cache = bridge.run_with_cache(toks)
        x = model.blocks[0].ln1(model.embed(toks))
        raw = torch.nn.functional.linear(x, model.blocks[0].attn.k.weight, model.blocks[0].attn.k.bias)
    raw = raw.view(2, 10, cfg.n_heads, cfg.d_head)
    s = torch.sigmoid(torch.tensor([-1.0, 2.0]))[None, None, :, None]
    expected = torch.cat([raw[:, :1], s * raw[:, 1:] + (1 - s) * raw[:, :-1]], dim=1)
    assert torch.allclose(cache["k", 0], expected, atol=1e-6)
    assert not torch.allclose(cache["k", 0], raw, atol=1e-3)


def test_bridge_has_tokenizer_helpers(tiny_data):
    from induction_heads.engine.runs import load_tokenizer

    tok = load_tokenizer("tiny")
    bridge = to_bridge(InductionLM(model_config("tiny", "attn-only-1l")), tokenizer=tok)
    toks = bridge.to_tokens("def f(x):\n    return x")
    assert toks[0, 0].item() == 0  # BOS prepended
    assert "".join(bridge.to_str_tokens("def f(x):", prepend_bos=False)) == "def f(x):"


def test_sequence_longer_than_context_is_refused():
    cfg = ModelConfig(n_layers=1, d_model=8, n_heads=2, d_head=4, n_ctx=5, d_vocab=11)
    with pytest.raises(ValueError, match="exceeds n_ctx=5"):
        InductionLM(cfg)(torch.zeros(1, 6, dtype=torch.long))


# ---------------------------------------------------------------- trainer


def _read_run(path):
    from safetensors.torch import load_file

    metrics = load_file(str(path / "metrics.safetensors"))
    final = max((path / CHECKPOINTS).glob(CHECKPOINT_GLOB))
    return metrics, load_file(str(final)), json.loads((path / "info.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "torch.compile"])
def test_training_records_every_snapshot_and_resumes_bit_identically(tiny_data, tmp_path, compiled):
    from dataclasses import replace

    from induction_heads.engine.train import snapshot_steps, train

    t = replace(config.train_config("tiny", "attn-only-2l"), compile=compiled)
    whole = train("tiny", "attn-only-2l", out=tmp_path / "whole", progress=False, train_cfg=t)
    part = tmp_path / "killed"
    train("tiny", "attn-only-2l", out=part, progress=False, stop_after_step=47, train_cfg=t)
    assert (part / "resume.safetensors").exists() and not (part / "info.json").exists()
    train("tiny", "attn-only-2l", out=part, progress=False, train_cfg=t)
    assert not (part / "resume.safetensors").exists()

    m1, w1, info1 = _read_run(whole)
    m2, w2, info2 = _read_run(part)
    assert m1["step"].tolist() == snapshot_steps(t)
    cfg = model_config("tiny", "attn-only-2l")
    S = len(m1["step"])
    assert m1["loss_by_position"].shape == (S, cfg.n_ctx - 1)
    assert m1["per_token_loss"].shape == (S, t.n_eval_sequences)
    assert m1["prefix_matching"].shape == m1["previous_token"].shape == (S, cfg.n_layers, cfg.n_heads)
    assert m1["per_token_loss"][-1].mean() < m1["per_token_loss"][0].mean() - 1.0  # it learned
    for k in m1:
        if k != "elapsed_s":
            assert torch.allclose(m1[k], m2[k], rtol=0, atol=0, equal_nan=True), k  # bitwise
    assert w1.keys() == w2.keys() and all(torch.equal(w1[k], w2[k]) for k in w1)
    assert info1["checkpoints"] == info2["checkpoints"] and info1["finished"]
    assert {"versions", "git_commit", "hardware", "wall_time_s", "model_config", "seed"} <= set(info1)


def test_corrupt_checkpoint_gives_a_clear_error(tiny_data, tmp_path):
    from induction_heads.engine.store import RunStoreError, read_tensors

    bad = tmp_path / "half.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    with pytest.raises(RunStoreError, match="unreadable .*half.safetensors"):
        read_tensors(bad, "retrain it")


# ---------------------------------------------------------------- CLI


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "induction_heads", *args], capture_output=True, text=True)


def test_cli_help_lists_sizes_and_models():
    out = _cli("--help").stdout
    assert all(p in out for p in config.SIZES) and all(n in out for n in MODEL_NAMES)


@pytest.mark.parametrize(
    "args, msg",
    [
        (["train", "--size", "huge", "--model", "attn-only-1l"], "unknown size 'huge'; choose one of: tiny, small, base"),
        (["train", "--size", "tiny", "--model", "gpt2"], "unknown model 'gpt2'; choose one of: attn-only-1l"),
        (["zoo", "--size", "tiny", "--device", "tpu"], "unknown device 'tpu'; choose one of: cpu, cuda"),
        (["zoo", "--size", "tiny", "--jobs", "0"], "--jobs must be at least 1, got 0"),
    ],
)
def test_cli_rejects_bad_choices_with_one_line(args, msg):
    r = _cli(*args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and msg in r.stderr


@pytest.mark.slow
def test_cli_zoo_trains_in_parallel_workers(tiny_data, tmp_path):
    """`zoo --jobs 2` trains each model in its own process, like `train` would, and skips finished runs."""
    import json
    import os

    import shutil

    names = ["attn-only-1l", "smeared-1l"]
    # a fresh clone has no token cache: the scheduler builds it once before starting the workers
    # (two workers building it at once used to race on one temporary file and crash)
    root = tmp_path / "data"
    shutil.copytree(tiny_data, root)
    shutil.rmtree(root / "tiny" / "cache")
    tiny_data = root
    env = {**os.environ, "INDUCTION_HEADS_DATA": str(tiny_data)}
    cmd = [sys.executable, "-m", "induction_heads", "zoo", "--size", "tiny", "--jobs", "2", "--models", ",".join(names)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    for n in names:
        info = json.loads((tiny_data / "tiny" / RUNS_FOLDER / n / "info.json").read_text())
        assert info["finished"] and info["hardware"]["torch_threads"] == 1
        assert f"tiny/{n}: done" in r.stdout
        assert "train split" not in (tiny_data / "tiny" / RUNS_FOLDER / n / "train.log").read_text()
    assert sorted(f.name for f in (tiny_data / "tiny" / "cache").iterdir()) == ["train_tokens.npy"]
    mtime = (tiny_data / "tiny" / RUNS_FOLDER / names[0] / "metrics.safetensors").stat().st_mtime
    assert subprocess.run(cmd, capture_output=True, text=True, env=env).returncode == 0
    assert (tiny_data / "tiny" / RUNS_FOLDER / names[0] / "metrics.safetensors").stat().st_mtime == mtime


@pytest.mark.slow
@pytest.mark.parametrize("name", ["attn-only-2l-k-knockout", "attn-only-2l-no-prev-token",
                                  "attn-only-2l-clamped-induction", "attn-only-2l-warmup10x",
                                  "attn-only-2l-translation", "attn-only-2l-no-induction-target",
                                  "attn-only-2l-h1"])
def test_interventions_train_and_record(tiny_data, tmp_path, name):
    from dataclasses import asdict, replace

    from induction_heads.engine.train import train

    t = replace(config.train_config("tiny", name), total_steps=24, n_log_snapshots=3, n_dense_snapshots=2)
    run = train("tiny", name, out=tmp_path / name, progress=False, train_cfg=t)
    metrics, _, info = _read_run(run)
    assert info["finished"] and info["model_config"] == json.loads(json.dumps(asdict(model_config("tiny", name))))
    assert torch.isfinite(metrics["icl_score"]).all()
    if "clamped" in name:
        assert (metrics["prefix_matching"][:, 1, 0] > 0.99).all()  # from step 0


def test_translation_map_and_translated_windows():
    from induction_heads.engine.dataset import translation_map, with_repeated_windows, with_translated_windows

    m = translation_map(1024)
    assert m[0] == 0 and torch.equal(m[m], torch.arange(1024))  # a bijection, its own inverse
    assert (m[1:] != torch.arange(1, 1024)).sum() == 1022  # every token but one has a partner
    batch = torch.randint(1, 1024, (8, 129), generator=torch.Generator().manual_seed(0))
    out = with_translated_windows(batch, 3, 1234, 1.0, 64, m)
    widths = set()
    for row, orig in zip(out, batch):
        w = next(w for w in range(16, 65) if torch.equal(row[w : 2 * w], m[orig[:w]]))  # where the translation starts
        widths.add(w)
        assert torch.equal(row[:w], orig[:w]) and torch.equal(row[2 * w :], orig[w : 129 - w])
    assert len(widths) > 1  # no fixed offset marks the translation
    some = torch.stack([(with_translated_windows(batch, s, 1234, 0.05, 64, m) != batch).any(1) for s in range(400)])
    assert 0.03 < some.float().mean() < 0.08
    rep = torch.stack([(with_repeated_windows(batch, s, 1234, 0.5, 64) != batch).any(1) for s in range(50)])
    tra = torch.stack([(with_translated_windows(batch, s, 1234, 0.5, 64, m) != batch).any(1) for s in range(50)])
    assert not torch.equal(rep, tra)  # independent draws
    assert config.train_config("small", "attn-only-2l-translation").translate_frac > 0


def test_zoo_trains_the_core_first_then_the_rest_costliest_first():
    from induction_heads.cli import zoo_order
    from induction_heads.engine.config import CORE_MODELS, checkpoints_kept

    order = zoo_order(list(reversed(MODEL_NAMES)))
    assert set(order[: len(CORE_MODELS)]) == set(CORE_MODELS) and len(order) == len(set(MODEL_NAMES))
    assert order[:3] == ["mlp-3l", "mlp-2l", "attn-only-3l"]
    assert set(order[len(CORE_MODELS) - 2 : len(CORE_MODELS)]) == {"attn-only-1l", "smeared-1l"}
    rest = order[len(CORE_MODELS):]
    # 6 MLP layers first; 4 MLP layers cost as much as 2 layers of twice the width
    assert rest[0] == "attn-only-2l-long"  # ten times the steps: the costliest run of all
    assert [n for n in rest if "natural" not in n and "seed" not in n][1:5] == ["mlp-6l", "mlp-4l", "attn-only-2l-d256", "attn-only-6l"]
    earlier = [n for n in rest if n not in config.COPYING_MODELS + config.NO_INDUCTION_MODELS]
    assert rest.index("attn-only-4l") < rest.index("attn-only-2l-k-knockout") and earlier[-1] == "attn-only-2l-d64"
    assert rest[-1] == "attn-only-2l-cooldown"  # 4,800 steps: the cheapest run
    assert [checkpoints_kept("small", n) for n in ("mlp-3l", "mlp-4l", "attn-only-2l-k-knockout")] == [4, 1, 1]


def test_recipe_suffixes_natural_and_long():
    """``-natural`` trains on the corpus alone for three times the steps, snapshots dense from the
    short run's first dense step; ``-long`` ten times as long
    with the short run's dense snapshots at the same steps and its last step marked."""
    n = config.parse_model_name("attn-only-2l-k-knockout-natural-seed1")
    assert (n.variant, n.natural, n.long, n.seed, n.recipes) == ("k-knockout", True, False, 1, ("natural",))
    assert config.parse_model_name("attn-only-2l").recipes == ()
    base = config.train_config("small", "attn-only-2l")
    nat = config.train_config("small", "attn-only-2l-natural")
    assert nat.repeat_frac == 0 and base.repeat_frac > 0 and nat.total_steps == 3 * base.total_steps
    from induction_heads.engine.train import snapshot_steps

    nat_steps, first_dense = snapshot_steps(nat), int(base.dense[0] * base.total_steps)
    assert min(s for s in nat_steps if s >= first_dense) - first_dense <= 1  # dense from ~1M tokens, as the short run
    assert sum(2 * base.total_steps < s for s in nat_steps) >= 25  # a window ending after 49M tokens is resolved
    assert model_config("small", "attn-only-2l-natural") == model_config("small", "attn-only-2l")
    long = config.train_config("small", "attn-only-2l-long")
    assert long.total_steps == 10 * base.total_steps and long.marks == (base.total_steps,)
    assert long.repeat_frac == base.repeat_frac and long.data_seed == base.data_seed and long.lr == base.lr
    import numpy as np

    steps = snapshot_steps(long)
    lo, hi = (int(f * base.total_steps) for f in base.dense)
    dense = np.linspace(lo, hi, base.n_dense_snapshots).round().astype(int).tolist()
    assert set(dense) <= set(steps) and set(dense) <= set(snapshot_steps(base))  # the same dense steps
    assert base.total_steps in steps and steps[-1] == long.total_steps
    assert sum(s > base.total_steps for s in steps) >= 15  # the late regime is resolved on a log scale
    assert config.checkpoints_kept("small", "attn-only-2l-long") == 3
    assert base.tokens_seen(base.total_steps, 128) == 24_576_000
    for name in (config.NATURAL_MODELS + config.LONG_MODELS + config.SEED_MODELS + config.COPYING_MODELS
                 + config.NO_INDUCTION_MODELS):
        assert name in config.MODEL_NAMES and config.validate_model_name(name) == name
    with pytest.raises(ValueError, match="unknown model"):
        config.parse_model_name("attn-only-2l-long-natural")  # recipe suffixes have one order


def test_select_checkpoints_keeps_the_marks():
    from induction_heads.engine.train import select_checkpoints

    steps = list(range(0, 1001, 10))
    tokens = torch.tensor(steps, dtype=torch.float64) * 1000
    icl = -torch.sigmoid((torch.tensor(steps, dtype=torch.float64) - 200) / 20)  # a window near step 200
    keep = select_checkpoints(tokens, icl, steps, 3, marks=(500,))
    assert len(keep) == 3 and 500 in keep and keep[-1] == 1000 and keep[0] < 200
    assert select_checkpoints(tokens, icl, steps, 2, marks=(500,)) == [500, 1000]
