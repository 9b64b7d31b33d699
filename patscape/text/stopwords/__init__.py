"""Function words and patent boilerplate per language (lower case): never a topic keyword.

One file per language beside this module, ``<ISO 639-1 code>.txt``: UTF-8, one entry per line;
an entry of several words (Vietnamese ``sáng chế``) is matched as a phrase. English ones apply
to every language, since patents of every country carry English terms; English also takes
scikit-learn's list. The table is read on first use: importing scikit-learn's text module takes
a second, which the full-text index, ingestion and search never need.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any


def _entries(text: str) -> frozenset[str]:
    """One entry per line; blank lines and surrounding whitespace are ignored."""
    return frozenset(entry for entry in (line.strip() for line in text.split("\n")) if entry)


@lru_cache(maxsize=1)
def stop_words() -> dict[str, frozenset[str]]:
    """The stop words of every language that has a file here, by language code."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # slow to import: only when words are read

    table = {
        entry.name.removesuffix(".txt"): _entries(entry.read_text(encoding="utf-8"))
        for entry in sorted(files(__name__).iterdir(), key=lambda entry: entry.name)
        if entry.name.endswith(".txt")
    }
    table["en"] = frozenset(ENGLISH_STOP_WORDS) | table["en"]
    return table


def __getattr__(name: str) -> Any:
    if name == "STOP_WORDS":  # the table, read on first use (see stop_words)
        return stop_words()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
