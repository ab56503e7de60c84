"""The online path (book/pretrained.py), offline: tiny GPT-2 and GPT-NeoX models built here from
a config, with the tiny size's tokenizer, saved with ``save_pretrained`` and loaded back through
TransformerLens exactly as a Hub model would be. No mock: the real loader and analyses run."""

import pytest
import torch

from induction_heads.book import pretrained
from induction_heads.book.chapter import ParameterError

torch.set_num_threads(1)


@pytest.fixture(params=["gpt2", "neox"])
def saved_model(request, tiny_zoo, tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM

    from induction_heads.engine.runs import load_tokenizer

    tok = load_tokenizer("tiny")
    bos = tok.bos_token_id
    torch.manual_seed(0)
    if request.param == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                                           bos_token_id=bos, eos_token_id=bos))
    else:
        model = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=len(tok), max_position_embeddings=256, hidden_size=32,
                                                 num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                                 bos_token_id=bos, eos_token_id=bos))
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    return str(tmp_path)


def test_validate_pretrained():
    assert pretrained.validate_pretrained("") == ""
    assert pretrained.validate_pretrained("gpt2") == "gpt2"
    with pytest.raises(ParameterError) as e:
        pretrained.validate_pretrained("gpt5-huge")
    msg = str(e.value)
    assert "\n" not in msg and "gpt2" in msg and "EleutherAI/pythia-70m" in msg and "'gpt5-huge'" in msg


def test_hub_model_with_the_hub_unreachable_stops_before_loading(monkeypatch):
    """Without HF_HUB_OFFLINE the loader asks whether the Hub answers before it tries (no long
    retries in a notebook), and says how to use a cached copy."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(pretrained, "hub_reachable", lambda *a, **k: False)
    with pytest.raises(pretrained.PretrainedUnavailable) as e:
        pretrained.load_pretrained("gpt2")
    msg = str(e.value)
    assert "\n" not in msg and "no network" in msg and "HF_HUB_OFFLINE=1" in msg and "gpt2" in msg


def test_hub_model_without_network_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        pretrained.load_pretrained("EleutherAI/pythia-410m")
    except pretrained.PretrainedUnavailable as e:
        assert "\n" not in str(e) and "pythia-410m" in str(e) and "no network" in str(e)
    else:
        pytest.skip("EleutherAI/pythia-410m is in the Hugging Face cache here")


def test_saved_model_runs_the_argument4_analyses(saved_model, tiny_zoo):
    from induction_heads.book import argument4 as abstract
    from induction_heads.engine.runs import load_eval_set, load_tokenizer
    from induction_heads.measure.attribution import direct_path_attribution

    bridge, tok = pretrained.load_pretrained(saved_model)
    x = torch.randint(1, 500, (2, 30), generator=torch.Generator().manual_seed(0))
    p = direct_path_attribution(bridge, x)
    assert torch.allclose(p.total(), p.logit, atol=1e-4)  # exact through the HF model's final LayerNorm too
    scores = pretrained.head_scores(bridge, tok, n_sequences=2)
    assert scores["prefix_matching"].shape == scores["copying"].shape == (2, 2)
    texts = abstract.eval_texts(load_tokenizer("tiny"), load_eval_set("tiny")[0][:8])
    report = pretrained.argument4_report(bridge, tok, abstract.code_lines(texts), texts, n_passages=4, length=31)
    assert {"induction_heads", "max_prefix_matching", "pattern_accuracy_exact", "pattern_accuracy_novel"} <= set(report)
    assert isinstance(report["pattern_accuracy_exact"], str)  # the tiny tokenizer cannot express the task: one line
    forced = pretrained.argument4_report(bridge, tok, abstract.code_lines(texts), texts, n_passages=4, length=31, heads=["1.0"])
    assert forced["induction_heads"] == ["1.0"]
    assert all(isinstance(forced[k], float) for k in ("loss_copy_1", "loss_copy_2", "copying_gain_share", "fuzzy_literal"))
