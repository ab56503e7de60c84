"""The numbers the chapters' claims are decided on (book/argument1.py ... argument5.py), on hand-made metrics whose
answers are known."""

from __future__ import annotations

import math

import pytest
import torch

from induction_heads.book import argument1, argument2, argument3, argument5
from induction_heads.engine.config import CORE_MODELS
from induction_heads.measure.phase import PhaseWindow

torch.set_num_threads(1)
TOKENS = torch.logspace(4, 7, 80, dtype=torch.float64)
X = TOKENS.log()
ONSET = 1e6  # tokens: the centre of the synthetic phase change
WIDTH = 0.15  # of the logistic step, in ln(tokens)
STEP = torch.sigmoid((X - math.log(ONSET)) / WIDTH)


def metrics(icl_gain: float = -0.5, head_top: float = 0.6) -> dict[str, torch.Tensor]:
    """A two-layer, two-head run: ICL falls by ``icl_gain`` and head 1.1's prefix-matching score
    rises from 0.03 to ``head_top`` in the same logistic step; the other heads stay at 0.02."""
    prefix = torch.full((len(TOKENS), 2, 2), 0.02, dtype=torch.float64)
    prefix[:, 1, 1] = 0.03 + (head_top - 0.03) * STEP
    return {"tokens": TOKENS, "icl_score": icl_gain * STEP, "prefix_matching": prefix}


WIDE = PhaseWindow(ONSET / 8, ONSET * 8, ONSET)  # 2 ln(8)/0.15 = 28 widths: the whole step


# ------------------------------------------------------------------------------ Argument 1

def test_argument1_model_selection():
    assert argument1.multi_layer(CORE_MODELS) == ["attn-only-2l", "attn-only-3l", "mlp-2l", "mlp-3l", "smeared-2l",
                                               "attn-only-2l-seed1", "attn-only-2l-seed2"]
    assert argument1.one_layer_vanilla(CORE_MODELS) == ["attn-only-1l", "mlp-1l"]


def test_top_prefix_matching_is_the_best_head_at_each_snapshot():
    prefix = torch.tensor([[[0.1, 0.4], [0.2, 0.0]], [[0.1, 0.0], [0.7, 0.3]]])
    assert argument1.top_prefix_matching(prefix).tolist() == pytest.approx([0.4, 0.7])


def test_readings_of_a_phase_change_inside_a_window():
    """Everything forms inside a window that holds the whole step: the ICL share is 1, the head's
    share is its rise over its final value, (0.6 - 0.03) / 0.6 = 0.95, and it crosses 0.5 at the
    first snapshot where 0.03 + 0.57 sigmoid(z) >= 0.5, z = ln(0.47 / 0.10) widths past the onset."""
    r = argument1.phase_change_readings(metrics(), WIDE)
    assert r.final_icl == pytest.approx(-0.5, abs=1e-6)
    assert r.icl_share_in_window == pytest.approx(1.0, abs=0.01)
    assert r.max_prefix_matching == pytest.approx(0.6, abs=1e-6)
    assert r.head_share_in_window == pytest.approx(0.57 / 0.6, abs=0.01)
    assert r.head_level == pytest.approx(0.6, abs=0.01)
    at = ONSET * math.exp(WIDTH * math.log(0.47 / 0.10))
    assert r.head_crossing == float(TOKENS[TOKENS >= at][0])
    assert (r.window_start, r.window_end) == (WIDE.start, WIDE.end)


def test_readings_of_a_window_that_misses_the_step():
    """A window that ends at a quarter of the onset holds almost none of it."""
    r = argument1.phase_change_readings(metrics(), PhaseWindow(ONSET / 64, ONSET / 4, ONSET / 16))
    assert r.icl_share_in_window < 0.01 and r.head_share_in_window < 0.01


def test_readings_without_a_window_or_without_icl_are_nan():
    r = argument1.phase_change_readings(metrics(), None)
    assert math.isnan(r.icl_share_in_window) and math.isnan(r.head_share_in_window)
    assert math.isnan(r.window_start) and math.isnan(r.window_end)
    assert not r.icl_share_in_window >= 0.5  # so a claim on it fails
    r = argument1.phase_change_readings(metrics(icl_gain=+0.2), WIDE)  # the context makes it worse: no ICL
    assert math.isnan(r.icl_share_in_window) and r.head_share_in_window == pytest.approx(0.95, abs=0.01)
    assert argument1.phase_change_readings(metrics(head_top=0.4), WIDE).head_crossing is None


