#!/usr/bin/env python3
"""Crash campaign: SIGKILL `fedrec train` at random moments and at its crash
points, resume until it finishes, and check that every run ends where an
uninterrupted one does.

Each trial trains a small federated SASRec with central DP into a fresh run
directory, killing it again and again (`--resume` after each kill) until a
session finishes. Kills alternate between
  - a random moment (SIGKILL after a uniform delay within a typical session);
  - a crash point (FEDREC_CRASH_AT=<point>:<round>, core/crash_point.h):
    right after a round's release is journaled, after its metrics line, or
    after its checkpoint.
Half the trials pin the DP noise (privacy.noise_seed): those must end with
the uninterrupted run's model_sha256, epsilon and ledger. The others draw
noise from the CSPRNG: a round recomputed after a kill is a second release,
so their ledger must count at least every round whose metrics line was
written and then dropped by the resume (a release that left the process),
and their epsilon must be the accountant's value for the steps counted.

Usage: crash_campaign.py [--fedrec BIN] [--kills N] [--seed S] [--work DIR]
Prints a table; exit 1 if any trial ends differently.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROUNDS = 24
POINTS = ("released", "metrics", "checkpoint")


def config_text(data: Path, pinned: bool) -> str:
    noise = "noise_seed = 77\n" if pinned else ""
    return f"""seed = 5
[data]
path = "{data}"
max_len = 16
[model]
type = "sasrec"
dim = 8
blocks = 1
[train]
local_epochs = 1
local_lr = 0.1
[federation]
mode = "federated"
workers = 2
rounds = {ROUNDS}
sampling_rate = 0.2
server_optimizer = "fedadam"
server_lr = 0.05
[aggregation]
clip_norm = 0.5
[privacy]
mode = "central"
noise_multiplier = 0.8
delta = 1e-5
{noise}[eval]
every = 2
[checkpoint]
every = 5
"""


class Fedrec:
    def __init__(self, binary: str) -> None:
        self.binary = binary

    def start(self, args: List[str], crash_at: Optional[str]) -> subprocess.Popen:
        env = dict(os.environ)
        env.pop("FEDREC_CRASH_AT", None)
        if crash_at:
            env["FEDREC_CRASH_AT"] = crash_at
        return subprocess.Popen([self.binary, "--log-level", "warn", *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def json(self, *args: str) -> dict:
        p = subprocess.run([self.binary, "--log-level", "warn", *args], capture_output=True,
                           text=True, check=True)
        return json.loads(p.stdout)


def metrics_lines(run: Path) -> List[Tuple[int, str]]:
    """(round, line) of every whole metrics line."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append((json.loads(line)["round"], line))
        except (ValueError, KeyError):
            break  # a torn last line: the resume repairs it
    return lines


def newest_checkpoint(run: Path) -> int:
    ckpts = [int(p.name[5:13]) for p in (run / "checkpoints").glob("ckpt-*.ckpt")] \
        if (run / "checkpoints").exists() else []
    return max(ckpts, default=0)


