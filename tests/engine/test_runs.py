"""The run store verifies itself: every writer records a file's sha256 in its manifest, every
reader checks it (once per file per process), `verify` checks a whole size, and Colab's fetch
is checked the same way. The damaged files are the kind a reader would not notice: bytes
flipped inside a tensor's data still load."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import torch
from safetensors.torch import load_file

from induction_heads.engine import runs
from induction_heads.engine import store as store_io
from induction_heads.engine.runs import RUNS_FOLDER
from induction_heads.engine.store import MANIFEST, RunStoreError

torch.set_num_threads(1)

MODEL = "attn-only-1l"
TRAIN_HINT = f"python -m induction_heads train --size tiny --model {MODEL}"
DATA_HINT = "python -m induction_heads data --size tiny"


@pytest.fixture(scope="module")
def trained_store(tiny_data_dir, tmp_path_factory):
    """A data folder with the tiny size's data and one run of ``MODEL`` that this process
    trained in two parts (stopped after step 47, then resumed to the end). Returns the folder
    and the run's manifest entries while it was stopped."""
    from induction_heads.engine.train import train

    root = tmp_path_factory.mktemp("store") / "data"
    shutil.copytree(tiny_data_dir, root, ignore=shutil.ignore_patterns(RUNS_FOLDER))  # other tests' runs
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INDUCTION_HEADS_DATA", str(root))
        run = train("tiny", MODEL, progress=False, stop_after_step=47)
        stopped = _entries(run)
        train("tiny", MODEL, progress=False)
    return root, stopped


@pytest.fixture
def store(trained_store, tmp_path, monkeypatch):
    """A copy of the trained store that a test may damage."""
    root = tmp_path / "data"
    shutil.copytree(trained_store[0], root)
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(root))
    return root


def _entries(folder) -> dict[str, str]:
    return json.loads((folder / MANIFEST).read_text())["sha256"]


def _files(folder) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST}


def _flip_tensor_bytes(path, n: int = 100) -> None:
    """Invert ``n`` bytes in the middle of the data of the file's largest tensor (the header and
    every other byte stay as they were, so safetensors still loads the file)."""
    raw = bytearray(path.read_bytes())
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    start, end = max((v["data_offsets"] for k, v in header.items() if k != "__metadata__"), key=lambda o: o[1] - o[0])
    assert end - start > n
    at = 8 + header_len + (start + end) // 2 - n // 2
    raw[at : at + n] = bytes(b ^ 0xFF for b in raw[at : at + n])
    path.write_bytes(raw)


def _expect_one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and all(p in msg for p in parts), msg


# ---------------------------------------------------------------- what the writers leave


@pytest.mark.slow
def test_resumed_and_finished_run_leaves_a_manifest_of_exactly_its_files(trained_store, monkeypatch):
    root, stopped = trained_store
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(root))
    run = runs.run_dir("tiny", MODEL)
    assert "resume.safetensors" in stopped and "train.log" not in stopped
    entries = _entries(run)
    assert set(entries) == _files(run)  # every file listed, nothing else
    assert "resume.safetensors" not in entries and "train.log" in entries
    kept = {f"{runs.CHECKPOINTS}/{runs.checkpoint_file(s)}" for s in runs.run_info("tiny", MODEL)["checkpoints"]}
    deleted = {r for r in stopped if r.startswith("checkpoints/")} - kept
    assert deleted and not deleted & set(entries)
    assert "writing" not in json.loads((run / MANIFEST).read_text())
    assert set(_entries(root / "tiny")) == {"corpus_manifest.json", "eval.safetensors", "token_counts.safetensors",
                                            "tokenizer/tokenizer.json", "tokenizer/tokenizer_config.json"}
    assert runs.verify_store("tiny").problems == []


@pytest.mark.slow
def test_manifest_is_sorted_relative_json(trained_store):
    text = (trained_store[0] / "tiny" / MANIFEST).read_text()
    assert text == json.dumps({"sha256": json.loads(text)["sha256"]}, indent=1, sort_keys=True) + "\n"
    assert all(not k.startswith("/") for k in json.loads(text)["sha256"])


# ---------------------------------------------------------------- verification on read


@pytest.mark.slow
def test_flipped_bytes_in_a_checkpoint_tensor_are_one_line_error(store):
    path = runs.run_dir("tiny", MODEL) / runs.CHECKPOINTS / runs.checkpoint_file(runs.list_checkpoints("tiny", MODEL)[-1])
    runs.load_model("tiny", MODEL)  # fine before, and remembered as checked
    before = {k: v.clone() for k, v in load_file(str(path)).items()}  # not a view of the file
    _flip_tensor_bytes(path)
    after = load_file(str(path))  # safetensors alone does not notice
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(RunStoreError) as e:
        runs.load_model("tiny", MODEL)
    _expect_one_line(e, str(path), "damaged", TRAIN_HINT)


