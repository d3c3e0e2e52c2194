"""Differential privacy accounting: ``fedrec privacy epsilon|sigma``.

One training round is one step of the subsampled Gaussian mechanism: each
user takes part with probability ``q`` (Poisson sampling) or the cohort is a
fixed-size sample (``sampling="fixed"``), and the clipped sum gets Gaussian
noise of standard deviation ``sigma`` times the clip norm. The accountants
and their references are in ``docs/privacy.md``.

The numbers and the error messages are the command line's: the same C++
function answers both (``privacy/query.h``), and messages name the
arguments by their flags (``--q: must be in [0, 1] ...``).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Literal

from . import _fedrec

Accountant = Literal["rdp", "pld"]
Sampling = Literal["poisson", "fixed", "fixed-size"]

__all__ = ["epsilon", "sigma", "epsilon_report", "sigma_report"]


def _sampling(sampling: str) -> str:
    # "fixed" is the short spelling of the command line's "fixed-size".
    return "fixed-size" if sampling == "fixed" else sampling


def epsilon_report(
    *,
    q: float,
    sigma: float,
    steps: int,
    delta: float,
    accountant: Accountant = "rdp",
    sampling: Sampling = "poisson",
    pld_interval: float = 1e-4,
) -> Dict[str, Any]:
    """The full report of ``fedrec privacy epsilon`` as a dict.

    Keys: accountant, q, sigma, steps, delta, epsilon (``math.inf`` where the
    command line prints null), order (None for PLD),
    value_discretization_interval (PLD only), sampling, adjacency.
    """
    return _fedrec.privacy_epsilon(
        q, sigma, steps, delta, accountant, _sampling(sampling), pld_interval
    )


def sigma_report(
    *,
    q: float,
    steps: int,
    delta: float,
    epsilon: float,
    accountant: Accountant = "rdp",
    sampling: Sampling = "poisson",
    pld_interval: float = 1e-4,
) -> Dict[str, Any]:
    """The full report of ``fedrec privacy sigma`` as a dict (adds target_epsilon)."""
    return _fedrec.privacy_sigma(
        q, steps, delta, epsilon, accountant, _sampling(sampling), pld_interval
    )


def epsilon(
    *,
    q: float,
    sigma: float,
    steps: int,
    delta: float,
    accountant: Accountant = "rdp",
    sampling: Sampling = "poisson",
    pld_interval: float = 1e-4,
) -> float:
    """Epsilon of ``steps`` rounds with sampling rate ``q`` and noise multiplier ``sigma``.

    Args:
        q: sampling rate (the probability that a user takes part), in [0, 1].
        sigma: noise multiplier (noise std / clip norm), >= 0.
        steps: number of rounds, >= 0.
        delta: delta of (epsilon, delta)-DP, in (0, 1).
        accountant: ``"rdp"`` (Renyi DP, improved conversion) or ``"pld"``
            (privacy loss distribution, tighter; Poisson sampling only).
        sampling: ``"poisson"`` (add/remove-one) or ``"fixed"`` (fixed-size
            cohorts without replacement, replace-one adjacency).
        pld_interval: PLD value discretization interval (larger for epsilon
            in the tens or more).

    Returns:
        epsilon; ``math.inf`` when ``sigma == 0`` and anything is spent.

    Raises:
        ValueError: an argument out of range, with the command line's message.
        RuntimeError: e.g. the PLD accountant refusing fixed-size cohorts.
    """
    report = epsilon_report(
        q=q,
        sigma=sigma,
        steps=steps,
        delta=delta,
        accountant=accountant,
        sampling=sampling,
        pld_interval=pld_interval,
    )
    value = report["epsilon"]
    return math.inf if value is None else float(value)


def sigma(
    *,
    q: float,
    steps: int,
    delta: float,
    epsilon: float,
    accountant: Accountant = "rdp",
    sampling: Sampling = "poisson",
    pld_interval: float = 1e-4,
) -> float:
    """The smallest noise multiplier whose ``steps`` rounds stay within ``epsilon``.

    Arguments as :func:`epsilon`, with the target ``epsilon`` (> 0, finite)
    instead of ``sigma``. The result never overspends: its epsilon is <= the
    target (bisection to a relative tolerance of 1e-6). ``q == 0`` or
    ``steps == 0`` gives 0.
    """
    report = sigma_report(
        q=q,
        steps=steps,
        delta=delta,
        epsilon=epsilon,
        accountant=accountant,
        sampling=sampling,
        pld_interval=pld_interval,
    )
    return float(report["sigma"])
