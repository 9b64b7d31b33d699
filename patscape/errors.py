"""Typed domain errors.

The library raises these; the CLI (and later the HTTP API) translates them once, at the edge,
into a one-line message and an exit code (or an HTTP status).
"""

from __future__ import annotations


class PatscapeError(Exception):
    """Base class of every error patscape reports to a user."""

    exit_code = 2


class InputError(PatscapeError):
    """The user's input (a file, an option, a field mapping) cannot be used."""


class StoreError(PatscapeError):
    """The store cannot be opened or is not a patscape store."""


class ModelError(PatscapeError):
    """An embedding model cannot be found, loaded or used as asked."""


class MissingDependencyError(ModelError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'patscape[{extra}]'")


class CorpusTooSmallError(PatscapeError):
    """There are too few embedded documents to build a landscape."""


class NotFoundError(PatscapeError):
    """A named document, run or model does not exist in the store."""


class IngestProblemsError(PatscapeError):
    """Ingestion finished, but some records were skipped (their problems were reported)."""

    exit_code = 1
