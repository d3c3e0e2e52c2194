"""fedrec: federated recommender training with secure aggregation and DP.

A thin Python layer over fedrec's C++ libraries (the ``fedrec`` command
line's code). What it offers:

* :mod:`fedrec.privacy` -- epsilon of a training run and the noise
  multiplier for a target epsilon (``fedrec privacy epsilon|sigma``);
* :mod:`fedrec.data` -- dataset statistics and synthetic datasets
  (``fedrec data stats|synth``);
* :func:`load` -- a checkpoint's model: spec, tensors as NumPy arrays,
  top-k recommendations (``fedrec recommend``), evaluation (``fedrec eval``);
* :func:`train` -- a central or federated training run (``fedrec train``),
  returning a :class:`Run` with its summary and per-round metrics;
* :func:`sweep` -- a privacy/utility sweep, one run per target epsilon
  (``fedrec sweep``).

Errors raise ``ValueError`` (bad input), ``FileNotFoundError`` (a missing
file) or ``RuntimeError`` (anything else), with the message the command
line prints after ``fedrec: error:``.

Example::

    import fedrec
    fedrec.privacy.epsilon(q=256 / 60000, sigma=1.1, steps=14063, delta=1e-5)
"""

from . import _fedrec
from . import data, privacy
from .model import Model, load
from .training import Run, sweep, train

__version__: str = _fedrec.__version__
#: The instruction set the C++ core was built for ("x86-64-v3", "baseline",
#: "native (...)"): builds for different ISAs give close, not bitwise-equal,
#: models.
__isa__: str = _fedrec.__isa__


def set_log_level(level: str) -> None:
    """Sets the level of fedrec's log lines on stderr.

    ``level`` is one of trace, debug, info, warn, error, critical, off. The
    default after import is ``warn`` (the command line's is ``info``).
    """
    _fedrec.set_log_level(level)


__all__ = ["Model", "Run", "data", "load", "privacy", "set_log_level", "train", "__isa__", "__version__"]