def _with_repeats(top: float, width: float = 0.6) -> dict[str, torch.Tensor]:
    """metrics() plus a repeat test whose copies 2-4 climb from 0 to ``top`` in a logistic step
    of ``width`` (ln tokens) centred on ONSET; copy 1 stays at 0."""
    m = metrics()
    rep = torch.zeros(len(TOKENS), 4, dtype=torch.float64)
    rep[:, 1:] = (top * torch.sigmoid((X - math.log(ONSET)) / width))[:, None]
    return {**m, "repeat_top1": rep}


def test_repeat_onset_of_a_logistic_climb():
    """A climb of `top` in a logistic step makes 10% of it where sigmoid(z) = 0.1 (plus the tiny
    start value), z = -ln 9 widths before the centre; the smoothing barely moves a step 3 bandwidths
    wide. The final value is `top`, the best single snapshot `top` too."""
    r = argument1.repeat_readings(_with_repeats(0.4), WIDE)
    expected = ONSET * math.exp(-0.6 * math.log(9))
    assert r.onset == pytest.approx(expected, rel=0.1)
    assert r.final == pytest.approx(0.4, abs=0.01) and r.best == pytest.approx(0.4, abs=0.01)
    assert r.starts_in(WIDE) and not r.starts_in(PhaseWindow(ONSET, ONSET * 8, ONSET * 2)) and not r.starts_in(None)
    assert 0.5 < r.share_in_window < 1.0  # the slow step runs past the window's end
    assert argument1.repeat_accuracy(_with_repeats(0.4))[-1] == pytest.approx(0.4, abs=0.01)


def test_repeat_readings_without_a_climb_or_without_the_test():
    flat = argument1.repeat_readings(_with_repeats(0.0), None)
    assert flat.onset is None and flat.final == 0 and math.isnan(flat.share_in_window)
    assert argument1.repeat_readings(metrics(), WIDE) is None and argument1.repeat_accuracy(metrics()) is None


def test_shares_above():
    assert argument1.shares_above({"a": 0.9, "b": 0.75, "c": 0.8}, 0.75) == (2, 3, 0.75)  # strictly above
    count, total, smallest = argument1.shares_above({}, 0.75)
    assert (count, total) == (0, 0) and math.isnan(smallest)


def test_crossings_outside_window():
    w = PhaseWindow(10.0, 20.0, 15.0)

    def reading(window, crossing):
        return argument1.PhaseChangeReadings(window, -0.5, 0.8, 0.6, 0.8, crossing, 0.6)

    readings = {"inside": reading(w, 20.0), "after": reading(w, 21.0), "never": reading(w, None),
                "no window": reading(None, 15.0)}
    assert argument1.crossings_outside_window(readings) == {"after": 21.0, "never": None, "no window": 15.0}


def test_windows_open_at_end():
    runs = {n: {"tokens": torch.tensor([0.0, 10.0, 100.0])} for n in ("open", "closed", "none")}
    windows = {"open": PhaseWindow(10.0, 100.0, 50.0), "closed": PhaseWindow(10.0, 99.0, 50.0), "none": None}
    assert argument1.windows_open_at_end(runs, windows) == ["open"]


# ------------------------------------------------------------------------------ Argument 2

def test_smeared_lead():
    windows = {"smeared-2l": PhaseWindow(1e5, 1e6, 3e5), "attn-only-2l": PhaseWindow(2e6, 6e6, 3e6),
               "attn-only-2l-seed1": PhaseWindow(5e6, 9e6, 7e6), "attn-only-2l-seed2": None}
    lead = argument2.smeared_lead(windows)
    assert (lead.smeared_start, lead.vanilla_start) == (1e5, 2e6)
    assert lead.earlier_by_tokens == 1.9e6
    assert lead.seed_starts == (2e6, 5e6) and lead.seed_spread == 3e6 and lead.comparable
    alone = argument2.smeared_lead({**windows, "smeared-2l": None, "attn-only-2l-seed1": None})
    assert math.isnan(alone.smeared_start) and math.isnan(alone.earlier_by_tokens)
    assert math.isnan(alone.seed_spread) and not alone.comparable


