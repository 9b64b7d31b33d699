"""Where a space's vectors are searched: an exact scan, the ANN index beside the store, or Milvus.

Every source answers :meth:`VectorSource.nearest`; ``search``, the server and upload placement
ask only that.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..filters import SearchFilter


class VectorSource(Protocol):
    """Nearest document vectors of one embedding space, by cosine (vectors are unit length)."""

    def nearest(
        self, target: NDArray[np.float32], k: int, where: SearchFilter | None = None, exclude: str | None = None
    ) -> list[tuple[str, float]]:
        """Up to ``k`` (doc_id, cosine) pairs, best first, meeting ``where``, never ``exclude``."""
        ...
