"""The rows the store reads and writes, as frozen dataclasses (no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Space:
    """An embedding space: one model used with one set of options that change the vectors."""

    key: str
    model: str
    fingerprint: str
    dims: int
    params: dict[str, Any]
    #: When an embed first covered every document (None: in progress, never used by default).
    completed_at: float | None = None

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True, slots=True)
class SpaceProgress:
    """How much of the corpus a space covers: ``embedded`` current vectors of ``documents``."""

    space: Space
    documents: int
    embedded: int

    @property
    def missing(self) -> int:
        return self.documents - self.embedded


@dataclass(frozen=True, slots=True)
class VectorRow:
    """One document vector to store, with the content hash of the text it was computed from."""

    doc_id: str
    content_hash: str
    vector: NDArray[np.float32]
    n_chunks: int
    n_tokens: int
    truncated_tokens: int = 0


@dataclass(frozen=True, slots=True)
class PassageRow:
    """One passage to store: ``field[start:end]`` of a document, its unit vector, and the tokens
    of that field left out by the per-field passage cap (the same on every row of the field)."""

    doc_id: str
    field: str
    start: int
    end: int
    vector: NDArray[np.float32]
    truncated_tokens: int = 0


@dataclass(frozen=True, slots=True)
class StoredPassages:
    """Every passage of a space: ``vectors`` int8 ``(n, dims)``, row ``i`` is ``scales[i] * vectors[i]``."""

    doc_ids: list[str]
    fields: list[str]
    spans: list[tuple[int, int]]
    vectors: NDArray[np.int8]
    scales: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    space: str
    created_at: float
    seed: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any]

    def hierarchy(self, topics: int) -> dict[str, Any]:
        """The run's topic hierarchy as stored (levels, nodes per level, method, notice), or, for
        a run made before hierarchies, one level of its ``topics`` topics, saying so."""
        return self.data.get("hierarchy") or {
            "levels": 1, "counts": [topics], "notice": "a run made before topic hierarchies: one level"}


@dataclass(frozen=True, slots=True)
class UpsertResult:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class Placement:
    """An uploaded document placed on a run among its ``neighbours`` (mapped document ids)."""

    doc_id: str
    cluster: int
    x: float
    y: float
    neighbours: tuple[str, ...]
