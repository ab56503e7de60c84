"""Known-answer tests of Argument 4's measurements: direct-path logit attribution
(attribution.py), the lag curve (recall.py), fuzzy prefix matching (fuzzy.py), the translation
score (translation.py) and pattern-matching scores (patterns.py)."""

import math

import pytest
import torch

from induction_heads.engine.config import model_config
from induction_heads.engine.model import InductionLM, to_bridge
from induction_heads.measure import attribution, fuzzy, patterns, recall, translation
from induction_heads.measure.handbuilt import G, V, attention_patterns, handbuilt_bridge, repeated_tokens
from induction_heads.measure.metrics import ideal_induction_pattern

torch.set_num_threads(1)


# -- direct-path attribution -------------------------------------------------------------------


def test_handbuilt_induction_head_carries_the_correct_logit():
    """Head 1.0 writes G x (attention on the right token) into the correct logit; nothing else
    reaches the unembedding. On the repeats it attends almost only to the right token."""
    tokens = repeated_tokens(n_sequences=2)
    p = attribution.direct_path_attribution(handbuilt_bridge(), tokens)
    assert torch.allclose(p.total(), p.logit, atol=1e-4)
    repeats = slice(26, None)  # positions predicting copies 2..4 but their first token (nothing to copy yet)
    expected = G * (1 - 1 / V)  # centring: G on the right token minus the mean G / V
    assert torch.allclose(p.heads[1, 0, :, repeats], torch.full_like(p.heads[1, 0, :, repeats], expected), atol=1e-3)
    assert p.heads[0].abs().max() < 1e-6 and p.heads[1, 1].abs().max() < 1e-6 and p.embed.abs().max() < 1e-6
    shares = attribution.head_shares(p, torch.arange(26, 100))
    assert shares["heads"][1, 0] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", ["attn-only-2l", "mlp-2l"])
def test_parts_sum_to_the_logits_through_the_final_layernorm(name):
    """With LayerNorm, MLPs and random weights the parts still add up to the model's own centred
    logit (the frozen final LayerNorm scale makes the decomposition exact)."""
    cfg = model_config("tiny", name)
    bridge = to_bridge(InductionLM(cfg).eval())
    tokens = torch.randint(1, cfg.d_vocab, (3, 40), generator=torch.Generator().manual_seed(0))
    p = attribution.direct_path_attribution(bridge, tokens)
    assert p.logit.shape == (3, 39) and p.heads.shape == (cfg.n_layers, cfg.n_heads, 3, 39)
    assert torch.allclose(p.total(), p.logit, atol=1e-4)
    assert (p.mlp.abs().max() > 0) == (not cfg.attn_only)
    targets = torch.randint(1, cfg.d_vocab, (3, 40), generator=torch.Generator().manual_seed(1))
    q = attribution.direct_path_attribution(bridge, tokens, targets)  # any target token, every position
    assert torch.allclose(q.total(), q.logit, atol=1e-4) and q.logit.shape == (3, 40)


# -- the lag curve -------------------------------------------------------------------------------


def test_recall_lists():
    toks, cue = recall.recall_lists(torch.arange(1, 30), n_lists=6, n_items=10, seed=3)
    assert toks.shape == (6, 12) and (toks[:, 0] == 0).all()
    assert all(len(set(r[1:11].tolist())) == 10 for r in toks)
    assert (toks[:, -1] == toks[torch.arange(6), 1 + cue]).all() and (cue < 9).all()
    with pytest.raises(ValueError, match="exceed the pool"):
        recall.recall_lists(torch.arange(5), n_items=10)


def test_lag_curve_of_the_handbuilt_circuit_peaks_at_plus_one():
    h = handbuilt_bridge()
    toks, cue = recall.recall_lists(torch.arange(1, V), n_lists=8, n_items=12)
    lags, curve = recall.lag_curve(recall.lag_probabilities(h(toks), toks, 12), cue)
    assert lags.tolist() == list(range(-11, 12))
    assert curve[lags == 1].item() > 0.99
    others = curve[(lags != 1) & ~curve.isnan()]
    assert others.max() < 0.01


def test_lag_curve_closed_form():
    probs = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    lags, curve = recall.lag_curve(probs, torch.tensor([0, 1]))
    assert lags.tolist() == [-2, -1, 0, 1, 2]
    assert math.isnan(curve[0]) and curve[1:].tolist() == pytest.approx([0.4, 0.3, 0.4, 0.3])


# -- fuzzy prefix matching -----------------------------------------------------------------------


def char_offsets(text):
    return [(i, i + 1) for i in range(len(text))]


def test_literal_repeat_aligns_to_the_literal_induction_targets():
    s = "ab(cd)=e"
    text = s + "\n" + s
    pairs = fuzzy.aligned_pairs(char_offsets(text), text, (0, len(s)), (len(s) + 1, len(text)))
    n = len(s) + 1
    assert pairs == [(n + i, i + 1) for i in range(len(s) - 1)]  # the token after the earlier occurrence


