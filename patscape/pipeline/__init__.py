"""Orchestration of the stages: ingest -> embed -> map, with progress callbacks and resume.

One module per stage: :mod:`.ingest_stage` (:func:`ingest`), :mod:`.embed_stage` (:func:`embed`,
:func:`embed_into` and the engine contract) and :mod:`.map_stage` (:func:`build_map`). The facts
they share with the layers below (fields, space keys, the default model, which space a command
uses) live in :mod:`patscape.spaces`; the vector files are brought up to date by
:mod:`patscape.vectors.sync`. Import those from there: they are re-exported here only for
callers written before the split.
"""

from __future__ import annotations

from .embed_stage import (
    BATCH_DOCS,
    BATCH_WINDOWS,
    MAX_PASSES,
    Computed,
    EmbedEngine,
    EmbedOptions,
    EmbedReport,
    embed,
    embed_documents,
    embed_into,
    local_engine,
    plan_batches,
)
from .ingest_stage import IngestReport, ingest
from .map_stage import FIRST_YEAR, build_map, map_ready
from .progress import Progress

__all__ = [
    # the stages
    "BATCH_DOCS", "BATCH_WINDOWS", "Computed", "EmbedEngine", "EmbedOptions", "EmbedReport", "FIRST_YEAR", "IngestReport", "MAX_PASSES", "Progress",
    "build_map", "embed", "embed_documents", "embed_into", "ingest", "local_engine", "map_ready", "plan_batches",
]
