"""Shared fixtures. Tests that need a size's data build the tiny size's tokenizer and
evaluation set in a temporary data folder, never in the repository's data/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _book_runs_folder(monkeypatch):
    """Tests read and write the runs folder the book reads, whatever the shell exported."""
    monkeypatch.delenv("INDUCTION_HEADS_RUNS", raising=False)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    import os

    from induction_heads.engine.dataset import prepare_data

    root = tmp_path_factory.mktemp("data")
    old = os.environ.get("INDUCTION_HEADS_DATA")
    os.environ["INDUCTION_HEADS_DATA"] = str(root)
    try:
        prepare_data("tiny", log=lambda *_: None)
    finally:
        if old is None:
            del os.environ["INDUCTION_HEADS_DATA"]
        else:
            os.environ["INDUCTION_HEADS_DATA"] = old
    return root


@pytest.fixture
def tiny_data(tiny_data_dir, monkeypatch):
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(tiny_data_dir))
    return tiny_data_dir


@pytest.fixture
def tiny_zoo(monkeypatch):
    """The committed tiny zoo in the repository's data/ (read-only)."""
    from pathlib import Path

    from induction_heads.engine.runs import RUNS_FOLDER

    root = Path(__file__).resolve().parents[1] / "data"
    if not (root / "tiny" / RUNS_FOLDER / "attn-only-2l" / "info.json").exists():
        pytest.fail("the committed tiny zoo is missing; run `python -m induction_heads zoo --size tiny --jobs 2`")
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(root))
    return root
