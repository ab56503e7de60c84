"""Known-answer tests of the per-model measurements (metrics.py) and the head classes (heads.py).

The hand-built model (measure/handbuilt.py) has an exact previous-token head 0.0, a uniform head
0.1, an exact induction head 1.0 and a random head 1.1.
"""

import math

import pytest
import torch
from induction_heads.measure.handbuilt import handbuilt_bridge, repeated_tokens

from induction_heads.measure.heads import THRESHOLDS, classify_heads, head_labels, head_mask, induction_heads, previous_token_heads
from induction_heads.measure.metrics import icl_score, per_token_losses, prefix_matching_score, previous_token_score

torch.set_num_threads(1)


def patterns(bridge, tokens):
    _, cache = bridge.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    return torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"] for layer in range(bridge.cfg.n_layers)])


def uniform_prefix_score(length=25, repeats=4):
    """Closed form for uniform causal attention on BOS + ``length`` x ``repeats``: a token at
    position p of repeat r (r >= 2) has r - 1 targets, each with attention 1/(p + 1)."""
    scores = [(r - 1) / (1 + length * (r - 1) + m + 1) for r in range(2, repeats + 1) for m in range(length)]
    return sum(scores) / len(scores)


def test_per_token_losses_known_answers():
    tokens = torch.tensor([[1, 2, 3, 0]])
    assert torch.allclose(per_token_losses(torch.zeros(1, 4, 5), tokens), torch.full((1, 3), math.log(5)))
    sure = torch.full((1, 4, 5), -1e4)
    sure[0, torch.arange(3), tokens[0, 1:]] = 1e4  # certain and right
    assert per_token_losses(sure, tokens).abs().max() < 1e-6


def test_icl_score_sign():
    falling = torch.linspace(5, 3, 127)  # loss falls along the context: ICL present
    assert icl_score(falling) < 0
    assert icl_score(torch.full((127,), 4.0)) == 0


def test_handbuilt_prefix_matching_and_previous_token():
    tokens = repeated_tokens()
    pat = patterns(handbuilt_bridge(), tokens)
    prefix, prev = prefix_matching_score(pat, tokens), previous_token_score(pat)
    assert prefix[1, 0] == pytest.approx(1.0, abs=1e-6)  # exact induction head
    assert prefix[0, 0] < 1e-6  # exact previous-token head never lands on a target
    assert prev[0, 0] == pytest.approx(1.0, abs=1e-6)
    # head 0.1 attends uniformly (W_Q = W_K = 0): closed form, exact up to float error
    assert prefix[0, 1] == pytest.approx(uniform_prefix_score(), abs=1e-5)


def test_uniform_pattern_closed_form():
    tokens = repeated_tokens(n_sequences=3)
    n = tokens.shape[1]
    uniform = torch.ones(n, n).tril()
    uniform = (uniform / uniform.sum(-1, keepdim=True)).expand(1, 3, 1, n, n)
    assert prefix_matching_score(uniform, tokens).item() == pytest.approx(uniform_prefix_score(), abs=1e-6)
    harmonic = sum(1 / (i + 1) for i in range(1, n)) / (n - 1)  # mean of 1/(i+1) over i >= 1
    assert previous_token_score(uniform).item() == pytest.approx(harmonic, abs=1e-6)


def test_agrees_with_transformer_lens_head_detector():
    """TransformerLens' "mul" detector sums the attention on the targets over *all* query rows
    and divides by the number of rows; ours averages over the rows that have a target (the
    paper's evaluator, so a perfect induction head scores 1, not 75/101). So
    TL = ours * (rows with a target) / rows, exactly, for any pattern."""
    from transformer_lens.head_detector import (
        compute_head_attention_similarity_score,
        get_induction_head_detection_pattern,
        get_previous_token_head_detection_pattern,
    )

    from induction_heads.engine.config import model_config
    from induction_heads.engine.model import InductionLM, to_bridge

    bridge = to_bridge(InductionLM(model_config("tiny", "attn-only-2l")))
    tokens = repeated_tokens(n_sequences=1)  # token ids < V fit the tiny vocabulary
    pat = patterns(bridge, tokens)
    ours_prefix, ours_prev = prefix_matching_score(pat, tokens), previous_token_score(pat)
    n = tokens.shape[1]
    induction_rows = n - 26  # BOS and the first repeat have no earlier occurrence
    for layer in range(2):
        for head in range(2):
            kw = dict(exclude_bos=False, exclude_current_token=False, error_measure="mul")
            tl_ind = compute_head_attention_similarity_score(
                pat[layer, 0, head], get_induction_head_detection_pattern(tokens[0]), **kw)
            tl_prev = compute_head_attention_similarity_score(
                pat[layer, 0, head], get_previous_token_head_detection_pattern(tokens[0]), **kw)
            assert tl_ind == pytest.approx(ours_prefix[layer, head].item() * induction_rows / n, abs=1e-5)
            assert tl_prev == pytest.approx(ours_prev[layer, head].item() * (n - 1) / n, abs=1e-5)


def test_head_classes():
    prefix = torch.tensor([[0.02, 0.05], [0.9, 0.8]])
    copying = torch.tensor([[-0.9, -0.5], [0.6, -0.9]])  # 1.1 prefix-matches but copies at chance
    prev = torch.tensor([[0.95, 0.1], [0.01, 0.02]])
    assert head_labels(2, 2) == ["0.0", "0.1", "1.0", "1.1"]
    assert classify_heads(prefix, copying, prev) == ["previous-token", "other", "induction", "other"]
    assert induction_heads(prefix, copying) == ["1.0"]
    assert previous_token_heads(prev) == ["0.0"]
    assert THRESHOLDS.copying == pytest.approx(2 / 25 - 1 + 0.25)
    assert head_mask(["1.0", (0, 1)], 2, 2).tolist() == [[False, True], [True, False]]
    with pytest.raises(ValueError, match="outside"):
        head_mask(["2.0"], 2, 2)


def test_handbuilt_heads_classified():
    from induction_heads.measure.circuits import copying_score

    bridge = handbuilt_bridge()
    tokens = repeated_tokens()
    pat = patterns(bridge, tokens)
    labels = classify_heads(prefix_matching_score(pat, tokens), copying_score(bridge, repeated_tokens(bos=False)),
                            previous_token_score(pat))
    assert labels == ["previous-token", "other", "induction", "other"]


def test_ideal_induction_pattern():
    """Uniform over the tokens after earlier occurrences; position 0 where there is none."""
    from induction_heads.measure.metrics import ideal_induction_pattern

    toks = torch.tensor([[5, 7, 5, 9, 5, 3]])
    p = ideal_induction_pattern(toks)[0]
    assert torch.allclose(p.sum(-1), torch.ones(6))
    assert p[2].tolist() == [0, 1, 0, 0, 0, 0]  # 5 occurred at 0: attend to 1
    assert p[4].tolist() == [0, 0.5, 0, 0.5, 0, 0]  # 5 at 0 and 2: attend to 1 and 3
    assert p[1].tolist() == [1, 0, 0, 0, 0, 0] and p[5].tolist() == [1, 0, 0, 0, 0, 0]  # no earlier 7 or 3
    assert torch.equal(p, p.tril())
