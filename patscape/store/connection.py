"""The store's one SQLite connection: opening (WAL), the busy timeout, transactions, closing.

:class:`Connection` is the base of every repository of the store (and so of
:class:`~patscape.store.Store`): it holds ``db`` and ``path``, applies the migrations when it
opens, and opens every transaction. A writer waits for another process's write at most
:data:`BUSY_TIMEOUT` seconds (``PATSCAPE_BUSY_TIMEOUT``), then raises :class:`StoreBusyError`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from ..errors import StoreBusyError, StoreError
from .crash import crash_point
from .migrations import migrate

DB_NAME = "patscape.sqlite"
#: Seconds a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT = float(os.environ.get("PATSCAPE_BUSY_TIMEOUT", "30"))


class Connection:
    """The connection of a store directory. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store path {self.path} is a file, not a directory")
        db = self.path / DB_NAME
        if not db.exists():
            if not create:
                raise StoreError(f"{self.path} is not a patscape store (no {DB_NAME}); run `patscape ingest` first")
            if self.path.exists() and any(self.path.iterdir()):
                raise StoreError(f"{self.path} exists and is not empty, but holds no patscape store")
            self.path.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(db, timeout=BUSY_TIMEOUT, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusyError() from exc
            raise StoreError(f"{db} cannot be opened as a patscape store: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db} cannot be opened as a patscape store: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        migrate(self)

    class _Transaction:
        def __init__(self, db: sqlite3.Connection, kind: str) -> None:
            self.db = db
            self.kind = kind

        def __enter__(self) -> None:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreBusyError() from exc
                raise

        def __exit__(self, exc_type: object, *rest: object) -> None:
            if exc_type is not None:
                self.db.execute("ROLLBACK")
                return
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self.db.execute("ROLLBACK")
                if _is_busy(exc):
                    raise StoreBusyError() from exc
                raise
            crash_point(self.kind)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one consistent state of the store (a read transaction; writers of
        other processes go on meanwhile)."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def transaction(self, kind: str = "write") -> Connection._Transaction:
        """One atomic write: ``with store.transaction("embed"): ...``. ``kind`` names the stage
        for the crash tests (see :func:`crash_point`)."""
        return Connection._Transaction(self.db, kind)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text
