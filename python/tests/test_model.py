"""fedrec.load and Model against `fedrec inspect` and `fedrec recommend`."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

import fedrec


@pytest.fixture(scope="module")
def ckpt(demo_runs: Dict[str, Any]) -> Path:
    return demo_runs["py"].best_checkpoint


def test_spec_and_tensors_match_inspect(cli: Any, ckpt: Path) -> None:
    model = fedrec.load(ckpt)
    described = cli.json("inspect", str(ckpt), "--json")
    assert model.type == "sasrec"
    assert model.spec["type"] == "sasrec"
    assert model.spec["dim"] == 16 and model.spec["blocks"] == 1
    assert model.spec["num_items"] == model.num_items == len(model.item_ids())
    shapes = {t["name"]: (t["rows"], t["cols"]) for t in described["tensors"]}
    assert {name: a.shape for name, a in model.tensors.items()} == shapes
    for array in model.tensors.values():
        assert array.dtype == np.float32 and array.flags.c_contiguous
    assert "Model(type='sasrec'" in repr(model)


def test_tensors_are_read_only_views(ckpt: Path) -> None:
    model = fedrec.load(ckpt)
    name, array = next(iter(model.tensors.items()))
    assert not array.flags.writeable and not array.flags.owndata
    with pytest.raises(ValueError):
        array[0, 0] = 1.0
    # No copy: a second look sees the same memory.
    again = model._impl.tensors()[name]
    assert again.ctypes.data == array.ctypes.data
    # The arrays keep the model alive.
    copy = array.copy()
    del model, again
    gc.collect()
    np.testing.assert_array_equal(array, copy)
    assert np.isfinite(array).all()


@pytest.mark.parametrize("history, k", [([1, 2, 3], 5), ([7], 200), ([4, 4, 9, 1], 1)])
def test_recommend_matches_cli(cli: Any, ckpt: Path, history: list, k: int) -> None:
    model = fedrec.load(ckpt)
    expected = cli.json("recommend", "--checkpoint", str(ckpt), "--history",
                        " ".join(map(str, history)), "-k", str(k))
    got = model.recommend(history, k=k)
    assert got == [(r["item"], r["score"]) for r in expected["recommendations"]]
    assert all(item not in history for item, _ in got)
    with_history = model.recommend(history, k=model.num_items, include_history=True)
    assert len(with_history) == model.num_items


def test_recommend_errors_match_cli(cli: Any, ckpt: Path) -> None:
    model = fedrec.load(ckpt)
    message = cli.error("recommend", "--checkpoint", str(ckpt), "--history", "1 99999")
    with pytest.raises(ValueError) as info:
        model.recommend([1, 99999])
    assert str(info.value) == message
    message = cli.error("recommend", "--checkpoint", str(ckpt), "--history", "1", "--user", "424242")
    with pytest.raises(ValueError) as info:
        model.recommend([1], user=424242)
    assert str(info.value) == message
    with pytest.raises(ValueError, match="-k must be at least 1"):
        model.recommend([1], k=0)


def test_load_errors_match_cli(cli: Any, tmp_path: Path) -> None:
    missing = tmp_path / "none.ckpt"
    message = cli.error("recommend", "--checkpoint", str(missing), "--history", "1")
    with pytest.raises(FileNotFoundError) as info:
        fedrec.load(missing)
    assert str(info.value) == message

    not_ckpt = tmp_path / "text.ckpt"
    not_ckpt.write_text("hello, this is not a checkpoint at all; long enough for a header\n")
    message = cli.error("recommend", "--checkpoint", str(not_ckpt), "--history", "1")
    with pytest.raises(ValueError) as info:
        fedrec.load(not_ckpt)
    assert str(info.value) == message


def test_damaged_checkpoint_is_runtime_error(ckpt: Path, tmp_path: Path) -> None:
    data = bytearray(ckpt.read_bytes())
    data[-1] ^= 0xFF  # a payload bit: digest mismatch (DataLoss)
    damaged = tmp_path / "damaged.ckpt"
    damaged.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="digest mismatch"):
        fedrec.load(damaged)


def test_federated_mf_reads_the_workers_local_shards(
    cli: Any, synth_path: Path, tmp_path: Path
) -> None:
    # User embeddings stay with the workers that own them: the checkpoint
    # holds the item side, each worker's shard beside it its users' rows.
    config = {
        "data": {"path": str(synth_path)},
        "model": {"type": "mf_bpr", "dim": 8},
        "federation": {"mode": "federated", "workers": 2, "rounds": 2, "sampling_rate": 0.5},
        "eval": {"every": 1},
        "checkpoint": {"every": 0},
    }
    run = fedrec.train(config, out=tmp_path / "mf")
    shards = sorted(p.name for p in run.best_checkpoint.parent.glob("best.*.local"))
    assert len(shards) == 2, shards
    user = int(synth_path.read_text().split()[0])
    model = fedrec.load(run.best_checkpoint)
    expected = cli.json("recommend", "--checkpoint", str(run.best_checkpoint), "--history", "1",
                        "--user", str(user), "-k", "5")
    assert model.recommend([1], user=user, k=5) == [
        (r["item"], r["score"]) for r in expected["recommendations"]
    ]
    # Without its shards the model cannot be built: the error names the file.
    (run.best_checkpoint.parent / shards[0]).unlink()
    with pytest.raises(Exception, match=shards[0].replace(".", r"\.")):
        fedrec.load(run.best_checkpoint)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"protocol": "full", "split": "valid", "k": 5},
        {"negatives": 30, "seed": 11, "threads": 1},
    ],
)
def test_evaluate_matches_cli(cli: Any, ckpt: Path, synth_path: Path, options: Dict) -> None:
    flags = []
    for key, value in options.items():
        flags += ["-k" if key == "k" else "--" + key, str(value)]
    expected = cli.json("eval", "--checkpoint", str(ckpt), "--data", str(synth_path), *flags)
    got = fedrec.load(ckpt).evaluate(synth_path, **options)
    expected.pop("seconds")
    assert got.pop("seconds") >= 0
    assert got == expected


def test_evaluate_errors_match_cli(cli: Any, ckpt: Path, synth_path: Path, tmp_path: Path) -> None:
    model = fedrec.load(ckpt)
    message = cli.error("eval", "--checkpoint", str(ckpt), "--data", str(synth_path),
                        "--negatives", "100000")
    with pytest.raises(ValueError) as error:
        model.evaluate(synth_path, negatives=100000)
    assert str(error.value) == message
    with pytest.raises(ValueError, match="protocol 'best'"):
        model.evaluate(synth_path, protocol="best")
    with pytest.raises(FileNotFoundError):
        model.evaluate(tmp_path / "missing.txt")
    # Other data: its items are not the model's.
    other = tmp_path / "other.txt"
    fedrec.data.synth(other, users=50, items=40, seed=1)
    with pytest.raises(ValueError, match="do not match the checkpoint"):
        model.evaluate(other)
