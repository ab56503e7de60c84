"""The live chapter's machinery at size tiny: a run trained in the chapter, drawn as it goes."""

import pytest

from induction_heads.book import live
from induction_heads.measure.recorder import BEHAVIOUR_KEYS


@pytest.mark.parametrize("bad", ["yes", 1, None, "True"])
def test_live_parameter_accepts_only_true_or_false(bad):
    with pytest.raises(live.ParameterError) as e:
        live.validate_live(bad)
    assert e.value._render_traceback_() == [f"ParameterError: live must be one of: False, True; got {bad!r}"]
    assert live.validate_live(True) is True and live.validate_live(False) is False


def test_watch_phase_change_trains_a_tiny_model_in_a_folder_of_its_own(tiny_data, tmp_path):
    result = live.watch_phase_change("tiny", threads=1, out=tmp_path / "live", show=False)
    assert set(BEHAVIOUR_KEYS) <= set(result.metrics) and "copying" not in result.metrics
    assert result.tokens == int(result.metrics["tokens"][-1]) > 0 and result.wall_s > 0
    assert result.run == tmp_path / "live" and (result.run / "metrics.safetensors").exists()
    assert not (tiny_data / "tiny" / "runs" / "attn-only-2l" / "live").exists()
