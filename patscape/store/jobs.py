"""Upload jobs of the server, and the folder of the store where their files wait."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .connection import Connection

#: Folder of the store that holds the files of server uploads until their job ends.
UPLOADS_DIR = "uploads"


class JobRepository(Connection):
    """The ``jobs`` table and the uploads folder."""

    def uploads_dir(self) -> Path:
        """Where upload files wait for their job (inside the store, so a restart can resume)."""
        return self.path / UPLOADS_DIR

    def save_job(self, job_id: str, state: str, created_at: float, finished_at: float | None, data: dict[str, Any]) -> None:
        with self.transaction("job"):
            self.db.execute(
                "INSERT OR REPLACE INTO jobs (id, state, created_at, finished_at, data) VALUES (?, ?, ?, ?, ?)",
                (job_id, state, created_at, finished_at, json.dumps(data, ensure_ascii=False)),
            )

    def jobs(self, limit: int = 100, states: Sequence[str] | None = None) -> list[tuple[str, str, float, float | None, dict[str, Any]]]:
        """``(id, state, created_at, finished_at, data)`` of the newest ``limit`` jobs, oldest first."""
        sql = "SELECT id, state, created_at, finished_at, data FROM jobs"
        args: list[Any] = []
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args += list(states)
        rows = self.db.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", (*args, limit)).fetchall()
        return [(i, st, float(c), f, json.loads(d)) for i, st, c, f, d in reversed(rows)]

    def prune_jobs(self, keep: int) -> None:
        with self.transaction("job-prune"):
            self.db.execute(
                "DELETE FROM jobs WHERE state IN ('done', 'failed') AND id NOT IN "
                "(SELECT id FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?)", (keep,),
            )