# ------------------------------------------------------------------------------ Argument 3

def test_largest_delta_head():
    delta = torch.tensor([[0.1, -0.2], [0.5, 0.3]])
    top = argument3.largest_delta_head(delta, ["other", "previous-token", "induction", "other"])
    assert (top.head, top.delta_icl, top.head_class) == ("1.0", pytest.approx(0.5), "induction")
    assert argument3.largest_delta_head(-delta, ["other", "previous-token", "induction", "other"]).head == "0.1"


# ------------------------------------------------------------------------------ Argument 5

def scores(k_prev: float, k_other: float, q: float, v: float) -> dict[str, torch.Tensor]:
    """Composition scores of a 2-layer, 2-head model into head 1.1 (NaN elsewhere)."""
    out = {}
    for mode, (from_00, from_01) in {"Q": (0.0, q), "K": (k_prev, k_other), "V": (v, 0.0)}.items():
        s = torch.full((2, 2, 2, 2), float("nan"))
        s[0, 0, 1, 1], s[0, 1, 1, 1] = from_00, from_01
        out[mode] = s
    return out


def test_composition_into_the_induction_head():
    into = argument5.composition_into(scores(k_prev=0.3, k_other=0.1, q=0.05, v=0.2), "1.1", prev_head="0.0")
    assert into.numbers() == pytest.approx({"k_from_prev": 0.3, "top_k_source": "0.0", "top_k": 0.3,
                                            "top_q_source": "0.1", "top_q": 0.05, "top_v_source": "0.0",
                                            "top_v": 0.2})
    assert into.k_from_prev_is_largest("0.0")
    assert not into.k_from_prev_is_largest("0.1")  # the K-composition comes from another head
    v_wins = argument5.composition_into(scores(k_prev=0.3, k_other=0.1, q=0.05, v=0.4), "1.1", prev_head="0.0")
    assert v_wins.largest_mode == "V" and not v_wins.k_from_prev_is_largest("0.0")


def test_interventions_are_not_plain_models_and_pair_with_their_controls():
    names = ["attn-only-1l", "attn-only-2l", "attn-only-2l-k-knockout", "attn-only-2l-warmup10x", "mlp-2l-seed1",
             "attn-only-4l", "attn-only-2l-d256"]
    assert argument1.plain(names) == ["attn-only-1l", "attn-only-2l", "mlp-2l-seed1", "attn-only-4l", "attn-only-2l-d256"]
    assert "attn-only-2l-k-knockout" not in argument1.multi_layer(names)
    assert argument1.one_layer_vanilla(names) == ["attn-only-1l"]
    assert argument2.trained_pairs(names) == [("attn-only-2l-k-knockout", "attn-only-2l"),
                                           ("attn-only-2l-warmup10x", "attn-only-2l")]


def test_intervention_readings_known_answers():
    import torch

    from induction_heads.measure.phase import PhaseWindow

    def run(top, icl):
        pm = torch.zeros(3, 2, 2)
        pm[1, 1, 0] = top
        return {"prefix_matching": pm, "icl_score": torch.tensor([0.0, -0.1, icl])}

    runs = {"k": run(0.04, -0.08), "c": run(0.7, -0.6)}
    wins = {"k": None, "c": PhaseWindow(2e6, 6e6, 4e6)}
    r = argument2.intervention_readings(runs, wins, "k", "c")
    assert (r.max_prefix_matching, r.control_max_prefix_matching) == (pytest.approx(0.04), pytest.approx(0.7))
    assert r.window is None and r.control_window == wins["c"]
    assert (r.final_icl, r.control_final_icl) == (pytest.approx(-0.08), pytest.approx(-0.6))
    assert math.isnan(r.earlier_by_tokens)
    early = argument2.intervention_readings(runs, {"k": PhaseWindow(1e4, 1e5, 3e4), "c": wins["c"]}, "k", "c")
    assert early.earlier_by_tokens == pytest.approx(2e6 - 1e4)


