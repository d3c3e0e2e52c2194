"""fedrec.train against `fedrec train`: the same model, bit for bit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import fedrec
from conftest import demo_config


def cli_config(tmp_path: Path, overrides: List[str]) -> List[str]:
    """The CLI's spelling of a dict config: an empty TOML file plus --set flags
    (`fedrec train` requires --config; fedrec.train does not)."""
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    return ["--config", str(empty)] + [a for o in overrides for a in ("--set", o)]


def test_same_model_as_cli(demo_runs: Dict[str, Any]) -> None:
    run = demo_runs["py"]
    assert isinstance(run, fedrec.Run)
    assert run.summary["model_sha256"] == demo_runs["cli"]["model_sha256"]
    # The run directory is the command line's too.
    assert (run.out / "config.toml").read_text() == (
        demo_runs["root"] / "cli" / "config.toml"
    ).read_text()
    on_disk = json.loads((run.out / "summary.json").read_text())
    assert on_disk["model_sha256"] == run.summary["model_sha256"]


def test_dict_config_same_model(demo_runs: Dict[str, Any], synth_path: Path,
                                tmp_path: Path) -> None:
    run = fedrec.train(demo_config(synth_path), out=tmp_path / "dict")
    assert run.summary["model_sha256"] == demo_runs["cli"]["model_sha256"]


def test_overrides(cli: Any, demo_runs: Dict[str, Any], tmp_path: Path) -> None:
    overrides = ["federation.rounds=2", "model.dropout=0.1"]
    run = fedrec.train(demo_runs["config"], out=tmp_path / "py", overrides=overrides)
    expected = cli.json("train", "--config", str(demo_runs["config"]), "--set", overrides[0],
                        "--set", overrides[1], "--out", str(tmp_path / "cli"))
    assert run.summary["model_sha256"] == expected["model_sha256"]
    assert run.summary["model_sha256"] != demo_runs["cli"]["model_sha256"]


def test_metrics(demo_runs: Dict[str, Any]) -> None:
    run = demo_runs["py"]
    metrics = run.metrics
    assert [m["round"] for m in metrics if "loss" in m][-1] == 3
    assert all(isinstance(m, dict) for m in metrics)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs pandas"):
            run.dataframe()
    else:
        assert len(run.dataframe()) == len(metrics)


def test_dataframe_without_pandas(demo_runs: Dict[str, Any],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match="needs pandas"):
        demo_runs["py"].dataframe()


def test_reopen_run(demo_runs: Dict[str, Any]) -> None:
    again = fedrec.Run(demo_runs["py"].out)
    assert again.summary == json.loads((demo_runs["py"].out / "summary.json").read_text())
    assert again.best_checkpoint.exists()


def test_gil_released(synth_path: Path, tmp_path: Path) -> None:
    # A Python thread keeps running while the run trains: the longest pause
    # between its ticks stays far below the run's length. (Were the GIL held,
    # the ticker would stall for the whole run.)
    # Long enough (about a second on an AVX2 build) to tell a stall from the
    # run's own length on any build.
    config = demo_config(synth_path, rounds=240)
    config["model"]["dim"] = 32
    config["federation"]["sampling_rate"] = 0.5
    longest = 0.0
    stop = threading.Event()

    def tick() -> None:
        nonlocal longest
        last = time.monotonic()
        while not stop.is_set():
            time.sleep(0.0005)
            now = time.monotonic()
            longest = max(longest, now - last)
            last = now

    thread = threading.Thread(target=tick)
    thread.start()
    try:
        start = time.monotonic()
        fedrec.train(config, out=tmp_path / "run")
        seconds = time.monotonic() - start
    finally:
        stop.set()
        thread.join()
    assert seconds > 0.2, "the run is too short to tell"
    assert longest < seconds / 2


def test_central(cli: Any, synth_path: Path, tmp_path: Path) -> None:
    config = {
        "data": {"path": str(synth_path)},
        "model": {"type": "mf_bpr", "dim": 8},
        "train": {"epochs": 2, "batch_size": 32, "lr": 0.01},
        "federation": {"mode": "central"},
        "eval": {"every": 0},
        "checkpoint": {"every": 0},
    }
    run = fedrec.train(config, out=tmp_path / "py")
    expected = cli.json("train", *cli_config(tmp_path, fedrec.training.config_overrides(config)),
                        "--out", str(tmp_path / "cli"))
    assert run.summary["model_sha256"] == expected["model_sha256"]


def test_resume_finished_run(demo_runs: Dict[str, Any], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(demo_runs["py"].out, copy)
    run = fedrec.train(None, out=copy, resume=True)
    assert run.summary["model_sha256"] == demo_runs["cli"]["model_sha256"]


def test_resume_other_config_refused(cli: Any, demo_runs: Dict[str, Any]) -> None:
    out = demo_runs["py"].out
    message = cli.error("train", "--resume", "--out", str(out), "--set", "seed=7")
    with pytest.raises(ValueError) as info:
        fedrec.train(None, out=out, overrides=["seed=7"], resume=True)
    assert str(info.value) == message


def test_existing_run_dir_refused(cli: Any, demo_runs: Dict[str, Any]) -> None:
    out = demo_runs["py"].out
    message = cli.error("train", "--config", str(demo_runs["config"]), "--out", str(out))
    with pytest.raises(RuntimeError) as info:  # AlreadyExists
        fedrec.train(demo_runs["config"], out=out)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "config, overrides, error",
    [
        ({"model": {"dimm": 3}}, [], ValueError),
        ({"model": {"type": "bert"}}, [], ValueError),
        ({}, ["train.lr=abc"], ValueError),
        ({"data": {"path": "/nonexistent/fedrec.txt"}}, [], FileNotFoundError),
    ],
)
def test_config_errors_match_cli(cli: Any, tmp_path: Path, config: Dict[str, Any],
                                 overrides: list, error: type) -> None:
    sets = fedrec.training.config_overrides(config) + overrides
    message = cli.error("train", *cli_config(tmp_path, sets), "--out", str(tmp_path / "cli"))
    with pytest.raises(error) as info:
        fedrec.train(config, out=tmp_path / "py", overrides=overrides)
    assert str(info.value) == message
    assert not (tmp_path / "py").exists()


def test_missing_config_file(cli: Any, tmp_path: Path) -> None:
    missing = tmp_path / "none.toml"
    message = cli.error("train", "--config", str(missing), "--out", str(tmp_path / "cli"))
    with pytest.raises(FileNotFoundError) as info:
        fedrec.train(missing, out=tmp_path / "py")
    assert str(info.value) == message


def test_config_overrides_literals() -> None:
    assert fedrec.training.config_overrides(
        {"seed": 3, "data": {"path": 'a "b"\\c', "dedupe_consecutive": True},
         "train": {"lr": 1e-5}, "privacy": {"target_epsilon": None}}
    ) == ['seed=3', 'data.path="a \\"b\\"\\\\c"', "data.dedupe_consecutive=true",
          "train.lr=1e-05"]
    resolved = fedrec.training.resolve_config({"data": {"path": 'a "b"\\c'}, "train.lr": 0.25})
    assert 'path = "a \\"b\\"\\\\c"' in resolved
    assert "lr = 0.25" in resolved
    with pytest.raises(TypeError):
        fedrec.training.config_overrides({"model": {"dim": [1]}})


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="no mpirun")
def test_under_mpirun(demo_runs: Dict[str, Any], tmp_path: Path) -> None:
    # The module links Open MPI: one coordinator and two worker ranks, each a
    # Python process, train the same model as the threads.
    out = tmp_path / "mpi"
    script = (
        "import sys, fedrec; r = fedrec.train(sys.argv[1], out=sys.argv[2]); "
        "print(r.summary.get('model_sha256', ''))"
    )
    env = dict(__import__("os").environ, OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    p = subprocess.run(
        ["mpirun", "--oversubscribe", "-np", "3", sys.executable, "-c", script,
         str(demo_runs["config"]), str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert p.returncode == 0, p.stderr
    shas = [line for line in p.stdout.split() if line]
    assert demo_runs["cli"]["model_sha256"] in shas
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_sha256"] == demo_runs["cli"]["model_sha256"]
    assert summary["backend"] == "mpi" and summary["workers"] == 2
