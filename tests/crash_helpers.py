"""Real processes for the crash and concurrency tests: the CLI and ``patscape serve`` as
subprocesses, a comparable picture of a store, and SIGKILL at chosen points.

A process is killed from inside by ``PATSCAPE_CRASH_AFTER=point:N`` (see
:func:`patscape.store.crash_point`): the N-th commit of a stage, or a named point of the
pipeline. Tests compare an interrupted-then-resumed store with an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.api_helpers import free_port

KILLED = -signal.SIGKILL


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "PATSCAPE_CRASH_AFTER"}
    return {**base, "PATSCAPE_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1", **extra}


def cli(cwd: Path, *args: str, crash: str | None = None, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess[str]:
    """``patscape ARGS`` in a fresh process (run from ``cwd``, a folder holding no library-named files)."""
    more = {"PATSCAPE_CRASH_AFTER": crash} if crash else {}
    return subprocess.run(
        [sys.executable, "-m", "patscape", *args], cwd=cwd, env=env(**more, **extra), capture_output=True,
        text=True, timeout=timeout,
    )


def picture(store: Path) -> dict[str, Any]:
    """Everything a resumed run must reproduce, read straight from SQLite: documents (id and
    content hash), keyword-index ids, vectors and passages per space, spaces and their state."""
    db = sqlite3.connect(store / "patscape.sqlite")
    try:
        documents = dict(db.execute("SELECT id, content_hash FROM documents"))
        index = sorted(row[0] for row in db.execute("SELECT id FROM documents_fts"))
        vectors = {(s, d): bytes(v) for s, d, v in db.execute("SELECT space, doc_id, vector FROM vectors")}
        passages: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for s, d, f, a, b, v in db.execute(
            "SELECT space, doc_id, field, char_start, char_end, vector FROM passages ORDER BY space, doc_id, field, char_start"
        ):
            passages.setdefault((s, d), []).append((f, a, b, bytes(v)))
        spaces = {k: c is not None for k, c in db.execute("SELECT key, completed_at FROM spaces")}
        return {"documents": documents, "index": index, "vectors": vectors, "passages": passages, "spaces": spaces}
    finally:
        db.close()


def problems(store: Path) -> dict[str, int]:
    """The store's own consistency check, non-zero entries only."""
    from patscape.store import Store

    with Store(store, create=False) as db:
        return {k: v for k, v in db.check().items() if v}


@contextmanager
def served(store: Path, cwd: Path, *, model: str = "hash:256", crash: str | None = None, **extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``patscape serve STORE`` in its own process on a free loopback port, ready."""
    port = free_port()
    more = {"PATSCAPE_CRASH_AFTER": crash} if crash else {}
    log = (cwd / f"serve-{port}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "patscape", "serve", str(store), "--model", model, "--port", str(port)],
        cwd=cwd, env=env(**more, **extra), stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url) or process.poll() is not None, 120, "the server to start")
        if process.poll() is not None:
            raise RuntimeError(f"patscape serve exited with {process.returncode}: {(cwd / f'serve-{port}.log').read_text()}")
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(condition: Any, timeout: float, what: str, every: float = 0.1) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout`` seconds (a bound, not a measurement)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
