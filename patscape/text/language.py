"""Language detection: the script with the most letters decides, ``langdetect`` among languages
that share a script."""

from __future__ import annotations

import re
import unicodedata

from .scripts import _HAN, _HANGUL, _KANA, _LETTER

# Vowels with a hook or a dot below, and o/u with a horn: letters only Vietnamese uses this much.
_VIETNAMESE = re.compile(r"[\u01a0\u01a1\u01af\u01b0\u1ea0-\u1ef9]")

#: Scripts other than Latin and Han/kana: letters, the weight of one letter against a Latin one,
#: and the languages written in it (several: langdetect chooses among them).
_SCRIPTS: tuple[tuple[re.Pattern[str], int, tuple[str, ...]], ...] = (
    (_HANGUL, 2, ("ko",)),
    (re.compile(r"[\u0e00-\u0e7f]"), 1, ("th",)),
    (re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"), 1, ("el",)),
    (re.compile(r"[\u0590-\u05ff]"), 1, ("he",)),
    (re.compile(r"[\u0900-\u097f]"), 1, ("hi",)),
    (re.compile(r"[\u0400-\u04ff]"), 1, ("ru", "uk", "bg", "mk", "sr")),
    (re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"), 1, ("ar", "fa", "ur")),
)
#: A Han or kana character says about as much as three Latin letters.
_CJK_WEIGHT = 3


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (``None`` when there is nothing to detect).

    The script with the most letters decides (a Han or kana character counts three, a Hangul
    syllable two): Han with kana (5% or more of them) is Japanese, Han alone Chinese, Hangul
    Korean, Thai, Greek, Hebrew and Devanagari name their language; for Cyrillic and Arabic
    script, and for Latin script other than Vietnamese, ``langdetect`` decides with a fixed
    seed, so the same text always gets the same answer.
    """
    sample = unicodedata.normalize("NFC", text[:2000])
    letters = "".join(_LETTER.findall(sample))
    if not letters:
        return None
    han, kana = len(_HAN.findall(letters)), len(_KANA.findall(letters))
    counts = [len(pattern.findall(letters)) for pattern, _, _ in _SCRIPTS]
    other = len(letters) - han - kana - sum(counts)  # Latin, mostly
    scores = [count * weight for count, (_, weight, _) in zip(counts, _SCRIPTS)]
    best = max(range(len(scores)), key=scores.__getitem__)
    if han + kana and _CJK_WEIGHT * (han + kana) >= max(other, scores[best]):
        return "ja" if kana >= 0.05 * (han + kana) else "zh"
    if scores[best] > other:
        languages = _SCRIPTS[best][2]
        return languages[0] if len(languages) == 1 else _langdetect(sample, languages)
    if len(_VIETNAMESE.findall(letters)) >= max(2, 0.03 * len(letters)):
        return "vi"
    return _langdetect(sample)


_ENGLISH_HINTS = frozenset("the a an of and to in for with by on is are from that which".split())


def _langdetect(sample: str, among: tuple[str, ...] = ()) -> str | None:
    """langdetect's best guess, or its best among ``among`` (the first of them if it has none)."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    try:
        guesses = detect_langs(sample)
    except LangDetectException:
        return among[0] if among else None
    codes = [str(guess.lang).split("-")[0] for guess in guesses]
    if among:
        return next((code for code in codes if code in among), among[0])
    # Short texts fool the detector; English function words settle an unsure guess.
    if guesses[0].prob < 0.9 and sample.isascii() and _ENGLISH_HINTS & set(sample.lower().split()):
        return "en"
    return codes[0]
