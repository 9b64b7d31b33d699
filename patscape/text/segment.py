"""Segmenters: Chinese with jieba, Japanese with Sudachi (SudachiDict-core), Korean with Kiwi
(kiwipiepy), Thai with PyThaiNLP; other languages are split at spaces and punctuation. Each
segmenter loads on first use, so importing this module stays cheap."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache

from .language import detect_language
from .scripts import _KANA, has_han

_LATIN_WORD = re.compile(r"[^\W\d_][\w\-]*[^\W_]|[^\W\d_]{2,}", re.UNICODE)
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}<>\"«»“”„]|\s[-–—]\s")
_SENTENCE_END = re.compile(r"(?<=[。．.!?！？\n])")


# A segmenter turns text into pieces (text, kind, touches the piece before it) and ``None``
# where a run of content words ends (a particle, a verb, punctuation). Kinds: "word", "prefix"
# (belongs to the word after it) and "suffix" (belongs to the word before it, or after it when
# it starts a run). One-character nouns are suffixes: 膜 in 電解質膜, 압 in 유압.
Piece = tuple[str, str, bool]


@lru_cache(maxsize=1)
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=1)
def _sudachi_dictionary():  # type: ignore[no-untyped-def]
    from sudachipy import Dictionary

    return Dictionary(dict="core")


_THREAD = threading.local()


def _sudachi():  # type: ignore[no-untyped-def]
    """This thread's Sudachi tokenizer (long units); one tokenizer cannot serve two threads."""
    if not hasattr(_THREAD, "sudachi"):
        from sudachipy import SplitMode

        _THREAD.sudachi = _sudachi_dictionary().tokenizer(mode=SplitMode.C)
    return _THREAD.sudachi


@lru_cache(maxsize=1)
def _kiwi():  # type: ignore[no-untyped-def]
    from kiwipiepy import Kiwi

    return Kiwi()


def _chunks(text: str, size: int = 4000) -> Iterator[str]:
    """``text`` in pieces of at most ``size`` characters, cut after sentences where possible."""
    chunk = ""
    for sentence in _SENTENCE_END.split(text):
        if chunk and len(chunk) + len(sentence) > size:
            yield chunk
            chunk = ""
        while len(sentence) > size:
            yield sentence[:size]
            sentence = sentence[size:]
        chunk += sentence
    if chunk:
        yield chunk


def _spaced_pieces(text: str) -> Iterator[Piece | None]:
    for clause in _CLAUSE_BREAK.split(text):
        for match in _LATIN_WORD.finditer(clause):
            yield match.group(0), "word", True
        yield None


def _chinese_pieces(text: str) -> Iterator[Piece | None]:
    for token in _jieba().cut(text):
        if not token.isspace():
            yield token.strip(), "word", True


_JAPANESE_KINDS = {"名詞": "word", "接頭辞": "prefix", "接尾辞": "suffix"}


def _japanese_pieces(text: str) -> Iterator[Piece | None]:
    for chunk in _chunks(unicodedata.normalize("NFKC", text)):
        for morpheme in _sudachi().tokenize(chunk):
            pos = morpheme.part_of_speech()
            kind = _JAPANESE_KINDS.get(pos[0]) if pos[1] != "数詞" else None
            surface = morpheme.surface()
            if kind == "word" and len(surface) == 1:
                kind = "suffix"
            yield (surface, kind, True) if kind else None
        yield None


_KOREAN_KINDS = {"NNG": "word", "NNP": "word", "SL": "word", "XPN": "prefix", "XSN": "suffix"}


def _korean_pieces(text: str) -> Iterator[Piece | None]:
    for chunk in _chunks(text):
        end = -1
        for token in _kiwi().tokenize(chunk):
            kind = _KOREAN_KINDS.get(token.tag)
            if kind == "word" and token.tag != "SL" and token.len == 1:
                kind = "suffix"
            yield (token.form, kind, token.start == end) if kind else None
            end = token.start + token.len
        yield None


@lru_cache(maxsize=1)
def _thai_stop_words() -> frozenset[str]:
    from pythainlp.corpus import thai_stopwords

    return frozenset(thai_stopwords())


def _thai_pieces(text: str) -> Iterator[Piece | None]:
    from pythainlp.tokenize import word_tokenize

    for token in word_tokenize(text, engine="newmm"):
        if not token.isspace():
            yield None if token in _thai_stop_words() else (token.strip(), "word", True)


_SEGMENTERS: dict[str, Callable[[str], Iterator[Piece | None]]] = {
    "zh": _chinese_pieces,
    "ja": _japanese_pieces,
    "ko": _korean_pieces,
    "th": _thai_pieces,
}


def _code(lang: str | None) -> str | None:
    """``"zh-CN"`` -> ``"zh"``."""
    return lang.lower().replace("_", "-").split("-")[0] if lang else None


def _reader(text: str, lang: str | None) -> str:
    """The language whose segmenter reads ``text`` written in ``lang`` (detected when ``None``)."""
    lang = _code(lang) or detect_language(text) or "en"
    if lang not in _SEGMENTERS and has_han(text):
        return "ja" if _KANA.search(text) else "zh"
    return lang
