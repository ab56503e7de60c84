"""Readings computed once and kept (book/readings.py): current ones are read, stale or damaged
ones never are, and every kept reading of the committed tiny zoo equals the summary computed now."""

import json
import shutil

import pytest

from induction_heads.book import readings
from induction_heads.book.readings import Provenance, kept_reading, readings_sources, readings_version, write_reading
from induction_heads.book.summary import model_summary, summary
from induction_heads.engine.runs import RunStoreError, available_runs, run_dir
from induction_heads.engine.zoo import Run


def _same(a: dict, b: dict) -> bool:
    """Equal as the JSON the store keeps (NaN equal to NaN, tuples as lists)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_the_version_covers_the_summarys_code_and_not_the_presentation():
    names = {str(p).split("induction_heads/")[-1] for p in readings_sources()}
    assert {"book/summary.py", "book/argument3.py", "measure/ablation.py", "measure/icl_classes.py",
            "engine/model.py", "measure/recorder.py"} <= names
    assert not any(n.startswith(("book/chapter", "book/checks", "book/figures")) for n in names)
    assert len(readings_version()) == 16


def test_every_kept_tiny_reading_is_current_and_equals_the_summary_now(tiny_zoo):
    """All of them at tiny: a kept reading that is missing, stale, or differs from what the
    summary computes today fails here (`make readings SIZE=tiny` writes them)."""
    names = available_runs("tiny")
    assert len(names) >= 40
    stale = [n for n in names if kept_reading(Run("tiny", n)) is None]
    assert stale == [], f"missing or stale readings (run `make readings SIZE=tiny`): {stale}"
    for n in names:
        assert _same(kept_reading(Run("tiny", n)), model_summary(Run("tiny", n))), n


@pytest.mark.parametrize("name", ["attn-only-2l", "mlp-1l"])
def test_kept_small_readings_equal_the_summary_now(name):
    """A sample at small (each takes seconds to recompute): a kept reading that is current must be
    what the code computes today."""
    run = Run("small", name)
    kept = kept_reading(run)
    if kept is None:
        pytest.fail(f"small/{name} has no current reading; run `make readings SIZE=small`")
    assert _same(kept, model_summary(run))


@pytest.fixture
def tiny_copy(tiny_zoo, tmp_path, monkeypatch):
    """A copy of two committed tiny runs (and the size's shared files) to write readings into."""
    src = tiny_zoo / "tiny"
    dst = tmp_path / "tiny"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("zoo"))
    for n in ("attn-only-2l", "attn-only-1l"):
        shutil.copytree(src / "zoo" / n, dst / "zoo" / n)
        (dst / "zoo" / n / readings.READINGS_FILE).unlink(missing_ok=True)  # start without kept readings
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(tmp_path))
    return dst


def test_a_current_reading_is_read_and_a_stale_one_is_computed_again(tiny_copy, monkeypatch):
    run = Run("tiny", "attn-only-2l")
    row = json.loads(json.dumps(model_summary(run), default=str))
    row["icl_score_final"] = 123.0  # a marker: read, not computed
    write_reading(run, row)
    prov = Provenance()
    assert summary("tiny", provenance=prov)["attn-only-2l"]["icl_score_final"] == 123.0
    assert prov.kept == ["attn-only-2l"] and prov.computed == ["attn-only-1l"]
    assert "1 runs read from their kept readings" in prov.line() and "1 computed now (attn-only-1l)" in prov.line()
    readings.readings_version.cache_clear()
    monkeypatch.setattr(readings, "readings_version", lambda: "0" * 16)  # the code changed
    assert kept_reading(run) is None
    assert summary("tiny")["attn-only-2l"]["icl_score_final"] != 123.0


def test_an_edited_reading_is_refused(tiny_copy):
    run = Run("tiny", "attn-only-2l")
    write_reading(run, {"icl_score_final": -0.5})
    path = run_dir("tiny", "attn-only-2l") / readings.READINGS_FILE
    path.write_text(path.read_text().replace("-0.5", "-0.9"))
    with pytest.raises(RunStoreError, match="readings.json"):
        kept_reading(run)
