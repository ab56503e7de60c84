"""Chapter-level analyses and the summary, on hand-made metrics and on the tiny zoo."""

from __future__ import annotations

import math

import pytest
import torch

from induction_heads.book import argument1, argument2, argument3, argument5, tables
from induction_heads.engine.zoo import Run, Trajectory, Zoo
from induction_heads.measure.phase import PhaseWindow


def test_first_crossing():
    tokens = torch.tensor([0.0, 10, 20, 30])
    assert argument1.first_crossing(tokens, torch.tensor([0.0, 0.2, 0.6, 0.4]), 0.5) == 20.0
    assert argument1.first_crossing(tokens, torch.tensor([0.0, 0.2, 0.3, 0.4]), 0.5) is None


def test_before_after_over_training_is_the_projection_on_the_phase_change():
    # 4 snapshots, 1 layer x 2 heads, 3 examples. The clean per-token loss moves from
    # [3, 3, 3] (before the window) to [3, 1, 3] (after): u = -e_1.
    clean = torch.tensor([[3.0, 3, 3], [3, 3, 3], [3, 2, 3], [3, 1, 3]])
    ablated = clean[:, None, None, :].repeat(1, 1, 2, 1)
    ablated[:, 0, 0, 1] += 2.0  # head 0.0 raises example 1's loss by 2: undoes the phase change
    ablated[:, 0, 1, 0] += 5.0  # head 0.1 changes an example the phase change did not touch
    m = {"tokens": torch.tensor([10.0, 100, 1000, 10000]), "per_token_loss": clean, "ablation_per_token_loss": ablated}
    proj = argument3.before_after_over_training(m, PhaseWindow(start=150.0, end=5000.0, peak=1000.0))
    assert proj.shape == (4, 1, 2)
    assert torch.allclose(proj[:, 0, 0], torch.full((4,), -2.0))
    assert torch.allclose(proj[:, 0, 1], torch.zeros(4))


def test_windows_find_a_synthetic_phase_change_and_not_a_flat_curve():
    tokens = torch.logspace(4, 7, 60)
    step = -0.5 / (1 + torch.exp(-(torch.log(tokens) - math.log(1e6)) * 4))
    runs = {"jump": {"tokens": tokens, "icl_score": step - 0.1}, "flat": {"tokens": tokens, "icl_score": torch.full((60,), -0.1)}}
    w = argument1.windows(runs)
    assert w["flat"] is None
    assert w["jump"] is not None and w["jump"].start < 1e6 < w["jump"].end


def test_tiny_zoo_analyses(tiny_zoo):
    zoo = Zoo.load("tiny", ["attn-only-2l", "no-such-model-1l"])
    assert list(zoo) == ["attn-only-2l"]
    run = zoo["attn-only-2l"]
    m = run.trajectory
    classes = argument3.final_head_classes(m)
    assert len(classes) == m["prefix_matching"][-1].numel()
    first, last = run.checkpoint_before(0.0), run.checkpoint_after(1e12)
    assert first < last
    toks, losses = argument1.text_losses(run, last, argument1.CODE_SNIPPET)
    assert len(toks) == losses.shape[0] <= 127 and torch.isfinite(losses).all()
    both = argument3.full_vs_pattern_preserving(run, n_sequences=8)
    assert both.shape == (2, 2, 2)
    assert torch.allclose(both[0, -1], both[1, -1], atol=1e-5)  # last layer: the two agree
    r = argument3.induction_ablation(run, ["1.0"], n_sequences=8)
    assert r["delta_icl_together"] == pytest.approx(r["delta_icl_sum_of_singles"])  # one head: same


def test_summary_fields_and_tables(tiny_zoo):
    from induction_heads.book.summary import summary

    rows = summary("tiny")
    need = {"layers", "attn_only", "smeared_key", "tokens_trained", "icl_score_final", "icl_score_before_window",
            "phase_change_window", "icl_share_in_window", "max_prefix_matching_score", "induction_heads",
            "loss_bump", "ablation_icl_fraction_removed", "repeat_top1", "passage_top1_second_copy"}
    assert all(need <= set(r) for r in rows.values())
    assert all(0 <= r["repeat_top1"] <= 1 and 0 <= r["passage_top1_second_copy"] <= 1 for r in rows.values())
    text = repr(tables.paper_vs_ours(rows))
    assert "fraction of final ICL gained in the window" in text and "> 0.75" in text
    deep = [r["repeat_top1"] for n, r in rows.items()
            if r["layers"] >= 2 and not r["smeared_key"] and n in set(argument1.plain(rows))]
    assert "top-1 on repeated random tokens (copies 2-4)" in text and f"{min(deep):.2f}" in text
    assert len(repr(tables.summary_table(rows)).splitlines()) == len(rows) + 2


