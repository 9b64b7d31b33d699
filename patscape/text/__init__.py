"""Text utilities shared by ingestion, keyword search and topic labelling.

One module per job: :mod:`.scripts` (character classes, :func:`normalize`), :mod:`.language`
(:func:`detect_language`), :mod:`.segment` (Chinese with jieba, Japanese with Sudachi
(SudachiDict-core), Korean with Kiwi (kiwipiepy), Thai with PyThaiNLP; other languages are split
at spaces and punctuation), :mod:`.stopwords` (function words and the patent boilerplate that
must never become a topic keyword, one data file per language), :mod:`.keywords` (the content
words and phrases of a text in its language) and :mod:`.fulltext` (:func:`index_text`). Each
segmenter loads on first use, and the stop words when words are first read, so importing this
package stays cheap.
"""

from __future__ import annotations

from typing import Any

from .fulltext import index_text
from .keywords import PHRASE_SEPARATOR, display_phrase, phrases, words
from .language import detect_language
from .scripts import has_han, normalize
from .segment import Piece
from .stopwords import stop_words

__all__ = [
    "PHRASE_SEPARATOR", "Piece", "STOP_WORDS", "detect_language", "display_phrase", "has_han", "index_text",
    "normalize", "phrases", "stop_words", "words",
]


def __getattr__(name: str) -> Any:
    if name == "STOP_WORDS":  # read on first use (see patscape.text.stopwords)
        return stop_words()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
