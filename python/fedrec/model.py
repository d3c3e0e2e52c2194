"""Trained models: :func:`load` a checkpoint, look at it, recommend with it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _fedrec

if TYPE_CHECKING:  # NumPy is needed only once tensors are asked for
    import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["Model", "load"]


class Model:
    """A model read from a checkpoint (``checkpoints/best.ckpt`` of a run, ...).

    Attributes:
        path: the checkpoint file.
        spec: the checkpoint's model spec: type, dim, blocks, heads, max_len,
            num_items, num_users and a dict ``extra`` of model settings.
        tensors: every parameter tensor, name -> 2-D float32 NumPy array.
            The arrays are read-only views of the model's own memory (no
            copy); they keep the model alive, so they stay valid after the
            ``Model`` object is gone. MF user embeddings are included.
    """

    def __init__(self, impl: Any, path: str) -> None:
        self._impl = impl
        self.path: str = path
        self.spec: Dict[str, Any] = impl.spec
        self._tensors: Optional[Dict[str, np.ndarray]] = None

    @property
    def tensors(self) -> Dict[str, np.ndarray]:
        """Every parameter tensor, name -> 2-D read-only float32 view (see the class doc)."""
        if self._tensors is None:
            self._tensors = self._impl.tensors()
        return self._tensors

    @property
    def type(self) -> str:
        """The model type: sasrec, gru4rec, mf_bpr or mf_rating."""
        return str(self._impl.type)

    @property
    def num_items(self) -> int:
        """Number of items the model scores."""
        return int(self._impl.num_items)

    def item_ids(self) -> np.ndarray:
        """The data's original item ids, indexed by the model's dense item id (uint64)."""
        return self._impl.item_ids()

    def user_ids(self) -> np.ndarray:
        """The data's original user ids, indexed by dense user id (uint64)."""
        return self._impl.user_ids()

    def recommend(
        self,
        history: Sequence[int],
        k: int = 10,
        *,
        user: Optional[int] = None,
        include_history: bool = False,
    ) -> List[Tuple[int, float]]:
        """The top-``k`` items after ``history``, as ``fedrec recommend``.

        Args:
            history: original item ids in time order.
            k: number of items (>= 1); fewer when the catalogue is smaller.
            user: original user id (MF models score by user; sequence models
                read only the history).
            include_history: allow the history's items in the list.

        Returns:
            ``[(item_id, score), ...]``, highest score first, ties by the
            model's dense id.

        Raises:
            ValueError: an unknown item or user, or ``k < 1``.
        """
        return self._impl.recommend([int(i) for i in history], k, user, include_history)

    def evaluate(
        self,
        data: PathLike,
        *,
        protocol: str = "sampled",
        split: str = "test",
        k: int = 10,
        negatives: int = 100,
        seed: int = 0,
        threads: int = 0,
        quiet: bool = False,
        format: str = "auto",
        use_cache: bool = True,
        cache_dir: Optional[PathLike] = None,
        csv_columns: str = "0,1",
        csv_delimiter: str = ",",
        csv_header: bool = True,
    ) -> Dict[str, Any]:
        """Evaluates the model on a dataset, as ``fedrec eval --checkpoint``.

        The data is cleaned with the options of the run that trained the
        model (its config is in the checkpoint), so users and items get the
        same dense ids; data whose items differ from the model's is refused.

        Args:
            data: the interaction file the model was trained on.
            protocol: ``"sampled"`` (the target against ``negatives`` items
                the user never touched) or ``"full"`` (against every item
                outside the user's input history).
            split: ``"test"`` or ``"valid"`` (leave-one-out).
            k: the cut-off of HR@k and NDCG@k.
            negatives: negatives per user (sampled protocol).
            seed: seed of the negative-sampling stream.
            threads: 0 uses every core.
            quiet: no progress lines on stderr (shown only when the
                evaluation takes more than two seconds).
            format, use_cache, cache_dir, csv_columns, csv_delimiter,
                csv_header: how to read ``data``, as in :func:`fedrec.data.stats`.

        Returns:
            ``{"model", "checkpoint", "data", "protocol", "split",
            "negatives" (sampled), "k", "users", "skipped_users", "HR@k",
            "NDCG@k", "MRR", "seconds"}``, plus ``"RMSE"`` and ``"MAE"`` for
            ``mf_rating``.

        Raises:
            FileNotFoundError: no such data file.
            ValueError: bad options, bad data, or data that does not match
                the model.
        """
        return self._impl.evaluate(
            self.path,
            os.fspath(data),
            protocol=protocol,
            split=split,
            k=k,
            negatives=negatives,
            seed=seed,
            threads=threads,
            quiet=quiet,
            format=format,
            use_cache=use_cache,
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else "",
            csv_columns=csv_columns,
            csv_delimiter=csv_delimiter,
            csv_header=csv_header,
        )

    def __repr__(self) -> str:
        return (
            f"Model(type={self.type!r}, items={self.num_items}, "
            f"tensors={len(self.tensors)}, path={self.path!r})"
        )


def load(checkpoint_path: PathLike) -> Model:
    """Reads and verifies a checkpoint (magic, version, SHA-256) and builds its model.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a fedrec checkpoint, or tensors that do not match
            the spec.
        RuntimeError: a damaged checkpoint (truncated, digest mismatch).
    """
    path = os.fspath(checkpoint_path)
    return Model(_fedrec.load_model(path), path)
