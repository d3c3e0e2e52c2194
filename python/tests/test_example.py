"""examples/python_quickstart.py runs (a few rounds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_quickstart(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python_quickstart.py"), "--out",
         str(tmp_path / "qs"), "--rounds", "3"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert p.returncode == 0, p.stderr
    assert "noise multiplier for epsilon 4" in p.stdout
    assert "after items 1 2 3: [(" in p.stdout
