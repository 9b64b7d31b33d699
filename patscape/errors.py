"""Typed domain errors.

The library raises these; the edges translate them once: the CLI (``patscape.cli.main``) into a
one-line message and the class's ``exit_code``, the HTTP API (``patscape.api.errors``) into a
status code and an OpenAI-shaped error body.

Exit codes: 0 done; 1 done, but some input was skipped; 2 nothing done, fix the input or the
store; 3 internal error (a bug: please report it); 75 the store is busy, retry; 130 interrupted.
"""

from __future__ import annotations


class PatscapeError(Exception):
    """Base class of every error patscape reports to a user."""

    exit_code = 2


class InputError(PatscapeError):
    """The user's input (a file, an option, a field mapping) cannot be used."""


class StoreError(PatscapeError):
    """The store cannot be opened or is not a patscape store."""


class StoreBusyError(StoreError):
    """Another process held the store's write lock for longer than the bounded wait."""

    exit_code = 75  # EX_TEMPFAIL: try again later

    def __init__(self, message: str = "store busy: another patscape process is writing; retry") -> None:
        super().__init__(message)


class IncompleteSpaceError(PatscapeError):
    """An embedding space does not cover the corpus yet (an embed was interrupted or is running)."""


class SpaceMismatchError(PatscapeError):
    """A model, set up as given, would not reproduce the vectors of the store's space."""


class ModelError(PatscapeError):
    """An embedding model cannot be found, loaded or used as asked."""


class MissingDependencyError(ModelError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; it comes with patscape's {extra} extra: pip install "
                         f"'patscape[{extra}]' (in a checkout of patscape: .venv/bin/pip install -e '.[{extra}]')")


class CorpusTooSmallError(PatscapeError):
    """There are too few embedded documents to build a landscape."""


class NotFoundError(PatscapeError):
    """A named document, run or model does not exist in the store."""


class IngestProblemsError(PatscapeError):
    """Ingestion finished, but some records were skipped (their problems were reported)."""

    exit_code = 1