def test_vanilla_is_the_plain_attention_only_and_mlp_models_of_the_first_seed():
    names = ["attn-only-1l", "attn-only-2l", "attn-only-2l-seed1", "smeared-2l", "mlp-3l", "attn-only-2l-d64",
             "attn-only-2l-k-knockout", "attn-only-2l-natural", "attn-only-2l-long", "attn-only-2l-b16"]
    assert argument1.vanilla(names) == ["attn-only-1l", "attn-only-2l", "mlp-3l", "attn-only-2l-d64"]
    # natural-code and long runs are not the size's recipe: no claim of the core reads them
    assert argument1.plain(names) == ["attn-only-1l", "attn-only-2l", "attn-only-2l-seed1", "smeared-2l", "mlp-3l",
                                      "attn-only-2l-d64"]


def test_seeds_onsets_and_recipe_pairs_are_read_from_names():
    from induction_heads.book import argument1
    from induction_heads.measure.phase import PhaseWindow

    assert argument1.seed_family("mlp-2l-k-knockout-seed1") == "mlp-2l-k-knockout"
    assert argument1.seed_family("attn-only-2l-natural") == "attn-only-2l-natural"
    names = ["attn-only-2l", "attn-only-2l-seed1", "attn-only-2l-seed2", "mlp-2l", "attn-only-2l-natural",
             "mlp-2l-natural", "smeared-2l-natural", "attn-only-2l-long"]
    assert argument1.seeds_by_model(names) == {"attn-only-2l": ["attn-only-2l", "attn-only-2l-seed1", "attn-only-2l-seed2"]}
    w = PhaseWindow(1e6, 4e6, 2e6)
    windows = {"attn-only-2l": w, "attn-only-2l-seed1": None, "mlp-2l": w}
    assert argument1.onsets_by_model(windows) == {"attn-only-2l": [("attn-only-2l", 1e6), ("attn-only-2l-seed1", None)]}
    windows["attn-only-2l-seed2"] = PhaseWindow(3e6, 5e6, 4e6)
    assert argument1.onsets_by_model(windows) == {
        "attn-only-2l": [("attn-only-2l", 1e6), ("attn-only-2l-seed1", None), ("attn-only-2l-seed2", 3e6)]}
    # smeared-2l has no repeat-recipe twin in the list; the long run is not a natural run
    assert argument1.recipe_pairs(names) == [("attn-only-2l-natural", "attn-only-2l"), ("mlp-2l-natural", "mlp-2l")]


def _seed(icl: float, tokens: torch.Tensor = TOKENS[:5], by_sequence: torch.Tensor | None = None):
    """A run of five snapshots whose ICL score is ``icl`` throughout and whose largest head scores ``-icl / 10``."""
    prefix = torch.zeros(len(tokens), 2, 2, dtype=torch.float64)
    prefix[:, 1, 0] = -icl / 10
    t = {"tokens": tokens, "icl_score": torch.full((len(tokens),), icl, dtype=torch.float64), "prefix_matching": prefix}
    if by_sequence is not None:
        t["icl_score_by_sequence"] = by_sequence
    return t


def test_seed_curves_median_of_three_seeds_and_their_bands():
    """Curves at -1, -2 and -10: the median is -2 at every snapshot (not the mean, -13/3). The seed
    recorded per sequence with the same value on every sequence gets a band of zero width at it;
    the others get none."""
    flat = torch.full((5, 16), -2.0, dtype=torch.float64)
    traj = {"m": _seed(-1.0), "m-seed1": _seed(-2.0, by_sequence=flat), "m-seed2": _seed(-10.0)}
    c = argument1.seed_curves(traj, ["m", "m-seed1", "m-seed2"])
    assert c.names == ("m", "m-seed1", "m-seed2")
    assert c.curves.shape == (3, 5) and c.tokens.tolist() == TOKENS[:5].tolist()
    assert c.median.tolist() == [-2.0] * 5
    assert c.bands[0] is None and c.bands[2] is None
    lo, hi = c.bands[1]
    assert lo.tolist() == [-2.0] * 5 and hi.tolist() == [-2.0] * 5
    # two seeds: the median is their mean; the largest head's score has no band
    two = argument1.seed_curves(traj, ["m", "m-seed2"], key="max_prefix_matching")
    assert two.median.tolist() == pytest.approx([0.55] * 5)
    assert two.bands == (None, None)


