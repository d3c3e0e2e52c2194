"""scripts/plot_run.py on a real run directory, and its refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts" / "plot_run.py"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300)


def test_report_png_of_a_federated_run(demo_runs: Dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="python3-matplotlib is not installed")
    out = tmp_path / "report.png"
    p = run_script(str(demo_runs["py"].out), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000


def test_bad_run_directories_get_one_line_and_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="python3-matplotlib is not installed")
    p = run_script(str(tmp_path / "missing"))
    assert p.returncode == 2 and p.stderr.strip().endswith("not a directory")
    p = run_script(str(tmp_path))
    assert p.returncode == 2 and "metrics.jsonl: no such file" in p.stderr
    (tmp_path / "metrics.jsonl").write_text('{"round": 1, "loss": 1}\nnot json\n{"round": 3}\n')
    p = run_script(str(tmp_path))
    assert p.returncode == 2 and "metrics.jsonl:2: not JSON" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
