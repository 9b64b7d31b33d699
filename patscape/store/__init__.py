"""The corpus store: one directory holding a SQLite database (WAL mode).

This package is the only place that speaks SQL. It is a set of repositories over one connection,
composed into :class:`Store`:

- :mod:`.connection`: opening the database (WAL, busy timeout), transactions, snapshots, closing;
- :mod:`.migrations`: the schema, as named, append-only migrations;
- :mod:`.documents`: documents, the full-text index (FTS5) and the ingest log;
- :mod:`.spaces`: embedding spaces, document vectors and int8 passages;
- :mod:`.centring`: per-language means of a space, frozen once, and vectors centred at use;
- :mod:`.vector_log`: the change log of the vectors and batched reads for the vector files;
- :mod:`.filter_sql`: search filters as SQL, and the reads that apply them;
- :mod:`.vector_slots`: the vector files' own database (which document each row of the files holds),
  used by :mod:`patscape.vectors` and joined by ``matching_slots``;
- :mod:`.runs`: runs (maps), their points and topics;
- :mod:`.placements`: uploads placed on a run;
- :mod:`.names`: topic names of runs and the namer's cache;
- :mod:`.jobs`: upload jobs and the uploads folder;
- :mod:`.check`: the consistency check;
- :mod:`.crash`: the crash hook of the crash tests;
- :mod:`.rows`: the dataclasses of the rows.

Guarantees (see "What patscape guarantees" in docs/usage.md):

- Every write batch is one short ``BEGIN IMMEDIATE`` transaction, so a killed process loses at
  most the batch in flight and a re-run resumes. Nothing slow (parsing, embedding, clustering)
  happens while a write transaction is open.
- Readers never wait for writers (WAL). A writer waits for another process's write at most
  :data:`BUSY_TIMEOUT` seconds (``PATSCAPE_BUSY_TIMEOUT``), then raises :class:`StoreBusyError`.
- A vector is stored only if the document still has the text it was computed from, so a
  document replaced while an embed runs never keeps a vector of its old text.
- An embedding space is *in progress* until one embed has covered every document; the
  defaults only use *complete* spaces.
"""

from __future__ import annotations

from .centring import Centring, CentringRepository
from .check import CheckRepository
from .connection import BUSY_TIMEOUT, DB_NAME, Connection
from .crash import crash_point
from .documents import DocumentRepository
from .filter_sql import FilterRepository
from .jobs import UPLOADS_DIR, JobRepository
from .migrations import MIGRATIONS
from .names import NameRepository, TopicNameRow, clean_name
from .placements import PlacementRepository
from .rows import PassageRow, Placement, RunInfo, Space, SpaceProgress, StoredPassages, UpsertResult, VectorRow
from .runs import RunRepository
from .spaces import SpaceRepository, quantize
from .vector_log import VectorLogRepository

__all__ = [
    "BUSY_TIMEOUT",
    "Centring",
    "DB_NAME",
    "MIGRATIONS",
    "UPLOADS_DIR",
    "PassageRow",
    "Placement",
    "RunInfo",
    "Space",
    "SpaceProgress",
    "Store",
    "StoredPassages",
    "TopicNameRow",
    "UpsertResult",
    "VectorRow",
    "clean_name",
    "crash_point",
    "quantize",
]


class Store(
    DocumentRepository,
    SpaceRepository,
    CentringRepository,
    VectorLogRepository,
    FilterRepository,
    RunRepository,
    PlacementRepository,
    NameRepository,
    CheckRepository,
    JobRepository,
    Connection,
):
    """A corpus on disk. Use as a context manager or call :meth:`close`."""
