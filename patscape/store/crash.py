"""The crash hook: a point where the crash tests kill the process (``PATSCAPE_CRASH_AFTER``).

Every committed write transaction passes :func:`crash_point` with its kind (see
:meth:`~patscape.store.connection.Connection.transaction`); the pipeline names its own points.
"""

from __future__ import annotations

import os
import signal

_crash_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    """A point where the crash tests kill the process: with ``PATSCAPE_CRASH_AFTER=name:N`` the
    process SIGKILLs itself the N-th time it passes ``name`` (stages: ingest, embed, map, place,
    job, space, and the named points of the pipeline). Does nothing otherwise."""
    wanted = os.environ.get("PATSCAPE_CRASH_AFTER")
    if not wanted:
        return
    target, _, count = wanted.rpartition(":")
    if not count.isdigit():  # "map:computed" means "map:computed:1"
        target, count = wanted, "1"
    if target != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] >= int(count):
        os.kill(os.getpid(), signal.SIGKILL)