def test_camel_and_case_and_indent_align_by_significant_characters():
    text = "max_retry\nMaxRetry"
    pairs = dict(fuzzy.aligned_pairs(char_offsets(text), text, (0, 9), (10, 18)))
    assert pairs[10] == 1  # "M" -> the "a" after the earlier "m"
    assert pairs[12] == 4  # "x" -> "r" (the underscore is skipped)
    text = "a = b\n    a = b"
    pairs = dict(fuzzy.aligned_pairs(char_offsets(text), text, (0, 5), (6, 15)))
    assert pairs[10] == 2 and pairs[12] == 4  # "a" -> "=", "=" -> "b": the spaces are skipped
    assert pairs[9] == 0  # the new indentation points at the first occurrence's first token
    # multi-character tokens: "MAX_RETRY" vs "max_retry" tokenised differently
    text = "max_retry\nMAX_RETRY"
    offsets = [(0, 3), (3, 9), (9, 10), (10, 14), (14, 19)]  # max|_retry|\n|MAX_|RETRY
    assert fuzzy.aligned_pairs(offsets, text, (0, 9), (10, 19)) == [(3, 1)]


def test_pair_attention_and_the_shuffled_control():
    tokens = repeated_tokens(n_sequences=1, length=10, repeats=2)
    pattern = ideal_induction_pattern(tokens)[0][None]  # [head, q, k]
    pairs = [(11 + i, 2 + i) for i in range(9)]  # token i+1 of copy 2 -> the token after its copy-1 twin
    assert fuzzy.pair_attention(pattern, pairs).item() == pytest.approx(1.0)
    control = fuzzy.shuffled_pairs(pairs, list(range(1, 11)), seed=0)
    assert [q for q, _ in control] == [q for q, _ in pairs]
    assert fuzzy.pair_attention(pattern, control).item() < 0.5
    assert control == fuzzy.shuffled_pairs(pairs, list(range(1, 11)), seed=0)  # seeded
    assert fuzzy.pair_attention(pattern, []).isnan().all()


def test_bootstrap_ci():
    assert fuzzy.bootstrap_ci(torch.full((20,), 0.3)) == pytest.approx((0.3, 0.3, 0.3))
    v = torch.randn(400, generator=torch.Generator().manual_seed(0))
    mean, lo, hi = fuzzy.bootstrap_ci(v, seed=1)
    assert lo < mean < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.2)  # ~ the normal interval
    assert fuzzy.bootstrap_ci(v, seed=1) == (mean, lo, hi)


# -- the translation head ------------------------------------------------------------------------


def test_translation_score_known_answers():
    n = 10
    ids = torch.arange(1, n + 1)[None]
    identity = torch.arange(V)
    toks = translation.translated_windows(ids, identity, bos=0)
    assert toks.tolist() == [[0, *range(1, 11), *range(1, 11)]]
    pat = attention_patterns(handbuilt_bridge(), toks)  # identity map: a literal repeat
    score = translation.translation_score(pat, n, offset=1)
    assert score[1, 0] > 0.99 and score[0, 0] < 0.01  # induction head vs previous-token head
    # a different "language": the hand-built head only matches identical tokens, so it is no translation head
    swap = torch.arange(V)
    swap[1:11], swap[11:21] = torch.arange(11, 21), torch.arange(1, 11)
    pat = attention_patterns(handbuilt_bridge(), translation.translated_windows(ids, swap, bos=0))
    no_match = translation.translation_score(pat, n, offset=1)[1, 0].item()
    assert no_match == pytest.approx(translation.uniform_chance(n, offset=1), rel=0.1)  # finds no match: chance
    # uniform attention gives the chance level; the ideal translation pattern gives 1
    seq = 2 * n
    uniform = torch.tril(torch.ones(seq, seq)) / torch.arange(1, seq + 1)[:, None]
    assert translation.translation_score(uniform[None, None], n).item() == pytest.approx(translation.uniform_chance(n))
    ideal = torch.zeros(seq, seq)
    q, k = translation.translation_pairs(n)
    ideal[q, k] = 1
    assert translation.translation_score(ideal[None, None], n).item() == 1.0


# -- pattern matching ----------------------------------------------------------------------------


def test_label_accuracy_and_colon_share():
    labels = torch.tensor([5, 6, 7, 8])
    logits = torch.zeros(3, 10)
    logits[0, 5] = logits[1, 7] = logits[2, 9] = 1  # row 2's best token is no label: its best label is 5
    assert patterns.label_accuracy(logits, labels, torch.tensor([0, 2, 1])).item() == pytest.approx(2 / 3)
    colon = torch.tensor([4, 3])
    right = torch.tensor([[0, 1, 1, 0, 0], [1, 0, 0, 0, 0]]).bool()
    pattern = torch.zeros(2, 1, 5, 5)  # [batch, head, q, k]
    pattern[0, 0, 4, 1], pattern[0, 0, 4, 3] = 0.5, 0.5
    pattern[1, 0, 3, 0] = 1.0
    assert patterns.colon_attention_share(pattern, colon, right).tolist() == pytest.approx([0.75])
    assert patterns.colon_attention_share(pattern[None].repeat(3, 1, 1, 1, 1), colon, right).shape == (3, 1)
    uniform = torch.tril(torch.ones(5, 5)) / torch.arange(1, 6)[:, None]
    share = patterns.colon_attention_share(uniform.expand(2, 1, 5, 5), colon, right)
    assert share.item() == pytest.approx(patterns.chance_share(colon, right)) == pytest.approx((2 / 5 + 1 / 4) / 2)
