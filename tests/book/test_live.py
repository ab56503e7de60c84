"""The live chapter's machinery at size tiny: a run trained in the chapter, drawn as it goes."""

import re

import nbformat
import pytest

from induction_heads import book
from induction_heads.book import live
from induction_heads.engine.config import model_config, train_config
from induction_heads.engine.runs import RUNS_FOLDER
from induction_heads.measure.recorder import BEHAVIOUR_KEYS


@pytest.mark.parametrize("bad", ["yes", 1, None, "True"])
def test_live_parameter_accepts_only_true_or_false(bad):
    with pytest.raises(book.ParameterError) as e:
        book.validate_live(bad)
    assert e.value._render_traceback_() == [f"ParameterError: live must be one of: False, True; got {bad!r}"]
    assert book.validate_live(True) is True and book.validate_live(False) is False


@pytest.mark.slow
def test_watch_phase_change_trains_a_tiny_model_in_a_folder_of_its_own(tiny_data, tmp_path):
    result = live.watch_phase_change("tiny", threads=1, out=tmp_path / "live", show=False)
    assert set(BEHAVIOUR_KEYS) <= set(result.metrics) and "copying" not in result.metrics
    assert result.tokens == int(result.metrics["tokens"][-1]) > 0 and result.wall_s > 0
    assert result.run == tmp_path / "live" and (result.run / "metrics.safetensors").exists()
    assert not (tiny_data / "tiny" / RUNS_FOLDER / "attn-only-2l" / "live").exists()


# What the live cell says it trained: the tokens seen, the seconds, the window (or none), as numbers.
LIVE_LINE = re.compile(r"trained ([\d,]+) tokens in (\d+) s; phase-change window: (?:none|([\d,]+)-([\d,]+) tokens)")


def _run_chapter(tmp_path, **parameters):
    import shutil

    import papermill as pm

    from induction_heads.publish.build import ROOT

    src = ROOT / "chapters" / "02_argument1_phase_change.ipynb"
    shutil.copy(src, tmp_path / "c.ipynb")
    pm.execute_notebook(str(tmp_path / "c.ipynb"), str(tmp_path / "out.ipynb"), parameters=parameters,
                        kernel_name="python3", progress_bar=False, cwd=str(src.parent))
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    return out, [o for c in out.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.slow
def test_the_chapter_trains_live_at_tiny(tiny_zoo, tmp_path):
    """CI runs the live mode at size tiny, so it cannot rot: the chapter trains, says what it
    trained, and runs to its end on the live run."""
    out, outputs = _run_chapter(tmp_path, size="tiny", live=True)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    said = [[int(n.replace(",", "")) for n in m.groups() if n is not None] for m in LIVE_LINE.finditer(text)]
    assert len(said) == 1, text
    tokens, seconds, *window = said[0]
    t, cfg = train_config("tiny", "attn-only-2l"), model_config("tiny", "attn-only-2l")
    assert tokens == t.tokens_seen(t.total_steps, cfg.n_ctx) and seconds >= 0
    assert window == [] or window[0] < window[1] <= tokens
    assert not any(o.output_type == "error" for o in outputs)
    assert all(c.execution_count for c in out.cells if c.cell_type == "code")  # to its last cell


@pytest.mark.slow
def test_a_bad_live_value_stops_the_chapter_with_one_line(tiny_zoo, tmp_path):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError):
        _run_chapter(tmp_path, size="tiny", live="yes")
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    errors = [o for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.traceback for e in errors] == [["ParameterError: live must be one of: False, True; got 'yes'"]]
