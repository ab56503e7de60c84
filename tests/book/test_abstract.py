"""Chapter 05's analyses (book/argument4.py) on the hand-built circuit, whose answers are known,
and on the committed small tokenizer (the pattern task's structure)."""

import pytest
import torch

from induction_heads.book import argument4 as abstract
from induction_heads.measure.handbuilt import V, handbuilt_bridge

torch.set_num_threads(1)


def random_windows(n=6, length=25, seed=0):
    """Rows of distinct random tokens: each has one earlier occurrence to find in a repeat."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(V - 1, generator=g)[:length] + 1 for _ in range(n)])


def test_passage_copying_on_the_handbuilt_circuit():
    """Only head 1.0 writes into the logits, so it carries the whole gain of the second copy."""
    c = abstract.passage_copying(handbuilt_bridge(), random_windows(), bos=0, n_passages=6, length=20)
    assert c.tokens.shape == (6, 41) and c.loss_by_position.shape == (40,)
    assert c.loss_per_copy[1] < 0.01 < c.loss_per_copy[0]
    assert c.share(["1.0"]) == pytest.approx(1.0, abs=1e-4)
    assert c.share(["0.0", "0.1", "1.1"]) == pytest.approx(0.0, abs=1e-4)
    assert c.share(["1.0"], "logit") == pytest.approx(1.0, abs=1e-4)
    assert c.parts_gain["mlp"] == 0.0
    share = c.share_interval(["1.0"])  # every passage's gain is the head's: 1 with no width
    assert share.value == pytest.approx(1.0, abs=1e-4) and share.hi - share.lo == pytest.approx(0.0, abs=1e-4)
    both = c.share_interval(["1.0", "0.0"])
    assert both.value == pytest.approx(c.share(["1.0", "0.0"]), abs=1e-6) and both.lo <= both.value <= both.hi


def test_lag_curves_with_the_induction_head_ablated():
    lags, curves = abstract.lag_curves(handbuilt_bridge(), torch.arange(1, V), {"clean": [], "ablated": ["1.0"]}, bos=0,
                                       n_lists=8, n_items=10)
    assert abstract.peak_lag(lags, curves["clean"]) == 1 and abstract.at_lag(lags, curves["clean"]) > 0.99
    ablated = curves["ablated"][~curves["ablated"].isnan()]
    assert torch.allclose(ablated, torch.full_like(ablated, 1 / V), atol=1e-4)  # no logits left: uniform over V


def test_peak_lag_and_above():
    lags = torch.arange(-3, 4)
    curve = torch.tensor([float("nan"), 0.1, 0.2, 0.9, 0.3, 0.1, 0.5])
    assert abstract.peak_lag(lags, curve) == 3 and abstract.peak_lag(lags, curve, max_lag=2) == 1
    assert abstract.above((0.5, 0.4, 0.6), (0.2, 0.1, 0.39)) and not abstract.above((0.5, 0.4, 0.6), (0.2, 0.1, 0.41))


def test_translation_analysis_finds_the_handbuilt_head_on_a_literal_translation():
    r = abstract.translation_analysis(handbuilt_bridge(), random_windows(4), torch.arange(V), window=20, n_windows=4)
    assert r["best"] == "1.0" and r["score"][1, 0] > 0.9  # the identity map: translation = repeat
    assert r["chance"] < 0.1


def test_fuzzy_variants_and_examples():
    assert abstract._variant("case", "x = max_retry + 1") == "x = MAX_RETRY + 1"
    assert abstract._variant("camel", "max_retry = 1") == "MaxRetry = 1"
    assert abstract._variant("space", "a = f(b, c)") == "a=f(b,c)"
    assert abstract._variant("indent", "a\nb") == "    a\n    b"
    with pytest.raises(ValueError, match="choose one of"):
        abstract._variant("upside-down", "x")
    lines = ["    max_retry_count = 3", "    total = max_retry_count + 1", "x", "value = call(a, b, c)"]
    assert all("_" in s for s in abstract.fuzzy_examples(lines, "camel"))
    assert set(abstract.fuzzy_examples(lines, "space")) == {"total = max_retry_count + 1", "value = call(a, b, c)"}


def test_pattern_task_structure(tiny_zoo):
    from induction_heads.engine.runs import load_tokenizer

    tok = load_tokenizer("small")
    assert isinstance(abstract.pattern_task(load_tokenizer("tiny"), 0, novel=False), str)  # too few single tokens
    for novel in (False, True):
        t = abstract.pattern_task(tok, tok.bos_token_id, novel, n_examples=16, seed=1)
        n, seq = t["tokens"].shape
        assert seq == 1 + 8 * 5 + 3 and (t["colon"] == seq - 1).all()
        assert (t["right"].sum(1) == 2 * 4).all()  # two demonstration lines of the query's template, 4 tokens each
        for row, right, ans in zip(t["tokens"], t["right"], t["answer"]):
            lines = row[1:-3].view(8, 5)
            same = lines[lines[:, 3] == t["labels"][ans]]
            assert len(same) == 2 and right[1:-3].view(8, 5)[:, :4].any(1).sum() == 2
            query = row[-3:-1]
            if novel:  # neither item appears in any demonstration
                assert not (lines[:, 0] == query[0]).any() and not (lines[:, 1] == query[1]).any()
            else:  # the query repeats a demonstration of its own template
                assert ((lines[:, :2] == query).all(1) & (lines[:, 3] == t["labels"][ans])).any()
