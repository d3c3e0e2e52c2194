#!/usr/bin/python3
"""Pictures of one fedrec training run.

    scripts/plot_run.py RUN_DIR [--out FILE]

Reads RUN_DIR/metrics.jsonl (and summary.json when present) and writes
RUN_DIR/report.png (or FILE): the validation metric against round (or
epoch) and against wall time, the privacy budget spent, the round's time by
phase, and the clients' update norms with the fraction clipped. Panels
without data in the run (e.g. epsilon of a non-private run) say so instead
of being left out, so every report has the same layout.

Needs matplotlib (Debian: python3-matplotlib). Exit code 2 with one line on
bad input (no run directory, no metrics lines).
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fail(message):
    print(f"plot_run: error: {message}", file=sys.stderr)
    sys.exit(2)


def read_lines(run):
    path = run / "metrics.jsonl"
    if not path.is_file():
        fail(f"{path}: no such file (is {run} a fedrec run directory?)")
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError as e:
                # A torn last line of a killed run is expected; anything else is not.
                if f.read().strip():
                    fail(f"{path}:{number}: not JSON ({e.msg})")
                break
    if not lines:
        fail(f"{path}: no metrics lines yet")
    return lines


def step_key(lines):
    return "round" if "round" in lines[0] else "epoch"


def metric_names(lines):
    """The validation metrics to draw: NDCG@K and HR@K when evaluated, else RMSE."""
    for line in lines:
        valid = line.get("valid")
        if isinstance(valid, dict):
            names = [k for k in valid if k.startswith(("NDCG@", "HR@"))]
            return sorted(names) or [k for k in ("RMSE",) if k in valid]
    return []


def empty(ax, title, why):
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_validation(ax_step, ax_time, lines, key):
    names = metric_names(lines)
    evaluated = [l for l in lines if isinstance(l.get("valid"), dict)]
    if not names or not evaluated:
        empty(ax_step, f"validation by {key}", "no validation (eval.every = 0?)")
        empty(ax_time, "validation by wall time", "no validation")
        return
    for name in names:
        ax_step.plot([l[key] for l in evaluated], [l["valid"][name] for l in evaluated], "o-",
                     label=name, markersize=3)
    ax_step.set_xlabel(key)
    ax_step.set_title(f"validation by {key}")
    ax_step.legend()
    timed = [l for l in evaluated if "wall_time" in l]
    if not timed or "wall_time" not in lines[0]:
        empty(ax_time, "validation by wall time", "the run predates wall_time in metrics")
        return
    start = lines[0]["wall_time"] - lines[0].get("round_seconds", lines[0].get("train_seconds", 0))
    for name in names:
        ax_time.plot([l["wall_time"] - start for l in timed], [l["valid"][name] for l in timed],
                     "o-", label=name, markersize=3)
    ax_time.set_xlabel("seconds since the run started")
    ax_time.set_title("validation by wall time")
    ax_time.legend()


def plot_epsilon(ax, lines, key):
    eps_key = next((k for k in lines[-1] if k.startswith("epsilon")), None)
    if eps_key is None:
        empty(ax, "privacy spent", "not a private run")
        return
    pts = [(l[key], l[eps_key]) for l in lines if eps_key in l]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "-")
    ax.set_xlabel(key)
    ax.set_ylabel(eps_key.replace("_", " "))
    ax.set_title("privacy spent (epsilon)")


def plot_phases(ax, lines, key):
    phased = [l for l in lines if isinstance(l.get("seconds"), dict)]
    if not phased:
        times = [(l[key], l.get("train_seconds", 0), l.get("eval_seconds", 0)) for l in lines]
        if not any(t[1] for t in times):
            empty(ax, "time by phase", "no timings")
            return
        ax.bar([t[0] for t in times], [t[1] for t in times], label="train")
        ax.bar([t[0] for t in times], [t[2] for t in times], bottom=[t[1] for t in times],
               label="eval")
    else:
        phases = sorted({p for l in phased for p in l["seconds"]})
        bottom = [0.0] * len(phased)
        xs = [l[key] for l in phased]
        for phase in phases:
            values = [l["seconds"].get(phase, 0.0) for l in phased]
            if not any(values):
                continue
            ax.bar(xs, values, bottom=bottom, label=phase, width=1.0)
            bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_xlabel(key)
    ax.set_ylabel("seconds")
    ax.set_title(f"time per {key} by phase")
    ax.legend(fontsize="small", ncol=2)


def plot_updates(ax, lines, key):
    normed = [l for l in lines if "mean_update_norm" in l]
    if not normed:
        empty(ax, "client updates", "central training: no client updates")
        return
    xs = [l[key] for l in normed]
    ax.plot(xs, [l["mean_update_norm"] for l in normed], "-", label="mean update norm")
    if any("clip_norm" in l for l in normed):
        ax.plot(xs, [l.get("clip_norm", float("nan")) for l in normed], "--", label="clip norm")
    ax.set_xlabel(key)
    ax.set_ylabel("L2 norm")
    ax.set_title("client updates")
    twin = ax.twinx()
    twin.plot(xs, [l.get("fraction_clipped", 0.0) for l in normed], ":", color="tab:red",
              label="fraction clipped")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("fraction clipped")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize="small")


def title_of(run, lines):
    summary_path = run / "summary.json"
    parts = [f"{run.resolve().parent.name}/{run.resolve().name}"]
    if summary_path.is_file():
        with open(summary_path, encoding="utf-8") as f:
            summary = json.load(f)
        model = summary.get("model")
        if isinstance(model, dict):
            model = model.get("type")
        if model:
            parts.append(str(model))
        if "mode" in summary:
            parts.append(str(summary["mode"]))
    parts.append(f"{len(lines)} {step_key(lines)}s")
    return " · ".join(parts)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", help="output file (default RUN_DIR/report.png)")
    args = parser.parse_args(argv[1:])
    run = Path(args.run_dir)
    if not run.is_dir():
        fail(f"{run}: not a directory")
    lines = read_lines(run)
    key = step_key(lines)
    fig, axes = plt.subplots(3, 2, figsize=(11, 11), dpi=100)
    plot_validation(axes[0][0], axes[0][1], lines, key)
    plot_epsilon(axes[1][0], lines, key)
    plot_updates(axes[1][1], lines, key)
    plot_phases(axes[2][0], lines, key)
    axes[2][1].plot([l[key] for l in lines], [l.get("loss", float("nan")) for l in lines], "-")
    axes[2][1].set_xlabel(key)
    axes[2][1].set_title("training loss")
    fig.suptitle(title_of(run, lines))
    fig.tight_layout()
    out = Path(args.out) if args.out else run / "report.png"
    fig.savefig(out)
    print(out)


if __name__ == "__main__":
    main(sys.argv)
