#!/usr/bin/python3
"""Renders fedrec sweeps' privacy/utility curves as PNG.

    scripts/plot_sweep.py DIR                      # DIR/sweep.csv -> DIR/sweep.png
    scripts/plot_sweep.py --out F.png DIR1 DIR2 ...  # several sweeps in one plot

With several sweeps each curve is labelled by its directory's name (e.g.
`id-r300-q0.01`, `text-r300-q0.01`), HR@K solid and NDCG@K dashed, one colour
per sweep. A missing or malformed sweep.csv is one line on stderr and exit
code 2. `fedrec sweep` itself writes DIR/sweep.svg (no dependencies); this
script needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def read_sweep(directory):
    path = os.path.join(directory, "sweep.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail(f"{path}: {e.strerror.lower()}")
    if not rows:
        fail(f"{path}: no rows")
    for line, r in enumerate(rows, start=2):
        if not any(k.startswith("HR@") for k in r) or not any(k.startswith("NDCG@") for k in r):
            fail(f"{path}: no HR@K / NDCG@K columns")
        try:
            float(r["epsilon"])
            float(next(v for k, v in r.items() if k.startswith("HR@")))
            float(next(v for k, v in r.items() if k.startswith("NDCG@")))
        except (KeyError, TypeError, ValueError):
            fail(f"{path}:{line}: not a sweep row (epsilon, HR@K, NDCG@K numbers)")
    return rows


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="sweep output directories (each with sweep.csv)")
    parser.add_argument("--out", help="PNG to write (default: DIR/sweep.png for one DIR)")
    args = parser.parse_args(argv[1:])
    if args.out is None and len(args.dirs) > 1:
        parser.error("--out is required with more than one sweep")
    out = args.out or os.path.join(args.dirs[0], "sweep.png")
    sweeps = [(os.path.basename(os.path.normpath(d)), read_sweep(d)) for d in args.dirs]

    finite = sorted({float(r["epsilon"]) for _, rows in sweeps for r in rows
                     if r["epsilon"] != "inf"})
    inf_x = max(finite) * 4 if finite else 1.0

    def x_of(r):
        return inf_x if r["epsilon"] == "inf" else float(r["epsilon"])

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ticks = {}
    for i, (name, rows) in enumerate(sweeps):
        hr_key = next(k for k in rows[0] if k.startswith("HR@"))
        ndcg_key = next(k for k in rows[0] if k.startswith("NDCG@"))
        xs = [x_of(r) for r in rows]
        for r in rows:
            ticks[x_of(r)] = r["epsilon"]
        prefix = f"{name}: " if len(sweeps) > 1 else ""
        colour = f"C{i}"
        ax.plot(xs, [float(r[hr_key]) for r in rows], "o-", color=colour,
                label=f"{prefix}test {hr_key} (sampled)")
        ax.plot(xs, [float(r[ndcg_key]) for r in rows], "s--", color=colour,
                label=f"{prefix}test {ndcg_key} (sampled)")
    ax.set_xscale("log")
    ax.set_xticks(sorted(ticks))
    ax.set_xticklabels([ticks[x] for x in sorted(ticks)])
    ax.minorticks_off()
    ax.set_xlabel("target epsilon (user-level, delta from the config; inf = no noise)")
    ax.set_ylabel("utility")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("fedrec sweep: privacy/utility")
    fig.tight_layout()
    fig.savefig(out)
    print(out)


if __name__ == "__main__":
    main(sys.argv)
