#!/usr/bin/env python3
"""Losses compared at equal training time, on ML-100K, central training.

The converged runs of bench/recipes_ml100k.sh (RUNS_DIR/<row>-s<seed>/, each
with its resolved config.toml and a metrics.jsonl holding the validation
full NDCG@10 every eval.every epochs) were trained one after another on a
shared machine, so their own wall times are not comparable. This script
measures each row's seconds per epoch side by side instead: every row's
config retrained for a few epochs, the rows alternating, repeated, medians
of `train_seconds` per epoch. Then, for each time budget T, it reports the
best validation NDCG@10 a row had reached at an evaluation whose epoch
fits in T at that rate (epoch x seconds/epoch <= T).

  bench/equal_time_ml100k.py [--runs runs/recipes-ml100k] [--seed 42]
      [--rows paper modern ...] [--epochs 3] [--repeats 3]
      [--budgets 15 30 60 120] [--fedrec build/apps/fedrec]

Needs ../shared/data/ml-100k (the configs' data.path). Prints a Markdown
table. Python's standard library only.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile

DEFAULT_ROWS = ["paper", "modern", "ce", "gbce", "ss1024",
                "gru-bpr", "gru-ss256", "gru-ce", "gru-gbce"]


def seconds_per_epoch(fedrec, config, epochs, out_dir):
    """One short retraining of `config`: the median train_seconds per epoch."""
    run = pathlib.Path(tempfile.mkdtemp(dir=out_dir)) / "run"
    subprocess.run(
        [fedrec, "--log-level", "warn", "train", "--config", str(config),
         "--set", f"train.epochs={epochs}", "--set", "train.patience=0",
         "--set", "eval.every=0", "--set", "eval.final_protocols=sampled",
         "--set", "checkpoint.every=0", "--out", str(run)],
        check=True, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in open(run / "metrics.jsonl")]
    return statistics.median(r["train_seconds"] for r in rows if "train_seconds" in r)


def validation_curve(run_dir):
    """[(epoch, valid NDCG@10)] of a converged run, in epoch order."""
    curve = []
    for line in open(run_dir / "metrics.jsonl"):
        r = json.loads(line)
        if "valid" in r and "epoch" in r:
            curve.append((r["epoch"], r["valid"]["NDCG@10"]))
    return curve


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="runs/recipes-ml100k")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rows", nargs="+", default=DEFAULT_ROWS)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budgets", nargs="+", type=float, default=[15, 30, 60, 120])
    ap.add_argument("--fedrec", default="build/apps/fedrec")
    args = ap.parse_args()

    runs = {}
    for row in args.rows:
        d = pathlib.Path(args.runs) / f"{row}-s{args.seed}"
        if not (d / "metrics.jsonl").is_file() or not (d / "config.toml").is_file():
            raise SystemExit(f"{d}: no converged run (run bench/recipes_ml100k.sh first)")
        runs[row] = d

    timings = {row: [] for row in runs}
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(args.repeats):
            for row, d in runs.items():
                timings[row].append(
                    seconds_per_epoch(args.fedrec, d / "config.toml", args.epochs, out_dir))

    head = ["row", "s / epoch (side by side)"]
    head += [f"best valid NDCG@10 within {b:g} s" for b in args.budgets]
    head += ["at convergence (epoch)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row, d in runs.items():
        spe = statistics.median(timings[row])
        curve = validation_curve(d)
        cells = [row, f"{spe:.3f}"]
        for budget in args.budgets:
            reached = [ndcg for epoch, ndcg in curve if epoch * spe <= budget]
            cells.append(f"{max(reached):.4f}" if reached else "-")
        best_epoch, best = max(curve, key=lambda c: (c[1], -c[0]))
        cells.append(f"{best:.4f} ({best_epoch})")
        print("| " + " | ".join(cells) + " |")
    print(f"\n{args.repeats} alternating retrainings of {args.epochs} epochs per row; "
          f"validation curves from {args.runs} (seed {args.seed}), evaluated every "
          "eval.every epochs, so a budget counts only the evaluations inside it.")


if __name__ == "__main__":
    main()
