"""fedrec.privacy against `fedrec privacy epsilon|sigma`: same numbers, same errors."""

from __future__ import annotations

import math
from typing import Any, Dict

import pytest

import fedrec


def cli_args(**kw: Any) -> list:
    args = []
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        args += [flag, str(value) if not isinstance(value, float) else repr(value)]
    return args


def test_mnist_reference() -> None:
    # TF Privacy's DP-SGD MNIST tutorial: 60 epochs of batch 256 over 60000
    # examples; 2.5967 with the RDP improved conversion.
    eps = fedrec.privacy.epsilon(q=256 / 60000, sigma=1.1, steps=14063, delta=1e-5)
    assert isinstance(eps, float)
    assert eps == pytest.approx(2.5967, abs=5e-5)


@pytest.mark.parametrize(
    "kw",
    [
        dict(q=256 / 60000, sigma=1.1, steps=14063, delta=1e-5),
        dict(q=0.01, sigma=0.8, steps=1000, delta=1e-6, sampling="fixed-size"),
        dict(q=0.05, sigma=1.3, steps=200, delta=1e-5, accountant="pld"),
        dict(q=0.05, sigma=1.3, steps=200, delta=1e-5, accountant="pld", pld_interval=1e-3),
    ],
)
def test_epsilon_matches_cli(cli: Any, kw: Dict[str, Any]) -> None:
    expected = cli.json("privacy", "epsilon", *cli_args(**kw))
    report = fedrec.privacy.epsilon_report(**kw)
    assert report == expected
    assert fedrec.privacy.epsilon(**kw) == expected["epsilon"]


@pytest.mark.parametrize(
    "kw",
    [
        dict(q=0.01, steps=1000, delta=1e-5, epsilon=2.0),
        dict(q=0.01, steps=1000, delta=1e-5, epsilon=2.0, sampling="fixed-size"),
        dict(q=0.05, steps=50, delta=1e-5, epsilon=3.0, accountant="pld"),
    ],
)
def test_sigma_matches_cli(cli: Any, kw: Dict[str, Any]) -> None:
    expected = cli.json("privacy", "sigma", *cli_args(**kw))
    assert fedrec.privacy.sigma_report(**kw) == expected
    sigma = fedrec.privacy.sigma(**kw)
    assert sigma == expected["sigma"]
    # Never overspends.
    eps_kw = {k: v for k, v in kw.items() if k != "epsilon"}
    assert fedrec.privacy.epsilon(sigma=sigma, **eps_kw) <= kw["epsilon"]


def test_fixed_is_fixed_size() -> None:
    kw = dict(q=0.01, sigma=0.8, steps=100, delta=1e-5)
    assert fedrec.privacy.epsilon(sampling="fixed", **kw) == fedrec.privacy.epsilon(
        sampling="fixed-size", **kw
    )


def test_zero_noise_is_infinite() -> None:
    assert fedrec.privacy.epsilon(q=0.1, sigma=0.0, steps=10, delta=1e-5) == math.inf
    assert fedrec.privacy.sigma(q=0.0, steps=10, delta=1e-5, epsilon=1.0) == 0.0


@pytest.mark.parametrize(
    "kw, error",
    [
        (dict(q=1.5, sigma=1.0, steps=10, delta=1e-5), ValueError),
        (dict(q=0.1, sigma=-1.0, steps=10, delta=1e-5), ValueError),
        (dict(q=0.1, sigma=1.0, steps=-1, delta=1e-5), ValueError),
        (dict(q=0.1, sigma=1.0, steps=10, delta=0.0), ValueError),
        (dict(q=0.1, sigma=1.0, steps=10, delta=1e-5, accountant="gdp"), ValueError),
        (dict(q=0.1, sigma=1.0, steps=10, delta=1e-5, sampling="shuffle"), ValueError),
        (dict(q=0.1, sigma=1.0, steps=10, delta=1e-5, accountant="pld", pld_interval=2.0),
         ValueError),
        # FailedPrecondition: PLD has no analysis of fixed-size cohorts.
        (dict(q=0.1, sigma=1.0, steps=10, delta=1e-5, accountant="pld", sampling="fixed-size"),
         RuntimeError),
    ],
)
def test_epsilon_errors_match_cli(cli: Any, kw: Dict[str, Any], error: type) -> None:
    message = cli.error("privacy", "epsilon", *cli_args(**kw))
    with pytest.raises(error) as info:
        fedrec.privacy.epsilon(**kw)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "kw",
    [
        dict(q=0.1, steps=10, delta=1e-5, epsilon=0.0),
        dict(q=0.1, steps=10, delta=1e-5, epsilon=float("inf")),
        dict(q=0.1, steps=10, delta=2.0, epsilon=1.0),
    ],
)
def test_sigma_errors_match_cli(cli: Any, kw: Dict[str, Any]) -> None:
    message = cli.error("privacy", "sigma", *cli_args(**kw))
    with pytest.raises(ValueError) as info:
        fedrec.privacy.sigma(**kw)
    assert str(info.value) == message


def test_no_numpy_needed() -> None:
    # NumPy is needed for tensors only: privacy, data and train import without it.
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numpy'] = None; import fedrec; "
        "print(fedrec.privacy.epsilon(q=256/60000, sigma=1.1, steps=14063, delta=1e-5))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert float(p.stdout) == fedrec.privacy.epsilon(q=256 / 60000, sigma=1.1, steps=14063,
                                                     delta=1e-5)