def test_final_repeat_test_reads_the_recorder_or_measures_the_checkpoint(tiny_zoo):
    """The two sources agree: the recorder's last snapshot is the final checkpoint."""
    from induction_heads.book.summary import final_repeat_test
    from induction_heads.engine.config import train_config
    from induction_heads.engine.runs import load_metrics, load_model
    from induction_heads.engine.train import make_recorder

    scores = make_recorder("tiny", train_config("tiny", "attn-only-2l")).repeat_scores(load_model("tiny", "attn-only-2l"))
    recorded = {k: v[None] for k, v in scores.items()}
    metrics = {k: v for k, v in load_metrics("tiny", "attn-only-2l").items() if not k.startswith(("repeat", "passage"))}
    run = Run("tiny", "attn-only-2l")
    assert final_repeat_test(run, Trajectory(recorded)) == final_repeat_test(run, Trajectory(metrics))


def test_repeat_profiles_of_the_tiny_zoo(tiny_zoo):
    """Per-copy numbers agree with the per-position losses they summarise."""
    from induction_heads.book.figures import repeat_loss_profiles

    prof = argument5.repeat_profiles(Zoo.load("tiny", ["attn-only-2l"]), length=10, repeats=3, n_sequences=4)["attn-only-2l"]
    assert prof["loss_by_position"].shape == (30,) and prof["loss"].shape == prof["top1"].shape == (3,)
    copy1 = prof["loss_by_position"][11:20].mean()  # predicting the second copy's tokens 2..10 (BOS first)
    assert torch.allclose(prof["loss"][1], copy1)
    drop = argument5.later_copy_drop(prof)  # its mean is the per-copy numbers' difference
    assert drop.value == pytest.approx(float(prof["loss"][0] - prof["loss"][1:].mean()), abs=1e-5)
    assert drop.lo <= drop.value <= drop.hi
    same = argument5.later_copy_drop({"loss_by_sequence": torch.tensor([[3.0, 1.0, 2.0]] * 4)})
    assert (same.value, same.lo, same.hi) == (1.5, 1.5, 1.5)  # every sequence alike: no width
    fig = repeat_loss_profiles({"attn-only-2l": prof["loss_by_position"]}, 10, prof["loss_by_position"], 10)
    assert len(fig.axes) == 2


def test_model_summary_has_argument4_numbers(tiny_zoo):
    from induction_heads.book.summary import model_summary

    r = model_summary(Run("tiny", "attn-only-2l"), with_ablation=False)
    a4 = r["argument4"]
    assert set(a4) == {"copying_gain_share", "copying_logit_share", "fuzzy_score", "literal_score", "translation_head_score",
                       "translation_chance", "pattern_accuracy_exact", "pattern_accuracy_novel"}
    assert a4["translation_head_score"] is None  # not the -translation variant
    assert a4["pattern_accuracy_exact"] is None  # the tiny tokenizer cannot express the pattern task
    if r["induction_heads"]:
        assert 0 <= a4["fuzzy_score"] <= 1 and 0 <= a4["literal_score"] <= 1 and math.isfinite(a4["copying_gain_share"])
    assert "argument4" not in model_summary(Run("tiny", "attn-only-2l"), with_ablation=False, with_argument4=False)


