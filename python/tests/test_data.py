"""fedrec.data against `fedrec data stats|synth`."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import fedrec
from fedrec import _fedrec


def test_synth_defaults_are_the_generators() -> None:
    params = inspect.signature(fedrec.data.synth).parameters
    for name, value in _fedrec.SYNTH_DEFAULTS.items():
        assert params[name].default == value, name


def test_synth_same_bytes_as_cli(cli: Any, tmp_path: Path) -> None:
    py = fedrec.data.synth(tmp_path / "py.txt", users=150, items=80, seed=9, clusters=4,
                           p_markov=0.7, threads=2)
    cli.json("data", "synth", "--users", "150", "--items", "80", "--seed", "9", "--clusters",
             "4", "--p-markov", "0.7", "--out", str(tmp_path / "cli.txt"))
    assert (tmp_path / "py.txt").read_bytes() == (tmp_path / "cli.txt").read_bytes()
    assert py["out"] == str(tmp_path / "py.txt")
    assert (py["users"], py["items"], py["seed"]) == (150, 80, 9)
    assert py["bytes"] == (tmp_path / "py.txt").stat().st_size
    assert py["seconds"] >= 0


def test_synth_csv(tmp_path: Path) -> None:
    fedrec.data.synth(tmp_path / "s.csv", users=20, items=30, seed=1)
    assert (tmp_path / "s.csv").read_text().startswith("user,item,rating,timestamp\n")


def test_synth_errors_match_cli(cli: Any, tmp_path: Path) -> None:
    message = cli.error("data", "synth", "--users", "10", "--items", "5", "--clusters", "9",
                        "--out", str(tmp_path / "x.txt"))
    with pytest.raises(ValueError) as info:
        fedrec.data.synth(tmp_path / "x.txt", users=10, items=5, clusters=9)
    assert str(info.value) == message
    with pytest.raises(ValueError, match="synth: users"):
        fedrec.data.synth(tmp_path / "x.txt", users=-1)


def test_stats_matches_cli(cli: Any, synth_path: Path) -> None:
    assert fedrec.data.stats(synth_path) == cli.json("data", "stats", "--input", str(synth_path))
    filtered = fedrec.data.stats(synth_path, min_count=5, dedupe=True, use_cache=False)
    assert filtered == cli.json("data", "stats", "--input", str(synth_path), "--min-count", "5",
                                "--dedupe", "--no-cache")
    assert filtered["input"] == str(synth_path)
    assert set(filtered["sequence_length"]) == {"min", "median", "mean", "max"}


def test_stats_csv_options(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\tc\n" + "".join(f"{u}\tx\t{i}\n" for u in range(3) for i in range(4)))
    py = fedrec.data.stats(path, format="csv", csv_columns="0,2", csv_delimiter="tab")
    assert py == cli.json("data", "stats", "--input", str(path), "--format", "csv",
                          "--csv-columns", "0,2", "--csv-delimiter", "tab")
    assert (py["users"], py["items"], py["interactions"]) == (3, 4, 12)


@pytest.mark.parametrize(
    "kw, flags",
    [
        (dict(format="csv", csv_columns="0"), ["--format", "csv", "--csv-columns", "0"]),
        (dict(format="csv", csv_delimiter="ab"), ["--format", "csv", "--csv-delimiter", "ab"]),
        (dict(format="parquet"), ["--format", "parquet"]),
    ],
)
def test_stats_errors_match_cli(cli: Any, synth_path: Path, kw: Any, flags: Any) -> None:
    message = cli.error("data", "stats", "--input", str(synth_path), *flags)
    with pytest.raises(ValueError) as info:
        fedrec.data.stats(synth_path, **kw)
    assert str(info.value) == message


def test_stats_missing_file(cli: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    message = cli.error("data", "stats", "--input", str(missing))
    with pytest.raises(FileNotFoundError) as info:
        fedrec.data.stats(missing)
    assert str(info.value) == message


def test_stats_bad_data(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("1 2\n1 x\n")
    message = cli.error("data", "stats", "--input", str(path), "--format", "sasrec")
    with pytest.raises(ValueError) as info:
        fedrec.data.stats(path, format="sasrec")
    assert str(info.value) == message
