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


# ------------------------------------------------------------------ kept analyses


def test_every_kept_tiny_analysis_is_current_and_equals_its_computation_now(tiny_zoo):
    """Every registered analysis of every tiny run it covers: kept, current, and what the code
    computes today (`make readings SIZE=tiny` writes them)."""
    names = available_runs("tiny")
    assert set(readings.ANALYSES) >= {"argument1.classes-over-training", "argument3.controls",
                                      "argument3.pattern-preserving"}
    for analysis in readings.ANALYSES.values():
        covered = analysis.covers(names)
        assert covered, analysis.name
        for n in covered:
            run = Run("tiny", n)
            path = run_dir("tiny", n) / readings.ANALYSES_DIR / f"{analysis.name}.json"
            assert path.exists(), f"{analysis.name} of {n} is not kept (run `make readings SIZE=tiny`)"
            # read as kept_analysis reads it (verified by the manifest); a kept null (the controls of a
            # tiny model without induction heads) is current by its version, as any other value
            kept = json.loads(path.read_text()) if readings.kept_analysis(run, analysis) is None else None
            assert kept is None or kept["version"] == analysis.version, \
                f"{analysis.name} of {n} is stale (run `make readings SIZE=tiny`)"
            value = kept["value"] if kept is not None else readings.kept_analysis(run, analysis)
            assert _same(value, json.loads(json.dumps(analysis.compute(run)))), (analysis.name, n)


def test_an_analysis_is_versioned_by_the_code_that_computes_it():
    from induction_heads.book import argument1, argument3

    a1, a3 = argument1.CLASSES_OVER_TRAINING, argument3.CONTROLS
    sources = {str(p).split("induction_heads/")[-1] for p in readings_sources("induction_heads.book.argument3")}
    assert "book/argument3.py" in sources and "measure/ablation.py" in sources and "book/summary.py" not in sources
    assert a3.version == readings_version("induction_heads.book.argument3") != readings_version()
    assert a1.version == readings_version("induction_heads.book.argument1")
    with pytest.raises(ValueError, match="registered twice"):
        readings.register_analysis(a3.name, lambda run: None, a3.covers)
    with pytest.raises(ValueError, match="names a file"):
        readings.register_analysis("a/b", lambda run: None, a3.covers)


def test_a_kept_analysis_is_read_a_stale_one_computed_and_an_edited_one_refused(tiny_copy, monkeypatch):
    run = Run("tiny", "attn-only-2l")
    calls = []
    analysis = readings.Analysis("test.marker", lambda r: calls.append(r.name) or {"x": 1.0}, lambda names: list(names))
    prov = Provenance(analysis)
    assert readings.analysis_value(run, analysis, prov) == {"x": 1.0} and calls == ["attn-only-2l"]
    readings.write_analysis(run, analysis, {"x": 2.0})  # a marker: read, not computed
    assert readings.analysis_value(run, analysis, prov) == {"x": 2.0} and calls == ["attn-only-2l"]
    assert prov.computed == ["attn-only-2l"] and prov.kept == ["attn-only-2l"]
    assert prov.line().startswith("test.marker of 1 runs read from their kept readings") and "1 computed now" in prov.line()
    path = run_dir("tiny", "attn-only-2l") / readings.ANALYSES_DIR / "test.marker.json"
    current = readings.Analysis.version
    monkeypatch.setattr(readings.Analysis, "version", property(lambda self: "0" * 16))  # the code changed
    assert readings.kept_analysis(run, analysis) is None
    monkeypatch.setattr(readings.Analysis, "version", current)
    assert readings.kept_analysis(run, analysis) == {"x": 2.0}
    path.write_text(path.read_text().replace("2.0", "3.0"))
    with pytest.raises(RunStoreError, match="test.marker.json"):
        readings.kept_analysis(run, analysis)


def test_ablation_controls_survive_their_json():
    from induction_heads.book.argument3 import AblationControls
    from induction_heads.measure.intervals import Interval

    c = AblationControls(("1.1", "1.3"), {"zero": Interval(0.8, 0.7, 0.9), "mean": Interval(0.6, 0.5, 0.7)},
                         {"zero": {"1.1": Interval(0.1, 0.0, 0.2), "1.3": Interval(0.3, 0.2, 0.4)}},
                         [(("1.0", "1.2"), Interval(0.05, 0.01, 0.09))])
    back = AblationControls.from_json(json.loads(json.dumps(c.to_json())))
    assert back == c and back.specific is True
