"""Chapter 05's kept measurements (book/argument4_kept.py): tensors survive JSON exactly, and a
model's readings are what the chapter's measurements compute."""

import json

import pytest
import torch

from induction_heads.book import argument4_kept
from induction_heads.book.argument4 import CopyingResult, passage_copying
from induction_heads.book.argument4_kept import from_plain, to_plain
from induction_heads.engine.runs import load_eval_set, load_tokenizer
from induction_heads.engine.zoo import Run


def test_tensors_survive_json_exactly():
    x = {"a": torch.tensor([0.1, 1 / 3, float("nan"), -2.5e-8], dtype=torch.float32),
         "b": (torch.arange(5), torch.tensor(True)), "c": None, "d": {1: "one"}, "e": 0.5}
    back = from_plain(json.loads(json.dumps(to_plain(x))))
    assert back["a"].dtype == torch.float32 and torch.equal(back["a"][[0, 1, 3]], x["a"][[0, 1, 3]])
    assert back["a"][2].isnan()
    assert back["b"][0].dtype == torch.int64 and torch.equal(back["b"][0], torch.arange(5))
    assert back["b"][1].dtype == torch.bool and bool(back["b"][1]) and back["b"][1].dim() == 0
    assert back["c"] is None and back["d"] == {"1": "one"} and back["e"] == 0.5
    with pytest.raises(TypeError, match="cannot keep a object"):
        to_plain(object())


def test_chapter_models_leave_out_one_layer_and_translation():
    names = ["attn-only-1l", "attn-only-2l", "attn-only-2l-translation", "mlp-3l", "attn-only-2l-seed1"]
    assert argument4_kept.chapter_models(names) == ["attn-only-2l", "mlp-3l", "attn-only-2l-seed1"]


def test_a_models_readings_are_the_chapters_measurements(tiny_zoo):
    run = Run("tiny", "attn-only-2l")
    r = argument4_kept.model_readings(run)
    tok, ev = load_tokenizer("tiny"), load_eval_set("tiny")[0]
    direct = passage_copying(run.bridge(), ev, tok.bos_token_id)
    assert isinstance(r["copying"], CopyingResult)
    assert torch.equal(r["copying"].loss_by_position, direct.loss_by_position)
    assert r["copying"].loss_per_copy == direct.loss_per_copy and r["copying"].share(r["focus"]) == direct.share(r["focus"])
    assert set(r["fuzzy"]) == {"literal", "case", "space", "camel", "indent"}
    assert r["lag"]["clean"].shape == r["lags"].shape and set(r["pattern"]) == {False, True}
