"""fedrec.sweep against `fedrec sweep`; Ctrl-C stops a sweep that a second call resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import fedrec
from conftest import interrupt_after_rounds, to_toml


def config(synth_path: Path, rounds: int) -> Dict[str, Any]:
    return {
        "seed": 1,
        "data": {"path": str(synth_path), "max_len": 20},
        "model": {"type": "gru4rec", "dim": 8, "blocks": 1},
        "federation": {"mode": "federated", "workers": 2, "rounds": rounds,
                       "sampling_rate": 0.2},
        "privacy": {"noise_seed": 3},
        "eval": {"every": 2},
        "checkpoint": {"every": 0},
    }


def without_times(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{k: v for k, v in row.items() if "seconds" not in k} for row in rows]


def test_sweep_matches_cli(cli: Any, synth_path: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "sweep.toml"
    config_path.write_text(to_toml(config(synth_path, rounds=4)))
    expected = cli.json("sweep", "--config", str(config_path), "--epsilons", "2,inf", "--out",
                        str(tmp_path / "cli"))
    rows = fedrec.sweep(config_path, out=tmp_path / "py", epsilons=[2, float("inf")])
    assert len(rows) == 2
    assert without_times(rows) == without_times(expected)
    assert rows[1]["epsilon"] == "inf" and rows[1]["sigma"] == 0.0
    assert (tmp_path / "py" / "sweep.csv").read_text().startswith("epsilon,epsilon_spent,sigma")
    with pytest.raises(ValueError, match="epsilons"):
        fedrec.sweep(config_path, out=tmp_path / "bad", epsilons="1,-2")


def test_keyboard_interrupt_stops_the_sweep_and_a_second_call_resumes_it(
    synth_path: Path, tmp_path: Path, sigint_raises: None
) -> None:
    rounds = 1000
    reference = fedrec.sweep(config(synth_path, rounds), out=tmp_path / "ref", epsilons="inf")

    out = tmp_path / "sweep"
    watcher = interrupt_after_rounds(out / "eps-inf" / "metrics.jsonl", rounds // 10)
    with pytest.raises(KeyboardInterrupt):
        fedrec.sweep(config(synth_path, rounds), out=out, epsilons="inf")
    watcher.join()
    summary = json.loads((out / "eps-inf" / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert not (out / "sweep.csv").exists()

    # The interrupted run is resumed, not reused: the model is the reference's.
    rows = fedrec.sweep(config(synth_path, rounds), out=out, epsilons="inf")
    assert without_times(rows) == without_times(reference)
    resumed = json.loads((out / "eps-inf" / "summary.json").read_text())
    ref = json.loads((tmp_path / "ref" / "eps-inf" / "summary.json").read_text())
    assert "interrupted" not in resumed
    assert resumed["model_sha256"] == ref["model_sha256"]
