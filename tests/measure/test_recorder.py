"""The recorder computes exactly what the measurement functions compute, on fewer positions."""

import pytest
import torch

from induction_heads.engine.config import model_config
from induction_heads.engine.model import InductionLM, to_bridge
from induction_heads.measure.ablation import delta_icl, single_head_ablations
from induction_heads.measure.phase import per_token_loss_vector
from induction_heads.measure.recorder import ABLATION_KEYS, RECORDED_KEYS, Recorder


def _recorder_and_model(n_ablation_sequences: int):
    cfg = model_config("tiny", "attn-only-2l")
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, cfg.d_vocab, (32, cfg.n_ctx), generator=g)
    positions = torch.randint(0, cfg.n_ctx - 1, (32,), generator=g)
    rec = Recorder(tokens, positions, torch.arange(50, cfg.d_vocab), to_bridge, eval_batch_size=16,
                   n_ablation_sequences=n_ablation_sequences)
    model = InductionLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3)) * 0.1)
    return rec, model


def test_recorder_returns_every_key_with_its_shape():
    rec, model = _recorder_and_model(8)
    out = rec(model)
    assert tuple(out) == rec.keys == RECORDED_KEYS + ABLATION_KEYS
    L, H = model.cfg.n_layers, model.cfg.n_heads
    assert out["loss_by_position"].shape == (model.cfg.n_ctx - 1,) and out["per_token_loss"].shape == (32,)
    assert all(out[k].shape == (L, H) for k in ("prefix_matching", "previous_token", "copying", "ablation_delta_icl"))
    assert out["ablation_per_token_loss"].shape == (L, H, 8)
    assert out["repeat_top1"].shape == out["repeat_loss"].shape == (4,) and out["passage_top1"].shape == (2,)
    from induction_heads.measure.repeats import repeat_test

    direct = repeat_test(model, rec.passages, (rec.passages.shape[1] - 1) // 2)
    assert torch.allclose(out["passage_loss"], direct["loss"], atol=1e-6)  # a mean of per-sequence means


def test_recorder_ablations_equal_the_full_computation():
    """The recorder unembeds only the positions ΔICL and the per-token-loss vector need."""
    rec, model = _recorder_and_model(16)
    bridge = to_bridge(model)
    clean = rec.eval_losses(model)[:16]
    fast = rec.ablations(bridge, clean)
    full = single_head_ablations(bridge, rec.tokens[:16])
    assert torch.allclose(fast["ablation_delta_icl"], delta_icl(full, clean), atol=1e-5)
    assert torch.allclose(fast["ablation_per_token_loss"], per_token_loss_vector(full, rec.positions[:16]), atol=1e-5)
    assert fast["ablation_delta_icl"].abs().max() > 1e-3  # the check is not vacuous


def test_recorder_leaves_the_model_in_the_mode_it_found():
    rec, model = _recorder_and_model(0)
    model.train()
    rec(model)
    assert model.training
    assert rec.keys == RECORDED_KEYS


def test_recorder_has_no_k_composition_trace_where_keys_read_the_embedding():
    from induction_heads.engine.config import model_config as mc

    rec, _ = _recorder_and_model(0)
    model = InductionLM(mc("tiny", "attn-only-2l-k-knockout")).eval()
    trace = rec(model)["k_composition_trace"]
    assert torch.isnan(trace[1]).all()


def test_a_behaviour_only_recorder_records_the_same_behaviour():
    from induction_heads.measure.recorder import BEHAVIOUR_KEYS

    rec, model = _recorder_and_model(8)
    light = Recorder(rec.tokens, rec.positions, torch.arange(50, model.cfg.d_vocab), to_bridge, 16,
                     n_ablation_sequences=8, circuits=False)
    full, fast = rec(model), light(model)
    assert tuple(fast) == light.keys == BEHAVIOUR_KEYS
    assert all(torch.equal(full[k], fast[k]) for k in BEHAVIOUR_KEYS)


def test_per_sequence_records_average_to_the_aggregates():
    """The per-sequence samples a bootstrap resamples: their means are the recorded aggregates."""
    rec, model = _recorder_and_model(0)
    out = rec(model)
    assert out["icl_score_by_sequence"].shape == (32,)
    assert torch.allclose(out["icl_score_by_sequence"].mean(), out["icl_score"], atol=1e-6)
    assert out["repeat_top1_by_sequence"].shape == (len(rec.random_repeats), 4)
    assert out["passage_loss_by_sequence"].shape == (len(rec.passages), 2)
    for k in ("repeat_top1", "repeat_loss", "passage_top1", "passage_loss"):
        assert torch.allclose(out[f"{k}_by_sequence"].mean(0), out[k], atol=1e-6)
    assert out["icl_score_by_sequence"].std() > 0  # samples differ: not a broadcast aggregate


def test_copied_logit_on_the_handbuilt_circuit():
    """Known answer: the hand-built model's logits are its induction head's (1.0) direct output
    alone, so on the copies that head carries the whole copied logit and the direct path none."""
    from induction_heads.measure.handbuilt import V, handbuilt_bridge, repeated_tokens

    rec = Recorder(torch.randint(1, V, (4, 20)), torch.zeros(4, dtype=torch.long), torch.arange(1, V), to_bridge)
    rec.random_repeats, rec.repeat_length = repeated_tokens(), 25
    out = rec.copied_logit(handbuilt_bridge())
    heads = out["copied_logit_heads"]
    assert float(out["copied_logit"]) > 8  # G = 10, less the centring's 10 / V and the attention's leak
    assert float(heads[1, 0]) == pytest.approx(float(out["copied_logit"]), abs=1e-4)
    assert float(heads.abs().sum() - heads[1, 0].abs()) < 1e-4 and abs(float(out["copied_logit_direct"])) < 1e-4
