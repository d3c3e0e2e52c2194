"""Datasets: ``fedrec data stats`` and ``fedrec data synth``.

Formats, filters and the cache are described in ``docs/data.md``; the
options here are the command line's flags with Python names.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

from . import _fedrec

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["stats", "synth"]


def stats(
    path: PathLike,
    *,
    format: str = "auto",
    min_count: int = 0,
    kcore: int = 0,
    dedupe: bool = False,
    use_cache: bool = True,
    cache_dir: Optional[PathLike] = None,
    csv_columns: str = "0,1",
    csv_delimiter: str = ",",
    csv_header: bool = True,
) -> Dict[str, Any]:
    """Parses a dataset and returns what ``fedrec data stats`` prints.

    Args:
        path: the interaction file.
        format: auto, movielens, movielens-dat, movielens-csv, sasrec or csv.
        min_count: drop users and items with fewer interactions (one pass,
            as SASRec); 0 keeps everything.
        kcore: iterative k-core filter; 0 is off.
        dedupe: remove consecutive repeats of an item.
        use_cache: read and write the binary dataset cache (``--no-cache``
            is ``use_cache=False``).
        cache_dir: cache directory (default ``$FEDREC_CACHE_DIR``, else
            ``~/.cache/fedrec``).
        csv_columns: ``format="csv"``: 0-based columns
            ``user,item[,rating[,timestamp]]`` (``-`` for an absent one).
        csv_delimiter: ``format="csv"``: one character, or ``tab``/``space``.
        csv_header: ``format="csv"``: whether the first line is a header.

    Returns:
        ``{"users", "items", "interactions", "sequence_length": {"min",
        "median", "mean", "max"}, "density", "tied_timestamp_fraction",
        "input"}``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: bad data or options ("<path>:<line>: <reason>").
    """
    return _fedrec.data_stats(
        os.fspath(path),
        format,
        min_count,
        kcore,
        dedupe,
        use_cache,
        os.fspath(cache_dir) if cache_dir is not None else "",
        csv_columns,
        csv_delimiter,
        csv_header,
    )


def synth(
    out_path: PathLike,
    *,
    users: int = 1000,
    items: int = 1000,
    seed: int = 0,
    clusters: int = 20,
    zipf: float = 1.0,
    interests: int = 3,
    interest_alpha: float = 0.5,
    p_markov: float = 0.5,
    successors: int = 3,
    mean_length: float = 25.0,
    length_sigma: float = 0.8,
    min_length: int = 3,
    max_length: int = 2000,
    threads: int = 0,
) -> Dict[str, Any]:
    """Writes a synthetic dataset with known structure (``fedrec data synth``).

    Items fall into ``clusters`` interest clusters with Zipf popularity;
    each user has ``interests`` clusters and a log-normal sequence length;
    with probability ``p_markov`` the next item is one of the previous
    item's ``successors``. The same options and seed give the same bytes,
    whatever ``threads`` (0: all cores). A ``.csv`` path gets CSV with
    ratings and timestamps, anything else SASRec text (``user item`` lines,
    1-based). The model is described in ``data/synth.h``.

    Returns:
        ``{"out", "users", "items", "seed", "bytes", "seconds"}``.

    Raises:
        ValueError: an option out of range ("synth: ...").
    """
    return _fedrec.data_synth(
        os.fspath(out_path),
        users,
        items,
        seed,
        clusters,
        zipf,
        interests,
        interest_alpha,
        p_markov,
        successors,
        mean_length,
        length_sigma,
        min_length,
        max_length,
        threads,
    )
