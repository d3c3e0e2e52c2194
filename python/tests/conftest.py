"""Shared fixtures: the command-line binary to compare with, and a small
synthetic dataset with one federated run trained by both the CLI and Python.

Environment:
    FEDREC_BIN  the ``fedrec`` binary (scripts/test.sh sets it); without it
                ``build/apps/fedrec`` of this checkout, else the CLI
                comparisons are skipped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Tests never read or fill the user's dataset cache.
    os.environ["FEDREC_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def fedrec_bin() -> str:
    path = os.environ.get("FEDREC_BIN") or str(REPO / "build" / "apps" / "fedrec")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no fedrec binary at {path} (set FEDREC_BIN)")
    return path


class Cli:
    """Runs the fedrec binary; results as (exit code, stdout, stderr)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def run(self, *args: str) -> Tuple[int, str, str]:
        p = subprocess.run(
            [self.binary, "--log-level", "warn", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        return p.returncode, p.stdout, p.stderr

    def json(self, *args: str) -> Any:
        rc, out, err = self.run(*args)
        assert rc == 0, err
        return json.loads(out)

    def error(self, *args: str) -> str:
        """The message of a failing command, without the "fedrec: error: " prefix."""
        rc, _, err = self.run(*args)
        assert rc != 0
        line = err.strip().splitlines()[-1]
        prefix = "fedrec: error: "
        assert line.startswith(prefix), err
        return line[len(prefix):]


@pytest.fixture(scope="session")
def cli(fedrec_bin: str) -> Cli:
    return Cli(fedrec_bin)


@pytest.fixture(scope="session")
def synth_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import fedrec

    path = tmp_path_factory.mktemp("data") / "synth.txt"
    fedrec.data.synth(path, users=200, items=120, seed=3, mean_length=12, max_length=60)
    return path


def demo_config(data_path: Path, rounds: int = 3) -> Dict[str, Dict[str, Any]]:
    """scripts/demo.sh's federated SASRec, made small: seconds, not minutes."""
    return {
        "data": {"path": str(data_path), "max_len": 20},
        "model": {"type": "sasrec", "dim": 16, "blocks": 1, "dropout": 0.2},
        "train": {"local_epochs": 1, "local_lr": 0.1},
        "federation": {
            "mode": "federated",
            "workers": 2,
            "rounds": rounds,
            "sampling_rate": 0.2,
            "server_optimizer": "fedadam",
            "server_lr": 0.05,
        },
        "eval": {"every": 0},
        "checkpoint": {"every": 0},
    }


@pytest.fixture
def sigint_raises() -> Any:
    """SIGINT raises KeyboardInterrupt during the test, also when the suite was
    started with SIGINT ignored (Python then keeps it ignored: a background
    job of a non-interactive shell, e.g. CI under nohup)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_after_rounds(metrics: Path, rounds: int, timeout: float = 120.0) -> threading.Thread:
    """Sends this process SIGINT once `metrics` (a run's metrics.jsonl) holds
    `rounds` lines, i.e. mid-run at a known point, whatever the machine's
    speed. Started before the run; join it after."""

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(metrics) as f:
                    if sum(1 for _ in f) >= rounds:
                        break
            except OSError:
                pass
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def to_toml(config: Dict[str, Any]) -> str:
    """A small TOML writer for the test configs (strings, numbers, booleans)."""
    lines: List[str] = []
    for key, value in config.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {json.dumps(value)}")
    for section, keys in config.items():
        if isinstance(keys, dict):
            lines.append(f"[{section}]")
            for key, value in keys.items():
                v = ("true" if value else "false") if isinstance(value, bool) else json.dumps(value)
                lines.append(f"{key} = {v}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def demo_runs(
    cli: Cli, synth_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Dict[str, Any]:
    """The small demo trained by the CLI and by fedrec.train from the same TOML file."""
    import fedrec

    root = tmp_path_factory.mktemp("runs")
    config_path = root / "demo.toml"
    config_path.write_text(to_toml(demo_config(synth_path)))
    cli_summary = cli.json("train", "--config", str(config_path), "--out", str(root / "cli"))
    run = fedrec.train(config_path, out=root / "py")
    return {"config": config_path, "root": root, "cli": cli_summary, "py": run}
