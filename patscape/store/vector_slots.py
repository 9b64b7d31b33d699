"""The slots database of a space's vector files, ``slots.sqlite`` beside them: which document
(and passage) each row of the files holds and whether the row is live, and the state of the
files (``meta``: format, generation, dtype, rows, the change of the store applied so far).

Every SQL statement on it is here. Each generation of the files has its own slot tables
(``docs_<gen>``, ``passages_<gen>``), so that a reader still on the previous one keeps its ids.
It lives in the store package, the one place that speaks SQL, beside ``Store.matching_slots``
(filter_sql.py), which ATTACHes this database to join its tables with the documents a filter
selects; :mod:`patscape.vectors` uses it through this module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

FILE = "slots.sqlite"


def path(folder: Path) -> Path:
    """The slots database of the files in ``folder``."""
    return folder / FILE


def connect(folder: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path(folder), timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    return db


def table(name: str, gen: int) -> str:
    """The slot table of ``name`` (docs or passages) in generation ``gen``."""
    return f"{name}_{gen}"


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """A write transaction: committed when the block ends, rolled back when it raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# -- meta ----------------------------------------------------------------------------------------------
def read_meta(db: sqlite3.Connection) -> dict[str, Any]:
    return {k: _value(v) for k, v in db.execute("SELECT key, value FROM meta")}


def _value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _set_meta(db: sqlite3.Connection, **values: Any) -> None:
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])


# -- slot tables -----------------------------------------------------------------------------------------
def new_generation(db: sqlite3.Connection, docs_table: str, passages_table: str) -> None:
    """Empty slot tables for a new generation (replacing any left by a writer that failed)."""
    drop(db, docs_table, passages_table)
    db.execute(f"CREATE TABLE {docs_table} (slot INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, live INTEGER NOT NULL)")
    db.execute(f"CREATE INDEX {docs_table}_doc ON {docs_table}(doc_id)")
    db.execute(
        f"CREATE TABLE {passages_table} (slot INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, field TEXT NOT NULL, "
        "char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, live INTEGER NOT NULL)"
    )
    db.execute(f"CREATE INDEX {passages_table}_doc ON {passages_table}(doc_id)")


def drop(db: sqlite3.Connection, *tables: str) -> None:
    for name in tables:
        db.execute(f"DROP TABLE IF EXISTS {name}")


def add_docs(db: sqlite3.Connection, table: str, rows: Iterable[tuple[int, str]]) -> None:
    """Live document rows ``(slot, doc_id)``."""
    db.executemany(f"INSERT INTO {table} VALUES (?, ?, 1)", rows)


def add_passages(db: sqlite3.Connection, table: str, rows: Iterable[tuple[int, str, str, int, int]]) -> None:
    """Live passage rows ``(slot, doc_id, field, char_start, char_end)``."""
    db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, 1)", rows)


def retire(db: sqlite3.Connection, docs_table: str, passages_table: str, doc_ids: list[str]) -> int:
    """Mark the live rows of ``doc_ids`` dead in both tables; the number of document rows."""
    removed = 0
    for start in range(0, len(doc_ids), 500):
        chunk = doc_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        removed += db.execute(
            f"UPDATE {docs_table} SET live = 0 WHERE live = 1 AND doc_id IN ({marks})", chunk
        ).rowcount
        db.execute(f"UPDATE {passages_table} SET live = 0 WHERE live = 1 AND doc_id IN ({marks})", chunk)
    return removed


def count_dead(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE live = 0").fetchone()[0])


def _mask(db: sqlite3.Connection, table: str, rows: int) -> NDArray[np.bool_]:
    dead = np.zeros(rows, dtype=bool)
    slots = np.fromiter((r[0] for r in db.execute(f"SELECT slot FROM {table} WHERE live = 0")), dtype=np.int64)
    dead[slots[slots < rows]] = True
    return dead


def slots_of(db: sqlite3.Connection, table: str, doc_ids: list[str]) -> Iterator[int]:
    """The slots (live or dead) of ``doc_ids`` in ``table``."""
    for start in range(0, len(doc_ids), 500):
        chunk = doc_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for (slot,) in db.execute(f"SELECT slot FROM {table} WHERE doc_id IN ({marks})", chunk):
            yield slot


def rows_at(db: sqlite3.Connection, name: str, table: str, slots: list[int]) -> dict[int, tuple[Any, ...]]:
    """Per slot of ``slots`` in ``table`` (of ``name``, docs or passages): ``(doc_id,)``, or for
    a passage ``(doc_id, field, char_start, char_end)``."""
    columns = "slot, doc_id" if name == "docs" else "slot, doc_id, field, char_start, char_end"
    found: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(slots), 500):
        chunk = slots[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"SELECT {columns} FROM {table} WHERE slot IN ({marks})", chunk):
            found[int(row[0])] = tuple(row[1:])
    return found