def test_model_summary_has_argument6_numbers(tiny_zoo):
    """The ladder's columns: tiny's attn-only-2l is a rung of two layers at the size's width, with
    4 x d_model x (heads x d_head) non-embedding parameters a layer, and its induction heads per
    layer add up to the summary's list."""
    from induction_heads.book.summary import model_summary
    from induction_heads.engine.config import get_size, model_config

    r = model_summary(Run("tiny", "attn-only-2l"), with_ablation=False, with_argument4=False)
    a6, c = r["argument6"], model_config("tiny", "attn-only-2l")
    assert a6["rung"] and a6["d_model"] == get_size("tiny").d_model == c.d_model
    assert a6["non_embedding_params"] == 2 * 4 * c.d_model * c.n_heads * c.d_head
    assert (a6["batch_size"], a6["n_ctx"]) == (get_size("tiny").train.batch_size, get_size("tiny").n_ctx)
    assert len(a6["induction_heads_by_layer"]) == 2 and sum(a6["induction_heads_by_layer"]) == len(r["induction_heads"])


def test_paper_vs_ours_leaves_the_interventions_out():
    row = {"layers": 2, "attn_only": True, "smeared_key": False, "icl_score_final": -0.7, "icl_score_before_window": 0.0,
           "icl_share_in_window": 0.8, "phase_change_window": {"start": 1e6, "end": 5e6},
           "max_prefix_matching_score": 0.7, "loss_bump": True, "ablation_icl_fraction_removed": 1.0}
    knocked = {**row, "max_prefix_matching_score": 0.03, "phase_change_window": None, "icl_share_in_window": None}
    text = repr(tables.paper_vs_ours({"attn-only-2l": row, "attn-only-2l-k-knockout": knocked}))
    assert "0.03" not in text and "0.70" in text


def test_window_text_reads_millions_of_tokens_or_none():
    assert tables.window_text(1_223_464, 4_159_541) == "1.2M-4.2M"
    assert tables.window_text(49_021, 704_011, digits=2) == "0.05M-0.70M"
    assert tables.window_text(None, None) == "none"


def test_window_cells_and_span():
    w = PhaseWindow(start=1_218_560.4, end=4_160_000.0, peak=2_000_000.0)
    assert tables.window_cells(w) == ["1,218,560", "4,160,000", "2,000,000"]
    assert tables.window_cells(w, ("start", "peak", "end")) == ["1,218,560", "2,000,000", "4,160,000"]
    assert tables.window_cells(None, ("start", "end")) == ["none", "none"]
    assert tables.window_span(w, digits=2) == "1.22M-4.16M" and tables.window_span(None) == "none"


def test_smear_strengths_of_the_tiny_smeared_model(tiny_zoo):
    strengths = argument2.smear_strengths(Run("tiny", "smeared-2l"))
    assert [h for h, _ in strengths] == ["0.0", "0.1", "1.0", "1.1"]  # tiny: 2 layers x 2 heads
    assert all(0 < s < 1 for _, s in strengths)


def _intro_rows() -> dict[str, dict]:
    """Summary rows of the tiny zoo's kept readings (every field each registered claim reads),
    edited to known answers: two- and three-layer attention-only models with a window, a head and
    most of their ICL in it, a one-layer model with neither, the smeared pair, a knockout."""
    import json

    from induction_heads.engine.runs import run_dir

    template = json.loads((run_dir("tiny", "attn-only-2l") / "readings.json").read_text())["summary"]
    seqs = [-0.9, -0.5, -0.7, -0.3] * 8

    def row(layers, window, prefix, icl=-0.7, **over):
        return {**template, "layers": layers, "attn_only": True, "smeared_key": False, "icl_score_final": icl,
                "icl_share_in_window": 0.8 if window else None, "head_share_in_window": 0.8 if window else None,
                "phase_change_window": {"start": window, "end": 2 * window} if window else None,
                "peak_icl_rate": 0.5 if window else 0.1, "max_prefix_matching_over_training": prefix,
                "max_prefix_matching_score": prefix, "induction_heads": ["1.0"] if window else [],
                "loss_bump": bool(window), "repeat_top1": 0.4, "repeat_onset": 1.5 * window if window else None,
                "copying_score_induction_heads": [-0.5] if window else [],
                "icl_score_final_by_sequence": [v + 0.6 + icl for v in seqs], **over}

    return {"attn-only-1l": row(1, None, 0.03, icl=-0.1), "attn-only-2l": row(2, 1e6, 0.8),
            "attn-only-3l": row(3, 1e6, 0.8, icl_share_in_window=0.76, loss_bump=False),
            "smeared-1l": row(1, 1e5, 0.5, smeared_key=True), "smeared-2l": row(2, 5e5, 0.8, smeared_key=True),
            "attn-only-2l-k-knockout": row(2, None, 0.04, icl=-0.12)}


