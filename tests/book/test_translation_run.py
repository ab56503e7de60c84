"""The translation section's plumbing end to end: a tiny ``attn-only-2l-translation`` trained here
(in a temporary data folder), then the chapter's translation analysis and the summary's
Argument 4 numbers read from it. Tiny models train for seconds and form no translation head, so
this checks shapes and ranges; the known answer of the score is in
tests/measure/test_abstract_measures.py (the hand-built circuit)."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.mark.slow
def test_tiny_translation_model_through_the_chapter_analyses(tiny_data):
    from induction_heads.book import argument4 as abstract
    from induction_heads.engine.dataset import translation_map
    from induction_heads.engine.runs import available_runs, load_eval_set
    from induction_heads.engine.train import train
    from induction_heads.engine.zoo import Run
    from induction_heads.measure.translation import uniform_chance

    name = "attn-only-2l-translation"
    train("tiny", name, progress=False)
    assert name in available_runs("tiny")
    run = Run("tiny", name)
    bridge, heads, final = abstract.bridge_and_heads(run)
    ev = load_eval_set("tiny")[0]
    r = abstract.translation_analysis(bridge, ev, translation_map(bridge.cfg.d_vocab), n_windows=4)
    assert r["score"].shape == final["prefix_matching"].shape
    assert ((r["score"] >= 0) & (r["score"] <= 1)).all() and r["chance"] == uniform_chance(64)
    s = abstract.argument4_summary(run, heads)
    assert s["translation_head_score"] == round(float(abstract.translation_analysis(
        bridge, ev, translation_map(bridge.cfg.d_vocab))["score"].max()), 4)
