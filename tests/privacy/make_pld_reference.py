#!/usr/bin/env python3
"""Prints the expected epsilons/deltas of tests/privacy/pld_test.cc.

Tool: Google dp_accounting 0.6.0 (pip install dp-accounting==0.6.0), its
PLDAccountant (privacy_loss_distribution.from_gaussian_mechanism with
sampling_prob=q, pessimistic_estimate=True, connect-the-dots; add/remove-one
adjacency, the max over the ADD and REMOVE PLDs), for the Poisson-subsampled
Gaussian mechanism composed `steps` times.

The value discretization interval is 1e-4 (dp_accounting's default) unless the
RDP epsilon is above 10, where it is 1e-4 * eps_rdp / 10 (as in
/work/shared/docs/dp_reference_points.csv): a PLD at 1e-4 over a loss range
of 10^4 nats would not fit in memory. Each row records the interval used and
the C++ test uses the same one.

Not a dependency of fedrec: run by hand to regenerate the tables
(`python3 make_pld_reference.py > out.txt`; several minutes).
"""
import itertools
import sys
import time

import dp_accounting
from dp_accounting import rdp
from dp_accounting.pld import pld_privacy_accountant


def interval_for(q, sigma, steps, delta):
  acc = rdp.RdpAccountant()
  acc.compose(dp_accounting.PoissonSampledDpEvent(
      q, dp_accounting.GaussianDpEvent(sigma)), steps)
  eps_rdp = acc.get_epsilon(delta)
  return 1e-4 * max(1.0, eps_rdp / 10), eps_rdp


def pld_accountant(q, sigma, steps, vdi):
  acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=vdi)
  acc.compose(dp_accounting.PoissonSampledDpEvent(
      q, dp_accounting.GaussianDpEvent(sigma)), steps)
  return acc


def row(q, sigma, steps, delta):
  # The interval is chosen from the RDP epsilon at delta = 1e-5 so that both
  # deltas of a (q, sigma, steps) point share one composed PLD.
  vdi, _ = interval_for(q, sigma, steps, 1e-5)
  t = time.time()
  acc = pld_accountant(q, sigma, steps, vdi)
  eps = acc.get_epsilon(delta)
  print(f"    {{{q!r}, {sigma!r}, {steps}, {delta!r}, {float(vdi)!r}, {float(eps)!r}}},"
        f"  // {time.time() - t:.2f} s", flush=True)


print("# MNIST DP-SGD (TF Privacy tutorial), default interval 1e-4")
q, sigma, steps, delta = 256 / 60000, 1.1, 14063, 1e-5
print("#", repr(pld_accountant(q, sigma, steps, 1e-4).get_epsilon(delta)))

print("# kGrid: {q, sigma, steps, delta, interval, epsilon}")
grid_steps = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [
    1, 10, 100, 1000, 10000]
for q, sigma, steps in itertools.product(
    [1e-3, 0.01, 0.1, 1.0], [0.5, 1.0, 2.0, 4.0], grid_steps):
  vdi, _ = interval_for(q, sigma, steps, 1e-5)
  t = time.time()
  acc = pld_accountant(q, sigma, steps, vdi)
  for delta in [1e-5, 1e-6]:
    eps = acc.get_epsilon(delta)
    print(f"    {{{q!r}, {sigma!r}, {steps}, {delta!r}, {float(vdi)!r}, {float(eps)!r}}},"
          f"  // {time.time() - t:.2f} s", flush=True)

print("# kSharedPoints: /work/shared/docs/dp_reference_points.csv, recomputed")
for q, sigma, steps, delta in [
    (0.02, 1.3, 500, 1e-5), (0.005, 0.9, 2000, 1e-6), (0.0032, 1.0, 3000, 1e-5),
    (0.03, 2.5, 300, 1e-5), (0.2, 3.0, 50, 1e-6), (0.0105, 0.7, 200, 1e-5),
    (0.5, 5.0, 20, 1e-5), (1.0, 20.0, 100, 1e-5), (0.00042, 1.05, 50000, 1e-7),
    (0.07, 1.6, 1200, 1e-6)]:
  _, eps_rdp = interval_for(q, sigma, steps, delta)
  vdi = 1e-4 * max(1.0, eps_rdp / 10)
  acc = pld_accountant(q, sigma, steps, vdi)
  print(f"    {{{q!r}, {sigma!r}, {steps}, {delta!r}, {float(vdi)!r}, "
        f"{float(acc.get_epsilon(delta))!r}}},", flush=True)

print("# kDeltas: {q, sigma, steps, epsilon, delta} at interval 1e-4")
for q, sigma, steps in [(0.01, 1.0, 1000), (256 / 60000, 1.1, 14063), (0.1, 2.0, 100),
                        (1.0, 4.0, 10)]:
  acc = pld_accountant(q, sigma, steps, 1e-4)
  for eps in [0.5, 1.0, 2.0, 4.0]:
    print(f"    {{{q!r}, {sigma!r}, {steps}, {eps!r}, {float(acc.get_delta(eps))!r}}},",
          flush=True)

print("# kTwoRuns: 300 steps (0.01, 1.0) then 200 steps (0.05, 2.0), interval 1e-4")
acc = pld_privacy_accountant.PLDAccountant()
acc.compose(dp_accounting.PoissonSampledDpEvent(0.01, dp_accounting.GaussianDpEvent(1.0)), 300)
acc.compose(dp_accounting.PoissonSampledDpEvent(0.05, dp_accounting.GaussianDpEvent(2.0)), 200)
for delta in [1e-5, 1e-6]:
  print(f"    {{{delta!r}, {float(acc.get_epsilon(delta))!r}}},", flush=True)
