"""The progress callback of the stages."""

from __future__ import annotations

from collections.abc import Callable

#: Called with the number of documents just done.
Progress = Callable[[int], None]
