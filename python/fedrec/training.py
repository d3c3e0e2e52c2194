"""Training runs: :func:`train` (``fedrec train``), the :class:`Run` it returns, and
:func:`sweep` (``fedrec sweep``)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from . import _fedrec

PathLike = Union[str, "os.PathLike[str]"]
ConfigLike = Union[Mapping[str, Any], str, "os.PathLike[str]"]

__all__ = ["Run", "train", "sweep", "config_overrides"]


class Run:
    """A training run directory (``config.toml``, ``metrics.jsonl``, ``summary.json``, ...).

    Attributes:
        out: the run directory.
        summary: ``summary.json``'s content (final metrics, timings,
            ``model_sha256``, privacy spent, ...).
    """

    def __init__(self, out: PathLike, summary: Optional[Dict[str, Any]] = None) -> None:
        self.out: Path = Path(out)
        if summary is None:
            with open(self.out / "summary.json", encoding="utf-8") as f:
                summary = json.load(f)
        self.summary: Dict[str, Any] = summary

    @property
    def metrics(self) -> List[Dict[str, Any]]:
        """One dict per line of ``metrics.jsonl`` (per epoch or round), in order."""
        lines: List[Dict[str, Any]] = []
        with open(self.out / "metrics.jsonl", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    lines.append(json.loads(line))
        return lines

    @property
    def best_checkpoint(self) -> Path:
        """``checkpoints/best.ckpt``, the best model on the validation split."""
        return self.out / "checkpoints" / "best.ckpt"

    def dataframe(self) -> Any:
        """The metrics as a pandas DataFrame (nested dicts flattened to ``a.b`` columns).

        Raises:
            ImportError: pandas is not installed (fedrec does not need it
                otherwise).
        """
        try:
            import pandas as pd  # optional dependency
        except ImportError as e:
            raise ImportError(
                "fedrec.Run.dataframe() needs pandas (pip install pandas, or "
                "apt-get install python3-pandas); Run.metrics gives the same "
                "data as a list of dicts"
            ) from e
        return pd.json_normalize(self.metrics)

    def __repr__(self) -> str:
        return f"Run(out={str(self.out)!r}, model_sha256={self.summary.get('model_sha256')!r})"


def _toml_value(key: str, value: Any) -> str:
    # A TOML literal the `--set` parser reads back exactly: repr() of a float
    # round-trips, and JSON string escapes are TOML basic-string escapes.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        return json.dumps(os.fspath(value), ensure_ascii=False)
    raise TypeError(f"config: {key}: unsupported value type {type(value).__name__}")


def config_overrides(config: Mapping[str, Any]) -> List[str]:
    """A config dict as ``--set`` overrides (``"section.key=value"``), in dict order.

    ``config`` holds sections as nested dicts (``{"model": {"dim": 32}}``)
    and top-level keys (``{"seed": 1}``); dotted keys (``{"model.dim": 32}``)
    work too. ``None`` values are skipped (the key keeps its default).
    """
    out: List[str] = []
    for key, value in config.items():
        if not isinstance(key, str):
            raise TypeError(f"config: keys are strings, got {key!r}")
        if isinstance(value, Mapping):
            for sub, subvalue in value.items():
                if isinstance(subvalue, Mapping):
                    raise TypeError(f"config: {key}.{sub}: sections do not nest")
                if subvalue is not None:
                    out.append(f"{key}.{sub}={_toml_value(f'{key}.{sub}', subvalue)}")
        elif value is not None:
            out.append(f"{key}={_toml_value(key, value)}")
    return out


def _resolve(config: Optional[ConfigLike], overrides: Iterable[str]) -> "tuple[str, List[str]]":
    extra = [str(o) for o in overrides]
    if config is None:
        return "", extra
    if isinstance(config, Mapping):
        # Defaults, then the dict's entries, then the explicit overrides:
        # exactly `fedrec train --set ...` for each, so errors name them as
        # `--set section.key=value: ...`.
        return "", config_overrides(config) + extra
    if isinstance(config, (str, os.PathLike)):
        return os.fspath(config), extra
    raise TypeError(f"config: expected a dict or a path, got {type(config).__name__}")


def resolve_config(config: Optional[ConfigLike] = None, overrides: Sequence[str] = ()) -> str:
    """The fully resolved configuration as TOML, as ``fedrec config show`` prints it."""
    path, sets = _resolve(config, overrides)
    return _fedrec.resolve_config(path, sets)


def train(
    config: Optional[ConfigLike],
    out: PathLike,
    overrides: Sequence[str] = (),
    resume: bool = False,
    *,
    quiet: bool = True,
) -> Run:
    """Trains a model as ``fedrec train`` and returns the run.

    ``federation.mode = "federated"`` runs the coordinator and
    ``federation.workers`` workers as threads of this process (under
    ``mpirun``, one rank per process, as the command line; MPI is finalised
    at the end of the run, so one call per process there);
    ``"central"`` trains in one process. The GIL is released for the whole
    run, so other Python threads keep running. The result, the run
    directory and ``model_sha256`` are the command line's for the same
    configuration.

    Args:
        config: a TOML file (str or path-like), or a dict of keys
            (``{"data": {"path": "synth.txt"}, "model": {"type": "sasrec"}}``,
            applied as ``--set`` overrides over the defaults). ``None`` with
            ``resume=True`` resumes with the run's stored configuration.
        out: the run directory; a new run refuses a non-empty one.
        overrides: ``"section.key=value"`` strings, applied after ``config``
            (``--set``).
        resume: continue ``out`` from its newest checkpoint (``--resume``);
            a config given as well must resolve to the stored one.
        quiet: no progress bar on stderr.

    Returns:
        The :class:`Run`; ``Run.summary`` is ``summary.json``'s content.

    Raises:
        ValueError: a bad configuration or data (the command line's message).
        FileNotFoundError: a missing config or data file.
        RuntimeError: anything else (e.g. an existing run directory).

    Ctrl-C (KeyboardInterrupt) stops the run at the next round (or epoch)
    boundary: the last finished round is checkpointed and ``summary.json``
    says ``"interrupted": true``; then KeyboardInterrupt is raised.
    ``train(None, out, resume=True)`` continues the run exactly.
    """
    path, sets = _resolve(config, overrides)
    out_dir = os.fspath(out)
    summary = _fedrec.train(path, sets, out_dir, resume, quiet)
    if summary is None:  # a worker rank of an MPI job: rank 0 writes the run
        return Run(out_dir, {})
    return Run(out_dir, summary)


def _epsilon_list(epsilons: Union[str, Iterable[Union[float, int, str]]]) -> str:
    if isinstance(epsilons, str):
        return epsilons
    names = []
    for e in epsilons:
        if isinstance(e, str):
            names.append(e)
        elif math.isinf(e) and e > 0:
            names.append("inf")
        else:
            names.append(repr(float(e)))
    return ",".join(names)


def sweep(
    config: ConfigLike,
    out: PathLike,
    epsilons: Union[str, Iterable[Union[float, int, str]]] = (1, 2, 4, 8, "inf"),
    overrides: Sequence[str] = (),
    *,
    quiet: bool = True,
) -> List[Dict[str, Any]]:
    """A privacy/utility sweep, as ``fedrec sweep``: one federated run per target epsilon.

    For each epsilon the noise multiplier is calibrated so that
    ``federation.rounds`` rounds spend at most that epsilon
    (``float("inf")`` or ``"inf"``: no noise); each run is trained into
    ``out/eps-<e>/`` and the test metrics of its best-on-validation model
    are collected. ``out/sweep.csv`` and ``out/sweep.svg`` are rewritten
    after every run (``scripts/plot_sweep.py out`` draws ``sweep.png``).

    Args:
        config: a TOML file or a dict of keys, as :func:`train`.
        out: the sweep directory. Calling again with the same arguments
            resumes: finished runs are reused, an unfinished one resumed.
        epsilons: target epsilons (> 0, no duplicates), or ``"1,2,4,inf"``.
        overrides: ``"section.key=value"`` strings (``--set``).
        quiet: no progress bar on stderr.

    Returns:
        The rows of ``sweep.csv`` as dicts (epsilon, epsilon_spent, sigma,
        rounds, the test HR@K / NDCG@K sampled and full, wall seconds).

    Raises:
        ValueError, FileNotFoundError, RuntimeError: as :func:`train`.
        KeyboardInterrupt: after Ctrl-C, once the current run has stopped
            at a round boundary with a checkpoint.
    """
    path, sets = _resolve(config, overrides)
    return _fedrec.sweep(path, sets, os.fspath(out), _epsilon_list(epsilons), quiet)