def trial(fedrec: Fedrec, config: Path, run: Path, rng: random.Random, session_seconds: float,
          max_kills: int) -> Tuple[dict, Dict[str, int], int]:
    """Kills and resumes until a session finishes; returns (summary, kills by kind, observed
    lost releases)."""
    kills = {"random": 0, **{p: 0 for p in POINTS}}
    # Each line is one release seen outside the process (its wall_time makes
    # it unique); a resume killed before it dropped them must not count them
    # twice.
    lost_lines = set()
    while True:
        resume = (run / "config.toml").exists()
        args = ["train", "--out", str(run)] + (["--resume"] if resume else ["--config", str(config)])
        killing = sum(kills.values()) < max_kills
        crash_at = None
        if killing and rng.random() < 0.5:
            point = rng.choice(POINTS)
            # Checkpoints are written every 5 rounds and after the last.
            rounds = list(range(5, ROUNDS, 5)) + [ROUNDS] if point == "checkpoint" \
                else list(range(1, ROUNDS + 1))
            crash_at = f"{point}:{rng.choice(rounds)}"
        proc = fedrec.start(args, crash_at)
        if killing and crash_at is None:
            try:
                proc.wait(timeout=rng.uniform(0.0, session_seconds))
            except subprocess.TimeoutExpired:
                proc.kill()
        out, err = proc.communicate()
        if proc.returncode == 0:
            return json.loads(out), kills, len(lost_lines)
        if proc.returncode != -9:
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {err.strip()}")
        kills["random" if crash_at is None else crash_at.split(":")[0]] += 1
        # Lines past the checkpoint the next session resumes from are releases
        # that left the process and will be computed again.
        ckpt = newest_checkpoint(run)
        lost_lines.update(line for r, line in metrics_lines(run) if r > ckpt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fedrec", default=os.environ.get("FEDREC_BIN", "build/apps/fedrec"))
    parser.add_argument("--kills", type=int, default=60, help="kills in all (at least)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", default="", help="scratch directory (default: a temp dir)")
    args = parser.parse_args()
    fedrec = Fedrec(args.fedrec)
    rng = random.Random(args.seed)
    work = Path(args.work or tempfile.mkdtemp(prefix="fedrec-crash-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "synth.txt"
    fedrec.json("data", "synth", "--out", str(data), "--users", "150", "--items", "60",
                "--seed", "3")

    reference = {}
    for pinned in (True, False):
        config = work / f"{'pinned' if pinned else 'csprng'}.toml"
        config.write_text(config_text(data, pinned))
        started = time.monotonic()
        summary = fedrec.json("train", "--config", str(config), "--out",
                              str(work / f"ref-{config.stem}"))
        reference[pinned] = (config, summary, time.monotonic() - started)

    rows = []
    failures = []
    total_kills = 0
    n = 0
    while total_kills < args.kills:
        pinned = n % 2 == 0
        config, ref, seconds = reference[pinned]
        run = work / f"trial-{n:03d}"
        summary, kills, lost = trial(fedrec, config, run, rng, seconds, max_kills=rng.randint(1, 4))
        total_kills += sum(kills.values())
        privacy = summary["privacy"]
        steps = privacy["released_rounds"]
        problems = []
        if pinned:
            if summary["model_sha256"] != ref["model_sha256"]:
                problems.append("model_sha256 differs")
            if steps != ROUNDS or privacy["epsilon"] != ref["privacy"]["epsilon"]:
                problems.append(f"ledger {steps} steps, epsilon {privacy['epsilon']}")
        else:
            if steps < ROUNDS + lost:
                problems.append(f"ledger {steps} steps < {ROUNDS} rounds + {lost} lost releases")
            expected = fedrec.json("privacy", "epsilon", "--q", str(privacy["sampling_rate"]),
                                   "--sigma", str(privacy["noise_multiplier"]), "--steps",
                                   str(steps), "--delta", str(privacy["delta"]))["epsilon"]
            if abs(privacy["epsilon"] - expected) > 1e-9 * max(1.0, expected):
                problems.append(f"epsilon {privacy['epsilon']} != {expected} for {steps} steps")
        rows.append((n, "pinned" if pinned else "csprng", kills, lost, steps,
                     privacy.get("recomputed_rounds", 0), "ok" if not problems else
                     "; ".join(problems)))
        if problems:
            failures.append(n)
        else:
            shutil.rmtree(run)
        n += 1

    print(f"{'trial':>5}  {'noise':6}  {'random':>6}  {'released':>8}  {'metrics':>7}  "
          f"{'ckpt':>4}  {'lost':>4}  {'steps':>5}  {'recomp':>6}  result")
    for t, noise, kills, lost, steps, recomputed, result in rows:
        print(f"{t:>5}  {noise:6}  {kills['random']:>6}  {kills['released']:>8}  "
              f"{kills['metrics']:>7}  {kills['checkpoint']:>4}  {lost:>4}  {steps:>5}  "
              f"{recomputed:>6}  {result}")
    by_kind = {k: sum(r[2][k] for r in rows) for k in ("random",) + POINTS}
    print(f"\n{len(rows)} trials, {total_kills} kills ({', '.join(f'{k} {v}' for k, v in by_kind.items())}); "
          f"{len(failures)} ended differently")
    if not args.work and not failures:
        shutil.rmtree(work)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
