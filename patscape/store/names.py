"""Topic names: the namer's cache (by membership) and the names of each run's topics.

``name_cache`` remembers every answer of the namer under the key of
:func:`patscape.naming.cache_key`, so a re-naming asks only for what changed. ``topic_names``
holds one name per ``(run, level, node)`` with its source: ``namer``, ``fallback`` (the keyword
label, with the reason) or ``analyst`` -- a rename by hand, which no later naming overwrites.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError, NotFoundError
from .connection import Connection

SOURCES = ("namer", "fallback", "analyst")


#: The longest name an analyst may give (``patscape topic --rename``, the UI).
MAX_NAME = 200
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def clean_name(name: str) -> str:
    """``name`` with its runs of whitespace collapsed; :class:`InputError` unless it is one line
    of 1 to :data:`MAX_NAME` printable characters."""
    if any(c in _LINE_BREAKS for c in name.strip()):
        raise InputError("a name must be one line")
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME:
        raise InputError(f"a name must have 1 to {MAX_NAME} characters (got {len(cleaned)})")
    if not cleaned.isprintable():
        raise InputError("a name may not hold control characters")
    return cleaned


@dataclass(frozen=True, slots=True)
class TopicNameRow:
    """The name of one topic of a run, and where it came from."""

    level: int
    node: int
    name: str
    source: str  # 'namer' | 'fallback' | 'analyst'
    reason: str | None
    model: str | None
    prompt_version: str | None


class NameRepository(Connection):
    """The ``name_cache`` and ``topic_names`` tables."""

    def cached_name(self, key: str) -> str | None:
        row = self.db.execute("SELECT name FROM name_cache WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def cache_name(self, key: str, name: str, model: str, prompt_version: str) -> None:
        with self.transaction("name-cache"):
            self.db.execute(
                "INSERT OR REPLACE INTO name_cache (key, name, model, prompt_version, created_at) VALUES (?, ?, ?, ?, ?)",
                (key, name, model, prompt_version, time.time()),
            )

    def save_topic_names(
        self, run_id: int, names: Sequence[tuple[int, int, str, str, str | None]], model: str | None,
        prompt_version: str | None,
    ) -> int:
        """Store ``(level, node, name, source, reason)`` rows of a run in one transaction, except
        where an analyst renamed the topic; returns how many rows were written."""
        for _, _, _, source, _ in names:
            if source not in ("namer", "fallback"):
                raise InputError(f"a naming stores names of source 'namer' or 'fallback', not {source!r}")
        with self.transaction("names"):
            self._require_run(run_id)
            analyst = {(int(lv), int(nd)) for lv, nd in self.db.execute(
                "SELECT level, node FROM topic_names WHERE run_id = ? AND source = 'analyst'", (run_id,))}
            rows = [(run_id, int(lv), int(nd), name, source, reason, model, prompt_version)
                    for lv, nd, name, source, reason in names if (int(lv), int(nd)) not in analyst]
            self.db.executemany("INSERT OR REPLACE INTO topic_names VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def topic_names(self, run_id: int) -> list[TopicNameRow]:
        """The names of a run's topics, by level and node."""
        rows = self.db.execute(
            "SELECT level, node, name, source, reason, model, prompt_version FROM topic_names WHERE run_id = ? ORDER BY level, node",
            (run_id,),
        )
        return [TopicNameRow(int(lv), int(nd), n, s, r, m, p) for lv, nd, n, s, r, m, p in rows]

    def rename_topic(self, run_id: int, level: int, node: int, name: str) -> str:
        """An analyst's name for a topic (source ``analyst``), kept by every later naming;
        returns it as stored (:func:`clean_name`)."""
        name = clean_name(name)
        with self.transaction("names"):
            self._require_run(run_id)
            self.db.execute(
                "INSERT OR REPLACE INTO topic_names VALUES (?, ?, ?, ?, 'analyst', NULL, NULL, NULL)",
                (run_id, int(level), int(node), name),
            )
        return name

    def _require_run(self, run_id: int) -> None:
        if self.db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise NotFoundError(f"{self.path} has no run {run_id}")

    # -- owners' aliases (patscape.owners) ---------------------------------------------------------
    def owner_aliases(self) -> dict[str, str]:
        """The alias file last given (name -> organisation); empty when none was."""
        return dict(self.db.execute("SELECT name, organisation FROM owner_aliases ORDER BY name").fetchall())

    def set_owner_aliases(self, aliases: dict[str, str]) -> None:
        """Replace the aliases with ``aliases`` (empty: none)."""
        with self.transaction("owner aliases"):
            self.db.execute("DELETE FROM owner_aliases")
            self.db.executemany("INSERT INTO owner_aliases (name, organisation) VALUES (?, ?)", sorted(aliases.items()))

    # -- inferred families (patscape.families) ----------------------------------------------------
    def inferred_families(self) -> dict[str, str]:
        """Document -> inferred family key (empty: none inferred)."""
        return dict(self.db.execute("SELECT doc_id, family FROM inferred_families").fetchall())

    def set_inferred_families(self, families: dict[str, str]) -> None:
        """Replace the inferred families with ``families`` (empty: none)."""
        with self.transaction("inferred families"):
            self.db.execute("DELETE FROM inferred_families")
            self.db.executemany("INSERT INTO inferred_families (doc_id, family) VALUES (?, ?)", sorted(families.items()))