def test_seed_curves_band_holds_the_seed_and_widens_with_the_spread_of_sequences():
    """Sequences at -1 and -3 in equal numbers: the curve is their mean, -2, and its 95% band lies
    around it, strictly wider at the snapshot whose sequences spread more."""
    by_seq = torch.tensor([-1.0, -3.0] * 8, dtype=torch.float64).repeat(5, 1)
    by_seq[4] = torch.tensor([0.0, -4.0] * 8)
    traj = {"m": _seed(-2.0, by_sequence=by_seq), "m-seed1": _seed(-2.0)}
    lo, hi = argument1.seed_curves(traj, ["m", "m-seed1"]).bands[0]
    assert bool((lo < -2.0).all()) and bool((hi > -2.0).all())
    assert float(hi[4] - lo[4]) > float(hi[0] - lo[0])


def test_seed_curves_refuses_seeds_on_other_snapshots_and_unknown_keys():
    traj = {"m": _seed(-1.0), "m-seed1": _seed(-2.0, tokens=TOKENS[5:10])}
    with pytest.raises(ValueError, match="m-seed1's snapshots differ from m's"):
        argument1.seed_curves(traj, ["m", "m-seed1"])
    traj["m-seed1"] = _seed(-2.0, tokens=TOKENS[:4])
    with pytest.raises(ValueError, match="m-seed1's snapshots differ"):
        argument1.seed_curves(traj, ["m", "m-seed1"])
    with pytest.raises(ValueError, match="not 'loss'"):
        argument1.seed_curves(traj, ["m"], key="loss")
    with pytest.raises(ValueError, match="at least one run"):
        argument1.seed_curves(traj, [])


def test_paired_by_seed_pairs_each_seed_with_the_same_seed_of_its_control():
    names = ["smeared-2l-seed2", "attn-only-2l", "smeared-2l", "attn-only-2l-seed2", "smeared-2l-seed1",
             "smeared-2l-natural", "attn-only-2l-natural"]
    assert argument2.paired_by_seed(names, "smeared-2l", "attn-only-2l") == [
        ("smeared-2l", "attn-only-2l"), ("smeared-2l-seed2", "attn-only-2l-seed2")]  # seed1's control is missing
    assert argument2.paired_by_seed(["attn-only-2l-k-knockout-seed1", "attn-only-2l-seed1"], "attn-only-2l-k-knockout",
                                    "attn-only-2l") == [("attn-only-2l-k-knockout-seed1", "attn-only-2l-seed1")]
    assert argument2.paired_by_seed(names, "mlp-2l", "attn-only-2l") == []


def test_window_spread_is_the_median_and_range_over_seeds_with_a_window():
    w = {"a": PhaseWindow(1e6, 2e6, 4e6), "a-seed1": PhaseWindow(2e6, 3e6, 8e6), "a-seed2": PhaseWindow(4e6, 5e6, 6e6),
         "b": None, "b-seed1": None}
    spread = argument1.window_spread(w, ["a", "a-seed1", "a-seed2"])
    assert spread["start"] == (2e6, 1e6, 4e6, 3) and spread["end"] == (3e6, 2e6, 5e6, 3)
    assert argument1.window_spread(w, ["b", "b-seed1"]) is None
    assert argument1.window_spread({**w, "a-seed1": None}, ["a", "a-seed1"])["start"].n == 1


def test_final_readings_carry_intervals_except_for_a_run_trained_live(tiny_zoo):
    from induction_heads.book import summary
    from induction_heads.engine.zoo import Trajectory, Zoo
    from induction_heads.measure.intervals import Interval

    zoo = Zoo.load("tiny", ["attn-only-2l", "mlp-2l"])
    traj = zoo.trajectories()
    traj["mlp-2l"] = Trajectory(dict(zoo["mlp-2l"].trajectory))  # as chapter 02's live mode replaces a run
    fin = summary.final_readings_by_name(zoo, traj, ["attn-only-2l", "mlp-2l"])
    assert isinstance(fin["attn-only-2l"]["icl_score"], Interval)
    assert fin["attn-only-2l"]["icl_score"].value == pytest.approx(float(traj["attn-only-2l"]["icl_score"][-1]), abs=1e-5)
    assert fin["mlp-2l"]["icl_score"] == pytest.approx(float(traj["mlp-2l"]["icl_score"][-1]))
    assert not isinstance(fin["mlp-2l"]["icl_score"], Interval)
