#!/usr/bin/python3
"""Renders a fedrec sweep's privacy/utility curve as PNG.

    scripts/plot_sweep.py DIR        # reads DIR/sweep.csv, writes DIR/sweep.png

`fedrec sweep` itself writes DIR/sweep.svg (no dependencies); this script
needs matplotlib (Debian: python3-matplotlib).
"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    directory = argv[1]
    with open(f"{directory}/sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{directory}/sweep.csv: no rows")
    hr_key = next(k for k in rows[0] if k.startswith("HR@"))
    ndcg_key = next(k for k in rows[0] if k.startswith("NDCG@"))
    finite = [float(r["epsilon"]) for r in rows if r["epsilon"] != "inf"]
    inf_x = max(finite) * 4 if finite else 1.0
    xs = [inf_x if r["epsilon"] == "inf" else float(r["epsilon"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(xs, [float(r[hr_key]) for r in rows], "o-", label=f"test {hr_key} (sampled)")
    ax.plot(xs, [float(r[ndcg_key]) for r in rows], "s-", label=f"test {ndcg_key} (sampled)")
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([r["epsilon"] for r in rows])
    ax.set_xlabel("target epsilon (user-level, delta from the config; inf = no noise)")
    ax.set_ylabel("utility")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("fedrec sweep: privacy/utility")
    fig.tight_layout()
    fig.savefig(f"{directory}/sweep.png")
    print(f"{directory}/sweep.png")


if __name__ == "__main__":
    main(sys.argv)
