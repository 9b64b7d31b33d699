"""Where names are remembered between runs: keyed by membership, so only what changed is asked for.

A key (:func:`cache_key`) hashes what decides a name: the hash of the topic's sorted member
document ids (given by the caller), the language, :data:`~patscape.naming.prompts.PROMPT_VERSION`,
the model, and for a parent its children's final names (for a disambiguation, the siblings'
hashes and names). Naming the same tree again therefore sends no request; a topic whose members
changed, and the parents above it whose children's names changed, are asked for again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..store import Store


def cache_key(kind: str, members: Sequence[str], language: str, prompt_version: str, model: str,
              names: Sequence[str] = ()) -> str:
    """sha256 of everything that decides an answer (``kind``: leaf, parent or disambiguation)."""
    text = json.dumps([kind, list(members), language, prompt_version, model, list(names)], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class NameCache(Protocol):
    """What :func:`~patscape.naming.name_tree` needs of a cache (called from one thread)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, name: str, model: str, prompt_version: str) -> None: ...


class MemoryCache:
    """A cache in a dict (for one process; tests)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.names.get(key)

    def put(self, key: str, name: str, model: str, prompt_version: str) -> None:
        self.names[key] = name


class StoreNameCache:
    """The cache in a store's ``name_cache`` table (see :mod:`patscape.store.names`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> str | None:
        return self.store.cached_name(key)

    def put(self, key: str, name: str, model: str, prompt_version: str) -> None:
        self.store.cache_name(key, name, model, prompt_version)