def test_argument_verdicts_count_the_registered_claims_on_summary_rows():
    rows = _intro_rows()
    v = tables.argument_verdicts("small", rows)
    assert [a.name for a in v] == [a[0] for a in tables.ARGUMENTS] and len(v) == 6
    one = {r.key: r for r in v[0].rows}
    # the bump: attn-only-3l has none (1 of 2); copying: no model reaches the pre-registered 0.9
    assert one["arg1.loss-bump"].verdict == "partly" and one["arg1.loss-bump"].ours == "1/2 models"
    assert one["arg1.copies"].verdict == "differs" and one["arg1.share-in-window"].verdict == "reproduced"
    assert one["arg1.share-in-window"].near_flip  # 0.76 sits within 10% of the paper's 0.75
    assert v[0].verdict == "partly" and "arg1.share-in-window" in v[0].near_flip
    two = {r.key: r.verdict for r in v[1].rows}
    assert two["arg2.smeared-1l"] == "reproduced" and two["arg2.knockout-icl"] == "reproduced"  # -0.12 vs -0.1: 0.02 apart
    text = repr(tables.argument_verdict_table(v))
    assert "Argument 1: the phase change" in text and "partly" in text and "near its threshold: arg1.share-in-window" in text


def test_argument_verdicts_at_a_size_that_asserts_no_claims_are_not_judged():
    v = tables.argument_verdicts("tiny", _intro_rows())
    assert {a.verdict for a in v} == {"not judged at this size"}
    text = repr(tables.argument_verdict_table(v))
    assert "partly" not in text and "differs" not in text and text.count("not judged at this size") == 6


def test_disagreements_name_each_claim_not_reproduced():
    rows = _intro_rows()
    v = tables.argument_verdicts("small", rows)
    sentences = tables.disagreements(v, rows)
    not_reproduced = [r for a in v for r in a.rows if r.verdict in ("partly", "differs")]
    assert len(sentences) == len(not_reproduced) > 0
    copying = next(s for s in sentences if s.startswith("Argument 1: the phase change. The heads complete repeated"))
    assert "differs (0/2 models" in copying and "copying score is -0.50 (the paper: positive)" in copying


def test_table_aligns_numbers_right_and_text_left():
    from induction_heads.book.chapter import Table

    t = Table(["model", "tokens", "verdict"], [["a", "1,000", "reproduced"], ["bb", "none", "partly: x"]])
    assert t.numeric == [False, True, False]
    assert repr(t).splitlines()[2] == "a       1,000  reproduced"
    assert '<td class="ih-text">partly: x</td>' in t._repr_html_() and "<td>none</td>" in t._repr_html_()


def test_range_with_intervals_prints_the_extremes_with_theirs():
    rows = [{"x": -0.9, "x_ci": [-0.95, -0.85]}, {"x": -0.5, "x_ci": [-0.6, -0.4]}, {"x": -0.7}, {"x": None}]
    assert tables.range_with_intervals(rows, "x") == "-0.90 [-0.95, -0.85] to -0.50 [-0.60, -0.40]"
    assert tables.range_with_intervals(rows[2:3], "x", ".1f") == "-0.7"  # no interval: the value alone
    assert tables.range_with_intervals(rows[3:], "x") == "none"


def test_final_samples_average_to_the_recorded_numbers(tiny_zoo):
    """The samples an interval resamples are the ones the reported mean averages: their mean is the
    recorded final number, read from per-sequence records (a run that has them) or re-measured
    on the final checkpoint (prefix matching, always)."""
    from induction_heads.book.summary import final_intervals, final_readings, final_samples

    for name in ("attn-only-2l", "mlp-2l-natural"):
        run = Run("tiny", name)
        m, s = run.trajectory, final_samples(run)
        assert float(s["icl_score"].double().mean()) == pytest.approx(float(m["icl_score"][-1]), abs=1e-5)
        assert float(s["max_prefix_matching"].mean()) == pytest.approx(float(m["prefix_matching"][-1].max()), abs=1e-5)
        assert float(s["repeat_top1"].mean()) == pytest.approx(float(m["repeat_top1"][-1][1:].mean()), abs=1e-5)
        assert float(s["passage_top1_second_copy"].mean()) == pytest.approx(float(m["passage_top1"][-1][1]), abs=1e-5)
        ci = final_intervals(s)
        assert ci == final_intervals(s)  # seeded: the same interval twice
        assert ci["icl_score_final_ci"][0] <= float(m["icl_score"][-1]) <= ci["icl_score_final_ci"][1]
        readings = final_readings(run)  # the chapters' numbers: the same means and intervals
        assert readings["icl_score"].value == pytest.approx(float(m["icl_score"][-1]), abs=1e-5)
        assert [round(readings["icl_score"].lo, 4), round(readings["icl_score"].hi, 4)] == ci["icl_score_final_ci"]


