"""The content words of a text in its language, and the phrases topic labels are made of:
stop words and patent boilerplate never become a keyword."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .scripts import _CJK, _LETTER, _UNSPACED
from .segment import _SEGMENTERS, _code, _reader, _spaced_pieces
from .stopwords import stop_words

_HIRAGANA_WORD = re.compile(r"[\u3041-\u309f]+")
# Section headings of Japanese, Korean and Chinese abstracts: 【課題】, 【解決手段】, 【요약】.
_HEADING = re.compile(r"【[^】]{1,12}】")

#: Languages whose nouns are capitalised: their words keep their case ("Festelektrolyt").
_KEEPS_CASE = frozenset({"de", "lb"})
#: Letters a word of a space-separated language needs (3 unless listed): Vietnamese spaces syllables.
_MIN_LETTERS = {"vi": 2}
#: Short words that join two nouns into one term ("moteur de flottabilité"); kept in phrases.
_CONNECTORS = {
    "fr": frozenset({"de", "du", "des", "à"}),
    "es": frozenset({"de", "del"}),
    "pt": frozenset({"de", "do", "da", "dos", "das"}),
    "it": frozenset({"di", "del", "della", "dei", "delle"}),
}


@lru_cache(maxsize=64)
def _stop_words(langs: tuple[str, ...]) -> tuple[frozenset[str], re.Pattern[str] | None]:
    """Stop words of ``langs`` and English, and a pattern of the multi-word ones."""
    table = stop_words()
    words = table["en"].union(*(table.get(lang, frozenset()) for lang in langs))
    phrases = sorted((w for w in words if " " in w), key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, phrases)) + r")\b", re.IGNORECASE) if phrases else None
    return words, pattern


#: Numbering, not a name: a reference numeral or step number with a short prefix ("s102",
#: "obj101", "r200", "fig12"), "no.1", a letter and a number ("b-1", "x-0") and ranges of such
#: ("v1-v11", "d90-d10"). Names with a digit stay: "co2", "h1n1", "cd47", "ace2", "yolov5", "mpeg-2".
_NUMBERING = re.compile(
    r"(?:fig|figs|no)?[^\W\d_]{0,3}[.-]?\d{3,}[^\W\d_]?"
    r"|(?:fig|figs|no)\.?\d+[^\W\d_]?"
    r"|[^\W\d_][.-]\d+"
    r"|[^\W\d_]{1,3}\d+[^\W\d_]?-[^\W\d_]{1,3}\d+[^\W\d_]?"
)


def is_numbering(word: str) -> bool:
    """A reference numeral, step, figure or item number rather than a word (see :data:`_NUMBERING`)."""
    return word.isdigit() or _NUMBERING.fullmatch(word.lower()) is not None


def _is_content(word: str, stop: frozenset[str], min_letters: int = 3) -> bool:
    """A word worth keeping: not a stop word, not a number or numbering, long enough for its script."""
    if word.lower() in stop or is_numbering(word):
        return False
    if _CJK.search(word):  # two characters or more, not all hiragana (こと, もの), no symbols
        letters_only = all(c.isalnum() or c in "ー-" for c in word)
        return len(word) >= 2 and letters_only and _HIRAGANA_WORD.fullmatch(word) is None
    return len(word) >= min_letters and _LETTER.match(word) is not None


def _trim(word: str, stop: frozenset[str]) -> str:
    """A compound without boilerplate at either end: 识别方法 -> 识别 (segmenters keep some)."""
    for i in range(2, len(word) - 1):
        if word[i:] in stop:
            word = word[:i]
            break
    for i in range(len(word) - 2, 1, -1):
        if word[:i] in stop:
            return word[i:]
    return word


def _runs(text: str, lang: str | None) -> list[list[tuple[str, str]]]:
    """Runs of adjacent content words of ``text``: (connector before the word or "", word)."""
    reader = _reader(text, lang)
    lang = _code(lang) or reader
    stop, stop_phrases = _stop_words((reader, lang))
    connectors = _CONNECTORS.get(lang, frozenset())
    text = _HEADING.sub(" , ", unicodedata.normalize("NFC", text))
    if stop_phrases is not None:
        text = stop_phrases.sub(" , ", text)
    glued: list[list[tuple[str, str]]] = []
    run: list[tuple[str, str]] = []
    pending = ""  # a prefix, or a suffix that started a run, waiting for the word it belongs to
    link = ""  # a connector waiting for the word after it

    def close() -> None:
        nonlocal run, pending, link
        if pending:
            run.append((link, pending))
        if run:
            glued.append(run)
        run, pending, link = [], "", ""

    for piece in _SEGMENTERS.get(reader, _spaced_pieces)(text):
        if piece is not None and run and not (link or pending) and piece[0].lower() in connectors:
            link = piece[0].lower()
            continue
        if piece is None or piece[0].lower() in stop:
            close()
            continue
        surface, kind, touches = piece
        if pending and not touches:
            run.append((link, pending))
            pending = link = ""
        if kind == "suffix" and run and touches and not (pending or link):
            run[-1] = (run[-1][0], run[-1][1] + surface)
        elif kind != "word":
            pending += surface
        else:
            run.append((link, pending + surface))
            pending = link = ""
    close()
    keep_case = lang in _KEEPS_CASE
    min_letters = _MIN_LETTERS.get(lang, 3)
    runs = []
    for words in glued:
        run = []
        for connector, word in words:
            if _CJK.search(word):
                word = _trim(word, stop)
            if _is_content(word, stop, min_letters):
                run.append((connector if run else "", word if keep_case else word.lower()))
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
    return runs


def words(text: str, lang: str | None = None) -> list[str]:
    """Content words of ``text`` in ``lang`` (detected when ``None``), stop words and boilerplate removed.

    Chinese is segmented with jieba, Japanese with Sudachi, Korean with Kiwi and Thai with
    PyThaiNLP; Japanese and Korean keep nouns (with their prefixes and one-character suffixes)
    and foreign words. Han, kana and Hangul words need two or more characters, other words
    three or more letters (Vietnamese syllables two). Words are lower case except in languages
    that capitalise nouns (German).
    """
    if not text:
        return []
    return [word for run in _runs(text, lang) for _, word in run]


PHRASE_SEPARATOR = "\x1f"


def phrases(text: str, lang: str | None = None) -> list[str]:
    """Words plus two-word phrases of content words that stand next to each other.

    A phrase's words (and the connector between them, as in "moteur de flottabilité") are
    joined by :data:`PHRASE_SEPARATOR`; :func:`display_phrase` turns it into
    ``"underwater glider"`` (or ``"水下滑翔机"`` for Han words).
    """
    if not text:
        return []
    runs = _runs(text, lang)
    tokens = [word for run in runs for _, word in run]
    bigrams = [
        PHRASE_SEPARATOR.join((a, connector, b) if connector else (a, b))
        for run in runs
        for (_, a), (connector, b) in zip(run, run[1:])
        if a != b
    ]
    return tokens + bigrams


def display_phrase(term: str) -> str:
    """A phrase as people write it: Chinese, Japanese and Thai words joined directly, others with a space."""
    parts = term.split(PHRASE_SEPARATOR)
    out = parts[0]
    for part in parts[1:]:
        unspaced = bool(out and part and _UNSPACED.match(out[-1]) and _UNSPACED.match(part[0]))
        out += ("" if unspaced else " ") + part
    return out


_ASCII_WORD = re.compile(r"[a-z][a-z-]*")
_VOWEL = re.compile(r"[aeiouy]")
#: Singular words ending in "s" that are not "-ss", "-us" or "-is" words.
_SINGULAR_S = frozenset({"lens", "bias", "atlas", "canvas", "chassis", "series", "species", "alias", "news"})


def light_stem(word: str) -> str:
    """The key under which the inflections of a lower-case Latin-script word are one word.

    A deliberately light stemmer for English (it does no harm to the plural "-s" of French,
    Spanish or Italian): plurals ("batteries" battery, "lenses" lens, "cosmetics" cosmetic,
    "switches" switch), then "-ing" and "-ed" ("coatings", "coating", "coated" -> coat), then a
    final "e" ("image", "images", "imaging" -> imag). Only a key: two words with one key are
    one idea, the key itself is never shown. Words of other scripts, with capitals (German
    nouns) or of three letters or fewer come back as they are.
    """
    if len(word) <= 3 or word in _SINGULAR_S or _ASCII_WORD.fullmatch(word) is None:
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("ss", "us", "is")) or w in _SINGULAR_S:
        pass
    elif w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")):
        w = w[:-2]
    elif w.endswith("s"):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix):
            stem = w[: -len(suffix)]
            if len(stem) >= 2 and stem[-1] == stem[-2] and stem[-1] not in "sz":
                stem = stem[:-1]  # "embedded" -> embed, "cutting" -> cut
            if len(stem) >= 4 and _VOWEL.search(stem):
                w = stem
            break
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    return w
