#!/usr/bin/env python3
"""fedrec from Python: an epsilon table, then a small private federated run.

    PYTHONPATH=build/python python3 examples/python_quickstart.py [--out DIR]

1. The privacy budget of a few (noise, rounds) settings, by the RDP and the
   PLD accountant (``fedrec privacy epsilon``).
2. A synthetic dataset with known structure (``fedrec data synth``).
3. Federated SASRec on it, coordinator and two workers as threads, with
   central DP noise calibrated to a target epsilon (``fedrec train``).
4. The run's metrics per round and recommendations from its best model;
   a plot of the validation NDCG when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import fedrec


def epsilon_table(q: float, delta: float) -> None:
    print(f"epsilon at q = {q}, delta = {delta}")
    print(f"{'sigma':>6} {'rounds':>7} {'rdp':>8} {'pld':>8}")
    for sigma in (0.8, 1.0, 1.5):
        for rounds in (100, 1000):
            kw = dict(q=q, sigma=sigma, steps=rounds, delta=delta)
            rdp = fedrec.privacy.epsilon(**kw)
            pld = fedrec.privacy.epsilon(**kw, accountant="pld")
            print(f"{sigma:>6} {rounds:>7} {rdp:>8.3f} {pld:>8.3f}")
    sigma = fedrec.privacy.sigma(q=q, steps=1000, delta=delta, epsilon=4.0)
    print(f"noise multiplier for epsilon 4 in 1000 rounds: {sigma:.4f}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/python-quickstart", help="output directory")
    parser.add_argument("--rounds", type=int, default=30, help="federated rounds")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    epsilon_table(q=0.1, delta=1e-5)

    data = fedrec.data.synth(out / "synth.txt", users=2000, items=500, seed=1)
    print("dataset:", fedrec.data.stats(data["out"]))

    run = fedrec.train(
        {
            "seed": 1,
            "data": {"path": data["out"], "max_len": 30},
            "model": {"type": "sasrec", "dim": 32, "blocks": 1},
            "train": {"local_lr": 0.1},
            "federation": {
                "mode": "federated",
                "workers": 2,
                "rounds": args.rounds,
                "sampling_rate": 0.1,
                "server_optimizer": "fedadam",
                "server_lr": 0.05,
            },
            "aggregation": {"clip_norm": 0.5},
            "privacy": {"mode": "central", "target_epsilon": 8.0, "delta": 1e-5},
            "eval": {"every": 5},
            "checkpoint": {"every": 0},
        },
        out=out / "run",
    )
    print("\nrun:", run)
    print("test at best:", run.summary["test_at_best"])
    print("privacy:", run.summary.get("privacy"))
    evals = [m for m in run.metrics if "valid" in m]
    for m in evals:
        print(f"round {m['round']:>4}: valid {m['valid']}")

    model = fedrec.load(run.best_checkpoint)
    print("\nmodel:", model, {k: v.shape for k, v in model.tensors.items()})
    print("after items 1 2 3:", model.recommend([1, 2, 3], k=5))
    test = model.evaluate(data["out"], protocol="full")
    print(f"test, full ranking: HR@10 {test['HR@10']:.4f}  NDCG@10 {test['NDCG@10']:.4f}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    key = next((k for k in evals[0]["valid"] if k.startswith("NDCG")), None) if evals else None
    if key is None:
        return
    plt.plot([m["round"] for m in evals], [m["valid"][key] for m in evals], marker="o")
    plt.xlabel("round")
    plt.ylabel(f"validation {key}")
    plt.savefig(out / "valid.png", dpi=100)
    print("plot:", out / "valid.png")


if __name__ == "__main__":
    main()
