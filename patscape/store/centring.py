"""Per-language mean-centring of a space's vectors: the means, frozen once per space and stored.

A multilingual model places each language's documents around a centre of their own (an offset
common to every text in that language): a Chinese patent's nearest neighbours are then Chinese
whatever they are about, the *language island*. Subtracting each language's mean vector (and
renormalising) removes that offset. The raw vectors stay in the store, as the model gave them;
the means are computed once, when a space that asks for centring (``"centring": "language"`` in
its params, see :data:`patscape.spaces.CENTRED_MODELS`) is complete or first mapped, stored in
``space_means`` and never recomputed, so that maps, ``map --update``, search, the vector files
and queries all centre with the same means. Every vector read for use (:meth:`load_vectors`,
:meth:`iter_vector_blocks`, :meth:`get_vector`, :meth:`iter_vector_rows`,
:meth:`iter_passage_rows`) is centred by its document's language when the space has means;
``raw=True`` reads the stored vectors. A space without means (every space made before this, and
the models that do not ask for it) reads exactly as before.

A language gets its own mean when it is present in the space (at least :data:`MIN_DOCS`
documents and :data:`MIN_SHARE` of them, the rule of ``--model auto``); every other language, an
unknown one and a query whose language is not detected are centred by the mean of all the
space's documents (``*``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..embed.languages import MIN_LANGUAGE_DOCS, MIN_LANGUAGE_SHARE, primary
from .connection import Connection

#: The key of the mean of every document of the space.
ALL = "*"
#: A language gets a mean of its own with at least this many documents and this share of the
#: space: the rule a language is present by (:mod:`patscape.embed.languages`).
MIN_DOCS = MIN_LANGUAGE_DOCS
MIN_SHARE = MIN_LANGUAGE_SHARE


def language_key(code: str | None) -> str:
    """The primary subtag of a document's language code (``zh-TW`` -> ``zh``); ``?``/None -> ``?``."""
    return (primary(code) or "?") if code else "?"


@dataclass(frozen=True)
class Centring:
    """The frozen means of one space: language key -> unit-less mean vector (float32)."""

    means: dict[str, NDArray[np.float32]]
    docs: dict[str, int] = field(default_factory=dict)

    def mean_for(self, lang: str | None) -> NDArray[np.float32]:
        return self.means.get(language_key(lang), self.means[ALL])

    @property
    def digest(self) -> str:
        """Names these means (the vector files record which means their rows were centred with)."""
        h = hashlib.sha256()
        for key in sorted(self.means):
            h.update(key.encode() + b"\0" + np.ascontiguousarray(self.means[key], dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    def apply(self, vectors: NDArray[np.float32], langs: Sequence[str | None]) -> NDArray[np.float32]:
        """``vectors`` (rows) minus the mean of each row's language, renormalised (a new array)."""
        out = np.asarray(vectors, dtype=np.float32).copy()
        keys = [language_key(lang) for lang in langs]
        for key in set(keys):
            rows = [i for i, k in enumerate(keys) if k == key]
            out[rows] -= self.means.get(key, self.means[ALL])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def apply_one(self, vector: NDArray[np.float32], lang: str | None) -> NDArray[np.float32]:
        return self.apply(np.asarray(vector, dtype=np.float32)[None, :], [lang])[0]


def compute_means(vectors: NDArray[np.float32], langs: Sequence[str | None]) -> tuple[dict[str, NDArray[np.float32]], dict[str, int]]:
    """The means to freeze: one per present language (see :data:`MIN_DOCS`) and ``*`` of all."""
    matrix = np.asarray(vectors, dtype=np.float32)
    keys = np.asarray([language_key(lang) for lang in langs])
    means = {ALL: matrix.mean(axis=0).astype(np.float32)}
    docs = {ALL: len(keys)}
    for key in sorted(set(keys.tolist())):
        n = int((keys == key).sum())
        if key != "?" and n >= MIN_DOCS and n >= MIN_SHARE * len(keys):
            means[key] = matrix[keys == key].mean(axis=0).astype(np.float32)
            docs[key] = n
    return means, docs


class CentringRepository(Connection):
    """The ``space_means`` table, and the centring of vectors read for use."""

    if TYPE_CHECKING:
        from .rows import Space

        def get_space(self, key: str) -> Space: ...

    _centrings: dict[str, Centring]

    def space_centring(self, space_key: str) -> Centring | None:
        """The frozen means of the space (None: it has none, and its vectors are used raw)."""
        cache = self.__dict__.setdefault("_centrings", {})
        if space_key in cache:
            return cache[space_key]  # frozen: never changes once written
        rows = self.db.execute("SELECT lang, vector, docs FROM space_means WHERE space = ?", (space_key,)).fetchall()
        if not rows:
            return None
        found = Centring({r[0]: np.frombuffer(r[1], dtype=np.float32).copy() for r in rows},
                         {r[0]: int(r[2]) for r in rows})
        cache[space_key] = found
        return found

    def freeze_means(self, space_key: str) -> Centring:
        """Compute each language's mean over the space's current vectors and store them, once: the
        means already stored are returned unchanged (another process may have frozen them first)."""
        existing = self.space_centring(space_key)
        if existing is not None:
            return existing
        sums: dict[str, NDArray[np.float64]] = {}
        counts: dict[str, int] = {}
        rows = self.db.execute(
            "SELECT d.lang, v.vector FROM vectors v JOIN documents d ON d.id = v.doc_id WHERE v.space = ?", (space_key,)
        )
        for lang, blob in rows:
            key = language_key(lang)
            vec = np.frombuffer(blob, dtype=np.float32)
            if key in sums:
                sums[key] += vec
            else:
                sums[key] = vec.astype(np.float64)
            counts[key] = counts.get(key, 0) + 1
        total = sum(counts.values())
        if not total:
            raise ValueError(f"the space {space_key} has no vectors to centre")
        means = {ALL: (sum(sums.values()) / total).astype(np.float32)}
        docs = {ALL: total}
        for key, n in counts.items():
            if key != "?" and n >= MIN_DOCS and n >= MIN_SHARE * total:
                means[key] = (sums[key] / n).astype(np.float32)
                docs[key] = n
        now = time.time()
        with self.transaction("space"):
            if not self.db.execute("SELECT 1 FROM space_means WHERE space = ?", (space_key,)).fetchone():
                self.db.executemany(
                    "INSERT INTO space_means (space, lang, vector, docs, created_at) VALUES (?, ?, ?, ?, ?)",
                    [(space_key, key, means[key].tobytes(), docs[key], now) for key in means],
                )
        found = self.space_centring(space_key)
        assert found is not None
        return found