def test_fraction_removed_interval_known_answers(tiny_zoo):
    # every sequence loses half its ICL: 0.5 with zero width; paired rows stay paired
    same = {"icl_clean_by_sequence": torch.tensor([-1.0, -2.0, -3.0]), "icl_ablated_by_sequence": torch.tensor([-0.5, -1.0, -1.5])}
    ci = argument3.fraction_removed_interval(same)
    assert ci.value == pytest.approx(0.5) and ci.lo == pytest.approx(0.5) and ci.hi == pytest.approx(0.5)
    none = argument3.fraction_removed_interval({"icl_clean_by_sequence": torch.tensor([0.1, 0.2]),
                                                "icl_ablated_by_sequence": torch.tensor([0.1, 0.2])})
    assert all(math.isnan(v) for v in none)
    abl = argument3.induction_ablation(Run("tiny", "attn-only-2l"), ["1.0"], n_sequences=64)
    assert float(abl["icl_clean_by_sequence"].mean()) == pytest.approx(abl["icl_clean"], abs=1e-5)
    assert float(abl["icl_ablated_by_sequence"].mean()) == pytest.approx(abl["icl_all_ablated"], abs=1e-5)


def test_seed_spreads_group_seeds_by_model():
    from induction_heads.book.summary import seed_spreads

    row = lambda icl, start: {"icl_score_final": icl, "max_prefix_matching_score": 0.8,  # noqa: E731
                              "phase_change_window": None if start is None else {"start": start, "end": 2 * start}}
    rows = {"attn-only-2l": row(-0.8, 1e6), "attn-only-2l-seed1": row(-0.6, None), "attn-only-2l-seed2": row(-0.7, 3e6),
            "mlp-2l": row(-0.9, 2e6)}
    out = seed_spreads(rows)
    assert list(out) == ["attn-only-2l"]  # one seed of mlp-2l: no spread
    a = out["attn-only-2l"]
    assert a["seeds"] == ["attn-only-2l", "attn-only-2l-seed1", "attn-only-2l-seed2"]
    assert a["icl_score_final"] == {"median": -0.7, "lo": -0.8, "hi": -0.6, "n": 3}
    assert a["window_start"] == {"median": 2e6, "lo": 1e6, "hi": 3e6, "n": 2}  # a seed without a window is left out


def test_seed_table_prints_median_and_range():
    row = lambda icl, start: {"icl_score_final": icl, "max_prefix_matching_score": 0.8, "repeat_top1": 0.3,  # noqa: E731
                              "phase_change_window": None if start is None else {"start": start, "end": 2 * start}}
    rows = {"attn-only-2l": row(-0.8, 1e6), "attn-only-2l-seed1": row(-0.6, None), "attn-only-2l-seed2": row(-0.7, 3e6)}
    line = repr(tables.seed_table(rows)).splitlines()[2]
    assert line.split("  ")[0] == "attn-only-2l"
    assert "2.00M (1.00M to 3.00M), 2 with one" in line and "-0.70 (-0.80 to -0.60)" in line


def test_the_verdict_strip_has_a_card_a_badge_and_a_thumbnail_per_argument():
    import re

    v = tables.argument_verdicts("small", _intro_rows())
    html = tables.verdict_strip(v).data
    cards = re.findall(r'<a class="ih-verdict" href="([^"]+)\.html"[^>]*>(.*?)</a>', html)
    assert [href for href, _ in cards] == [a[1] for a in tables.ARGUMENTS]
    assert all('class="ih-badge ih-badge-' in body for _, body in cards)
    with_thumb = [body for _, body in cards if '<img class="ih-verdict-thumb" src="data:image/png;base64,' in body]
    assert len(with_thumb) == sum(a.lead is not None for a in v) >= 4
    lead = v[0].lead[0]
    assert lead.key == "arg1.window"  # the first claim read here with a numeric threshold


