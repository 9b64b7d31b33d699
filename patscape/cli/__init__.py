"""The ``patscape`` command line: one command per stage, plus ``demo``, ``info`` and ``models``.

Library errors are translated here, once: a one-line message on stderr and an exit code
(1: finished, but some input was skipped; 2: nothing done, fix the input; 3: internal error;
75: the store is busy with another writer, retry; 130: interrupted).

Modules: :mod:`.app` (the group, :func:`main` and the error translation), one per command
family (:mod:`.ingest`; :mod:`.vectors`: embed, import-vectors, index; :mod:`.landscape`: map,
export; :mod:`.search`; :mod:`.info`: info, models; :mod:`.demo`; ``serve`` is
:mod:`patscape.api.cli`), and :mod:`.present`, what they print in common.
"""

from .app import cli, main

__all__ = ["cli", "main"]
