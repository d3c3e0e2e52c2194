"""Ctrl-C and SIGTERM stop a run at a round boundary; resume ends exactly
where an uninterrupted run does (Python and the command line)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Dict

import pytest

import fedrec
from conftest import interrupt_after_rounds, to_toml

ROUNDS = 400


def config(synth_path: Path) -> Dict[str, Any]:
    # No periodic checkpoint: the interrupted run must write its own.
    return {
        "data": {"path": str(synth_path), "max_len": 20},
        "model": {"type": "sasrec", "dim": 8, "blocks": 1},
        "federation": {"mode": "federated", "workers": 2, "rounds": ROUNDS,
                       "sampling_rate": 0.2},
        "eval": {"every": 0},
        "checkpoint": {"every": 0},
    }


@pytest.fixture(scope="module")
def reference(synth_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    started = time.monotonic()
    run = fedrec.train(config(synth_path), out=out)
    return {"summary": run.summary, "seconds": time.monotonic() - started}


def checkpoint_rounds(run: Path) -> list:
    return sorted(int(p.name[5:13]) for p in (run / "checkpoints").glob("ckpt-*.ckpt"))


def test_keyboard_interrupt_stops_cleanly_and_resume_is_exact(
    synth_path: Path, tmp_path: Path, reference: Dict[str, Any], sigint_raises: None
) -> None:
    out = tmp_path / "run"
    watcher = interrupt_after_rounds(out / "metrics.jsonl", ROUNDS // 10)
    with pytest.raises(KeyboardInterrupt):
        fedrec.train(config(synth_path), out=out)
    watcher.join()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    stopped = summary["last_round"]
    assert 0 < stopped < ROUNDS, summary
    assert f"after round {stopped} of {ROUNDS}" in summary["stopped_reason"]
    assert checkpoint_rounds(out) == [stopped]
    assert sum(1 for _ in open(out / "metrics.jsonl")) == stopped

    resumed = fedrec.train(None, out=out, resume=True)
    assert "interrupted" not in resumed.summary
    assert resumed.summary["rounds_this_session"] == ROUNDS - stopped
    assert resumed.summary["model_sha256"] == reference["summary"]["model_sha256"]


def test_sigterm_stops_the_command_line_with_exit_130(
    fedrec_bin: str, synth_path: Path, tmp_path: Path, reference: Dict[str, Any]
) -> None:
    config_path = tmp_path / "run.toml"
    config_path.write_text(to_toml(config(synth_path)))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [fedrec_bin, "--log-level", "warn", "train", "--config", str(config_path), "--out",
         str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait for the first round, so the signal lands inside the round loop.
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists() or (out / "metrics.jsonl").stat().st_size == 0:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "fedrec: stopping after the current round" in stderr
    assert stderr.strip().splitlines()[-1].startswith("fedrec: interrupted: interrupted after round")
    assert json.loads(stdout)["interrupted"] is True

    rc = subprocess.run([fedrec_bin, "--log-level", "warn", "train", "--out", str(out), "--resume"],
                        capture_output=True, text=True, timeout=600)
    assert rc.returncode == 0, rc.stderr
    assert json.loads(rc.stdout)["model_sha256"] == reference["summary"]["model_sha256"]