def test_the_verdict_strip_shows_the_hero_miniatures_with_their_alt_texts():
    import re

    import matplotlib.pyplot as plt

    v = tables.argument_verdicts("small", _intro_rows())
    open_before = set(plt.get_fignums())
    html = tables.verdict_strip(v, "tiny").data  # the miniatures of the tiny zoo's heroes
    cards = re.findall(r'<a class="ih-verdict" href="[^"]+\.html"[^>]*>(.*?)</a>', html)
    assert len(cards) == 6
    alts = [re.search(r'<img class="ih-verdict-thumb" src="data:image/png;base64,[^"]+" alt="([^"]*)">', c).group(1)
            for c in cards]
    assert alts[0].startswith("attn-only-2l&#x27;s ICL score (top) and largest prefix-matching score (bottom)")
    assert alts[1].startswith("ICL score over training, each vanilla model (grey) against its smeared-key twin")
    assert all(a.endswith(": each model against the threshold") for a in alts[2:4])  # Arguments 3, 4: their readings
    assert alts[4].startswith("attn-only-2l over training: previous-token head 0.")
    assert alts[5].startswith("ICL score over training of every rung of the ladder (12 models)")
    assert set(plt.get_fignums()) <= open_before  # every miniature drawn is closed


def test_a_claim_thumbnail_marks_each_model_against_the_threshold():
    from induction_heads.book.figures.thumbnails import FAILS, HOLDS, claim_thumbnail

    rows = _intro_rows()
    d = argument1.CLAIMS["share-in-window"]
    fig = claim_thumbnail(d, d.evaluate("small", rows))
    (dots,) = fig.axes[0].collections
    assert len(dots.get_offsets()) == len(argument1.multi_layer(rows)) == 3
    threshold = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == "--"]
    assert threshold and threshold[0].get_xdata()[0] == 0.75  # judged at the paper's threshold
    import matplotlib.colors as mc

    colours = {mc.to_hex(c) for c in dots.get_facecolors()}
    assert colours == {HOLDS}  # 0.8, 0.76 and 0.8: every share above 0.75


def test_a_long_table_folds_as_data_with_a_csv_and_never_prints_nan_or_an_exponent():
    import base64

    from induction_heads.book.chapter import Table

    short = Table(["model", "x"], [["a", float("nan")], ["b", 37900.0], ["c", 0.5]])
    assert [r[1] for r in short.rows] == ["none", "37,900", "0.500"]
    # cells formatted before they reach the table say the same: no 'nan', no exponent
    text = Table(["head", "trace", "window"], [["0.0", "nan", "2.5e9-5e9 tokens"], ["1.1", "3.79e+03", "1e9"],
                                              ["1.3", "-1.31e+04", "8.6e-06"]])
    assert text.rows == [["0.0", "none", "2.5B-5B tokens"], ["1.1", "3,790", "1B"], ["1.3", "-13,100", "8.6\u00d710\u207b\u2076"]]
    assert text.numeric == [False, True, False]  # a number written with a power of ten still aligns as one
    assert Table(["x", "y"], [["a", "8.6e-06"], ["b", "0.5"]]).numeric == [False, True]
    assert not short._repr_html_().startswith("<details")
    long = Table(["model", "x"], [[f"m{i}", float(i)] for i in range(Table.FOLD_ROWS + 1)])
    page = long._repr_html_()
    assert page.startswith('<details class="ih-data"><summary>Data: a table of 13 rows (model, x, ...)</summary>')
    csv = base64.b64decode(page.split("base64,")[1].split('"')[0]).decode()
    assert csv.splitlines()[:2] == ["model,x", "m0,0.000"] and len(csv.splitlines()) == 14
    assert repr(long).splitlines()[2].split() == ["m0", "0.000"]  # the text nbval compares: the table as before
    whole = long.unfolded()  # the appendix: the table is the page
    assert whole._repr_html_().startswith('<table class="ih-table">') and repr(whole) == repr(long)
    assert long._repr_html_() == page  # the table it came from still folds
