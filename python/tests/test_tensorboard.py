"""A run's tb/ event file read by TensorBoard's own loader (when installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest


def test_tensorboard_reads_the_runs_scalars(demo_runs: Dict[str, Any]) -> None:
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="the tensorboard package is not installed",
    )
    run = demo_runs["py"]
    tb = Path(run.out) / "tb"
    files = list(tb.glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    acc = accumulator.EventAccumulator(str(tb), size_guidance={accumulator.SCALARS: 0})
    acc.Reload()
    lines = run.metrics
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == [line["round"] for line in lines]
    for event, line in zip(loss, lines):
        assert event.value == pytest.approx(line["loss"], rel=1e-6)
        assert event.wall_time == pytest.approx(line["wall_time"])
    assert "seconds/local_train" in acc.Tags()["scalars"]
