"""Argument 6's online path (book/pythia.py), offline: tiny GPT-NeoX models (Pythia's
architecture) built here and saved with ``save_pretrained`` as local revisions ``step<N>``,
read through TransformerLens exactly as the Hub's checkpoints are."""

from __future__ import annotations

import pytest
import torch

from induction_heads.book import ParameterError, pretrained, pythia

torch.set_num_threads(1)

TEXT = "def tally(ledger, limit):\n    total = 0\n    for entry in ledger:\n        total += entry\n    return total\n"


def uniform_prefix_score(length: int = 25, repeats: int = 4) -> float:
    """Prefix matching of uniform causal attention on BOS + ``length`` x ``repeats`` (closed form,
    as in tests/measure/test_metrics.py)."""
    scores = [(r - 1) / (1 + length * (r - 1) + m + 1) for r in range(2, repeats + 1) for m in range(length)]
    return sum(scores) / len(scores)


@pytest.fixture(scope="module")
def revisions(tmp_path_factory):
    """``step0``: queries and keys zeroed, so every head attends uniformly; ``step100``: random,
    queries and keys scaled up so that attention is far from uniform."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("pythia-tiny")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator([TEXT * 4], trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                     pad_token="<|endoftext|>")
    config = GPTNeoXConfig(vocab_size=len(hf_tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=128, bos_token_id=0, eos_token_id=0)
    for step in (100, 0):
        torch.manual_seed(step)
        model = GPTNeoXForCausalLM(config)
        with torch.no_grad():
            for layer in model.gpt_neox.layers:
                qkv = layer.attention.query_key_value  # rows: per head, [q | k | v] of head_size each
                qkv.weight.view(2, 3, 16, 32)[:, :2] *= 0 if step == 0 else 30
                qkv.bias.view(2, 3, 16)[:, :2] *= 0 if step == 0 else 30
        model.save_pretrained(root / f"step{step}")
        hf_tok.save_pretrained(root / f"step{step}")
    return str(root)


def test_validate_pythia(revisions):
    assert pythia.validate_pythia("") == ()
    assert pythia.validate_pythia("70m, EleutherAI/pythia-160m") == ("EleutherAI/pythia-70m", "EleutherAI/pythia-160m")
    assert pythia.validate_pythia(revisions) == (revisions,)
    with pytest.raises(ParameterError) as e:
        pythia.validate_pythia("gpt2")
    assert "\n" not in str(e.value) and "14m, 70m" in str(e.value)
    assert e.value._render_traceback_() == [f"ParameterError: {e.value}"]
    with pytest.raises(ParameterError):
        pythia.validate_pythia(True)


def test_scores_over_local_revisions(revisions):
    assert pythia.checkpoint_steps(revisions) == [0, 100]
    out = pythia.scores_over_training(revisions, [TEXT * 20], length=128, n_windows=2)
    assert out["step"].tolist() == [0, 100]
    assert out["tokens"].tolist() == [0.0, 100 * 1024 * 2048]
    assert out["prefix_matching"].shape == (2, 2, 2)
    assert out["prefix_matching"][0].flatten().tolist() == pytest.approx([uniform_prefix_score()] * 4, abs=1e-5)
    assert (out["prefix_matching"][1] - uniform_prefix_score()).abs().max() > 0.01  # the test tells them apart
    assert out["icl_score"].shape == (2,) and torch.isfinite(out["icl_score"]).all()


def test_a_missing_revision_is_one_line(revisions):
    with pytest.raises(ParameterError, match="has no revision step5; it has: step0, step100"):
        pythia.load_checkpoint(revisions, 5)


def test_without_network_a_hub_model_stops_with_one_line(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(pretrained, "hub_reachable", lambda *a, **k: False)
    with pytest.raises(pythia.PythiaUnavailable) as e:
        pythia.load_checkpoint("EleutherAI/pythia-14m", 1000)
    assert "no network" in str(e.value) and "\n" not in str(e.value)