@pytest.mark.slow
def test_flipped_bytes_in_metrics_are_one_line_error(store):
    path = runs.run_dir("tiny", MODEL) / "metrics.safetensors"
    _flip_tensor_bytes(path)
    with pytest.raises(RunStoreError) as e:
        runs.load_metrics("tiny", MODEL)
    _expect_one_line(e, str(path), "damaged", TRAIN_HINT)


@pytest.mark.slow
def test_each_file_is_hashed_once_per_process_while_unchanged(store, monkeypatch):
    calls = []
    real = store_io.sha256_file
    monkeypatch.setattr(store_io, "sha256_file", lambda p: calls.append(p) or real(p))
    runs.load_metrics("tiny", MODEL)
    runs.load_metrics("tiny", MODEL)
    assert len(calls) == 1
    path = runs.run_dir("tiny", MODEL) / "metrics.safetensors"
    path.write_bytes(path.read_bytes())  # same bytes, new mtime: checked again
    runs.load_metrics("tiny", MODEL)
    assert len(calls) == 2


@pytest.mark.slow
def test_file_missing_from_its_manifest(store):
    run = runs.run_dir("tiny", MODEL)
    table = _entries(run)
    del table["metrics.safetensors"]
    (run / MANIFEST).write_text(json.dumps({"sha256": table}))
    with pytest.raises(RunStoreError) as e:
        runs.load_metrics("tiny", MODEL)
    _expect_one_line(e, str(run / "metrics.safetensors"), "not listed", TRAIN_HINT)


@pytest.mark.slow
def test_run_without_manifest_names_the_trust_command(store):
    (runs.run_dir("tiny", MODEL) / MANIFEST).unlink()
    with pytest.raises(RunStoreError) as e:
        runs.available_runs("tiny")
    _expect_one_line(e, "info.json", "has no manifest", TRAIN_HINT, "verify --size tiny --write")


@pytest.mark.slow
def test_damaged_or_missing_tokenizer_file(store):
    folder = runs.size_dir("tiny") / "tokenizer"
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text.replace('"Ġ', '"G', 1))
    with pytest.raises(RunStoreError) as e:
        runs.load_tokenizer("tiny")
    _expect_one_line(e, str(folder / "tokenizer.json"), "damaged", DATA_HINT)
    (folder / "tokenizer.json").write_text(text)
    (folder / "tokenizer_config.json").unlink()
    with pytest.raises(RunStoreError) as e:
        runs.load_tokenizer("tiny")
    _expect_one_line(e, str(folder / "tokenizer_config.json"), "missing", DATA_HINT)


# ---------------------------------------------------------------- outside data/: calibration sweeps


