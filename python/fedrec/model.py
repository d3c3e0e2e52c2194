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
