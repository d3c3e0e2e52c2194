#!/usr/bin/env python3
"""Prints the expected epsilons of tests/privacy/rdp_test.cc (kGrid).

Tool: Google dp_accounting 0.6.0 (pip install dp-accounting==0.6.0), its
RdpAccountant with the default orders and the improved RDP-to-DP conversion,
for the Poisson-subsampled Gaussian mechanism (add/remove one).
Not a dependency of fedrec: run by hand to regenerate the table.
"""
import itertools

import dp_accounting
from dp_accounting import rdp

for q, sigma, steps, delta in itertools.product(
    [1e-3, 0.01, 0.1, 1.0], [0.5, 1.0, 2.0, 4.0], [1, 100, 10000], [1e-5, 1e-6]):
  acc = rdp.RdpAccountant()
  acc.compose(dp_accounting.PoissonSampledDpEvent(
      q, dp_accounting.GaussianDpEvent(sigma)), steps)
  eps, order = acc.get_epsilon_and_optimal_order(delta)
  print(f"    {{{q!r}, {sigma!r}, {steps}, {delta!r}, {float(eps)!r}, {float(order)!r}}},")

# MNIST DP-SGD (TF Privacy tutorial): improved/default orders and classic/tutorial orders.
q, sigma, steps, delta = 256 / 60000, 1.1, 14063, 1e-5
acc = rdp.RdpAccountant()
acc.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)
print("# mnist improved", acc.get_epsilon_and_optimal_order(delta))
import numpy as np
orders = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
acc = rdp.RdpAccountant(orders)
acc.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)
r = acc._rdp
eps = [ri - np.log(delta) / (a - 1) for a, ri in zip(orders, r)]
print("# mnist classic", min(eps), orders[int(np.argmin(eps))])
# Reference points of /work/shared/docs/dp_reference_points.csv, recomputed.
for q, sigma, steps, delta in [(0.02, 1.3, 500, 1e-5), (0.0105, 0.7, 200, 1e-5)]:
  acc = rdp.RdpAccountant()
  acc.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)
  print("#", q, sigma, steps, delta, acc.get_epsilon_and_optimal_order(delta))

# Sampling without replacement (fixed-size cohort of m out of n), REPLACE_ONE
# adjacency (the only one dp_accounting supports for it): kWithoutReplacement.
print("# without replacement")
for n, m, sigma, steps, delta in [(60000, 256, 1.1, 1000, 1e-5), (1000, 10, 1.0, 100, 1e-5),
                                  (10000, 1000, 2.0, 500, 1e-6), (100, 50, 4.0, 10, 1e-5),
                                  (100000, 100, 0.8, 10000, 1e-6)]:
  acc = rdp.RdpAccountant(neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_ONE)
  acc.compose(dp_accounting.SampledWithoutReplacementDpEvent(
      n, m, dp_accounting.GaussianDpEvent(sigma)), steps)
  eps, order = acc.get_epsilon_and_optimal_order(delta)
  print(f"    {{{m / n!r}, {sigma!r}, {steps}, {delta!r}, {float(eps)!r}, {float(order)!r}}},")

# Extremes (kExtremes).
print("# extremes")
for q, sigma, steps, delta in [(1e-6, 0.3, 1000, 1e-5), (1e-8, 1.0, 10**9, 1e-5),
                               (0.9999, 0.5, 10, 1e-5), (0.5, 50.0, 1000, 1e-6),
                               (0.01, 0.2, 10, 1e-5), (0.3, 0.1, 1, 1e-5),
                               (0.05, 0.4, 1000000, 1e-6)]:
  acc = rdp.RdpAccountant()
  acc.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps)
  eps, order = acc.get_epsilon_and_optimal_order(delta)
  print(f"    {{{q!r}, {sigma!r}, {steps}, {delta!r}, {float(eps)!r}, {float(order)!r}}},")
