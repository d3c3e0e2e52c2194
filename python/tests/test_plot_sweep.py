"""scripts/plot_sweep.py on sweep.csv files written here: one sweep, several
sweeps in one plot, and its refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts" / "plot_sweep.py"
HEADER = ("epsilon,epsilon_spent,sigma,rounds,HR@10,NDCG@10,full_HR@10,full_NDCG@10,"
          "wall_seconds\n")


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300)


def write_sweep(directory: Path, hr: list[float]) -> Path:
    directory.mkdir()
    rows = [f"{e},{e if e != 'inf' else 0},1.0,300,{h},{h / 2},{h / 5},{h / 10},12.5\n"
            for e, h in zip(["1", "2", "4", "8", "inf"], hr)]
    (directory / "sweep.csv").write_text(HEADER + "".join(rows))
    return directory


def is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000


def test_one_sweep_writes_its_png_beside_the_csv(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="python3-matplotlib is not installed")
    d = write_sweep(tmp_path / "eps", [0.1, 0.2, 0.3, 0.4, 0.5])
    p = run_script(str(d))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(d / "sweep.png") and is_png(d / "sweep.png")


def test_two_sweeps_in_one_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="python3-matplotlib is not installed")
    a = write_sweep(tmp_path / "id-r300", [0.1, 0.1, 0.2, 0.2, 0.3])
    b = write_sweep(tmp_path / "text-r300", [0.5, 0.6, 0.7, 0.7, 0.8])
    out = tmp_path / "both.png"
    p = run_script("--out", str(out), str(a), str(b))
    assert p.returncode == 0, p.stderr
    assert is_png(out)
    # Several sweeps need an explicit output.
    p = run_script(str(a), str(b))
    assert p.returncode == 2 and "--out is required" in p.stderr


def test_bad_sweeps_get_one_line_and_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="python3-matplotlib is not installed")
    p = run_script(str(tmp_path / "missing"))
    assert p.returncode == 2 and "sweep.csv: no such file or directory" in p.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "sweep.csv").write_text(HEADER)
    p = run_script(str(empty))
    assert p.returncode == 2 and p.stderr.strip().endswith("sweep.csv: no rows")
    bad = write_sweep(tmp_path / "bad", [0.1, 0.2, 0.3, 0.4, 0.5])
    text = (bad / "sweep.csv").read_text().replace("0.3,", "x,", 1)
    (bad / "sweep.csv").write_text(text)
    p = run_script(str(bad))
    assert p.returncode == 2 and "sweep.csv:4: not a sweep row" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
