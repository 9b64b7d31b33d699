"""Text as the full-text index sees it: lower case, words separated where the script has no spaces."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator

from . import segment  # segment._jieba is looked up when called (tests replace it)
from .scripts import _HANGUL, _UNSPACED, normalize
from .segment import _chunks, _kiwi, _reader, _sudachi


def _japanese_index_terms(text: str) -> Iterator[str]:
    from sudachipy import SplitMode

    for chunk in _chunks(unicodedata.normalize("NFKC", text)):
        for morpheme in _sudachi().tokenize(chunk):
            if morpheme.part_of_speech()[0] in ("助詞", "助動詞", "補助記号", "空白"):
                continue
            yield morpheme.surface()
            parts = morpheme.split(SplitMode.A)
            if len(parts) > 1:
                yield from (part.surface() for part in parts)


def _korean_index_terms(text: str) -> Iterator[str]:
    for chunk in _chunks(text):
        for token in _kiwi().tokenize(chunk):
            if token.tag[0] not in "JE" and not (token.tag[0] == "S" and token.tag not in ("SL", "SH", "SN")):
                yield token.form


def _thai_index_terms(text: str) -> Iterator[str]:
    from pythainlp.tokenize import word_tokenize

    return (token for token in word_tokenize(text, engine="newmm") if token.strip())


_INDEX_TERMS: dict[str, Callable[[str], Iterator[str]]] = {
    "zh": lambda text: (t for t in segment._jieba().cut_for_search(text) if t.strip()),
    "ja": _japanese_index_terms,
    "ko": _korean_index_terms,
    "th": _thai_index_terms,
}


def index_text(text: str, lang: str | None) -> str:
    """Text as the full-text index sees it: lower case, words separated where the script has no spaces.

    ``lang`` is ``None`` for a query; a query of Han characters alone may be Chinese or
    Japanese, so it is segmented both ways.
    """
    text = normalize(text).lower()
    if lang is None and not (_UNSPACED.search(text) or _HANGUL.search(text)):
        return text  # a query in a script with spaces: nothing to segment, no need to detect
    readers = [_reader(text, lang)]
    if lang is None and readers == ["zh"]:
        readers.append("ja")
    if readers[0] not in _INDEX_TERMS:
        return text
    return " ".join(term for reader in readers for term in _INDEX_TERMS[reader](text))