def test_sweep_folder_gets_its_own_manifest_and_survives_an_interrupted_write(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "sweep" / "lr2e-3-attn-only-2l"
    path = run / "metrics.safetensors"
    store_io.atomic_save_tensors({"x": torch.zeros(3)}, path)
    assert set(_entries(run)) == {"metrics.safetensors"}

    real_replace = store_io.os.replace
    monkeypatch.setattr(store_io.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):  # killed before the move: the old file stays valid
        store_io.atomic_save_tensors({"x": torch.ones(3)}, path)
    assert torch.equal(store_io.read_tensors(path, "rerun the sweep")["x"], torch.zeros(3))
    monkeypatch.setattr(store_io.os, "replace", real_replace)

    real_update = store_io._update_manifest
    calls = []
    def killed_after_move(manifest, change):
        calls.append(manifest)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_update(manifest, change)
    monkeypatch.setattr(store_io, "_update_manifest", killed_after_move)
    with pytest.raises(KeyboardInterrupt):  # killed after the move: the new file is valid too
        store_io.atomic_save_tensors({"x": torch.full((3,), 2.0)}, path)
    monkeypatch.setattr(store_io, "_update_manifest", real_update)
    assert torch.equal(store_io.read_tensors(path, "rerun the sweep")["x"], torch.full((3,), 2.0))

    _flip_tensor_bytes(path, n=4)
    with pytest.raises(RunStoreError, match="damaged .*rerun the sweep"):
        store_io.read_tensors(path, "rerun the sweep")


def test_folder_outside_data_without_manifest_is_read_as_before(tiny_data, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "old-sweep" / "metrics.safetensors"
    path.parent.mkdir()
    save_file({"x": torch.zeros(2)}, str(path))
    assert torch.equal(store_io.read_tensors(path, "rerun the sweep")["x"], torch.zeros(2))


# ---------------------------------------------------------------- the verify command


@pytest.mark.slow
def test_verify_command(store, capsys):
    from induction_heads.cli import main

    assert main(["verify", "--size", "tiny"]) == 0
    assert "files" in capsys.readouterr().out
    _flip_tensor_bytes(runs.run_dir("tiny", MODEL) / "metrics.safetensors")
    (runs.size_dir("tiny") / "notes.txt").write_text("unlisted")
    (runs.run_dir("tiny", MODEL) / "info.json").rename(runs.run_dir("tiny", MODEL) / "info.json.bak")
    assert main(["verify", "--size", "tiny"]) == 2
    out, err = capsys.readouterr()
    assert "metrics.safetensors is damaged" in out and "notes.txt is not listed" in out
    assert "info.json.bak is not listed" in out and "missing" in out and TRAIN_HINT in out
    assert err.count("\n") == 1 and err.startswith("error: 4 problem(s)")
    assert main(["verify", "--size", "tiny", "--write"]) == 0
    assert main(["verify", "--size", "tiny"]) == 0


# ---------------------------------------------------------------- Colab's fetch


def _git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def _sparse_clone(src, dest, monkeypatch):
    _git("clone", "-q", "--sparse", src.as_uri(), str(dest), cwd=src.parent)
    monkeypatch.setenv("INDUCTION_HEADS_CHECKOUT", str(dest))
    monkeypatch.setenv("INDUCTION_HEADS_DATA", str(dest / "data"))


@pytest.mark.slow
def test_colab_fetch_is_verified(trained_store, tmp_path, monkeypatch):
    from induction_heads.book.chapter import ensure_data

    src = tmp_path / "repo"
    shutil.copytree(trained_store[0] / "tiny", src / "data" / "tiny", ignore=shutil.ignore_patterns("cache"))
    (src / "README.md").write_text("repo\n")
    _git("init", "-q", cwd=src)
    _git("add", ".", cwd=src)
    _git("commit", "-q", "-m", "store", cwd=src)
    _sparse_clone(src, tmp_path / "good", monkeypatch)
    assert not (tmp_path / "good" / "data" / "tiny").exists()
    ensure_data("tiny")
    assert (tmp_path / "good" / "data" / "tiny" / RUNS_FOLDER / MODEL / "info.json").exists()

    _flip_tensor_bytes(src / "data" / "tiny" / RUNS_FOLDER / MODEL / "metrics.safetensors")
    _git("commit", "-q", "-am", "damaged", cwd=src)
    _sparse_clone(src, tmp_path / "bad", monkeypatch)
    with pytest.raises(RunStoreError) as e:
        ensure_data("tiny")
    _expect_one_line(e, "metrics.safetensors", "damaged", TRAIN_HINT)


@pytest.mark.slow
def test_a_retrain_trains_into_another_runs_folder_that_the_book_does_not_read(store, monkeypatch):
    """INDUCTION_HEADS_RUNS sends training (and every reader) to another folder of data/<size>/;
    without it the runs the book reads are untouched and the staged run is not among them."""
    from induction_heads.engine.runs import available_runs, run_dir, runs_folder
    from induction_heads.engine.train import train

    before = _entries(store / "tiny" / RUNS_FOLDER / MODEL)
    monkeypatch.setenv("INDUCTION_HEADS_RUNS", "next-recipe")
    assert runs_folder() == "next-recipe" and run_dir("tiny", "smeared-1l") == store / "tiny" / "next-recipe" / "smeared-1l"
    run = train("tiny", "smeared-1l", progress=False, stop_after_step=20)
    assert (run / "resume.safetensors").is_file() and available_runs("tiny") == []
    assert runs.verify_store("tiny").problems == []  # a run still training: its log is recorded when it finishes
    assert train("tiny", "smeared-1l", progress=False) == run == store / "tiny" / "next-recipe" / "smeared-1l"
    assert available_runs("tiny") == ["smeared-1l"] and "train.log" in _entries(run)
    monkeypatch.delenv("INDUCTION_HEADS_RUNS")
    assert runs_folder() == RUNS_FOLDER and available_runs("tiny") == [MODEL]
    assert _entries(store / "tiny" / RUNS_FOLDER / MODEL) == before
    assert runs.verify_store("tiny").problems == []  # the staged run has its own manifest
    (run / "metrics.safetensors").write_bytes(b"damaged")  # a damaged staged file names its own folder's command
    problem, = runs.verify_store("tiny").problems
    assert "INDUCTION_HEADS_RUNS=next-recipe python -m induction_heads train --size tiny --model smeared-1l" in problem
    assert str(store / "tiny" / "next-recipe" / "smeared-1l") in problem
