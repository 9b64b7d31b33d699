"""Keeps a space's memory-mapped vector files and ANN index (:mod:`patscape.vectors.disk`) up to
date with the store, after an embed or a vector import."""

from __future__ import annotations

from collections.abc import Callable

from ..store import Store
from .disk import SpaceVectors


def sync_vector_files(store: Store, space_key: str, on_notice: Callable[[str], None] | None = None) -> None:
    """Bring the space's memory-mapped vector files and ANN index up to date with the store
    (:mod:`patscape.vectors.disk`). Skipped when another process is doing it: searches read
    what the files miss from the store until they catch up."""
    SpaceVectors(store, store.get_space(space_key)).sync(wait=False, on_notice=on_notice)
