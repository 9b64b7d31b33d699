"""The languages a model reads, as ISO 639-1 codes, and how a corpus's language codes match them.

A profile declares a tuple of codes (:data:`ENGLISH`, :data:`USE_LANGUAGES`,
:data:`E5_LANGUAGES`) or :data:`MANY`, the sentinel for a model whose languages patscape does
not know and takes as any (a user's ``st:``/``gguf:``/``openai:`` model unless ``--languages``
names them, Qwen3-Embedding, ``hash:``). A document's code matches a model's by its primary
subtag (``zh-tw`` is read by a model that reads ``zh``), after a few aliases (``iw`` -> ``he``,
``nb`` -> ``no``, ``eng`` -> ``en``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable

#: The sentinel: any language.
MANY = "many"
ANY_LANGUAGE: tuple[str, ...] = (MANY,)
ENGLISH: tuple[str, ...] = ("en",)
#: Universal Sentence Encoder multilingual v3 (its model card: 16 languages).
USE_LANGUAGES: tuple[str, ...] = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr",
                                  "zh", "zh-TW")
#: multilingual-e5-small: the languages its model card lists (those of XLM-RoBERTa).
E5_LANGUAGES: tuple[str, ...] = tuple("""
af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr hu hy id is it
ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps pt ro ru sa sd si sk sl so sq sr
su sv sw ta te th tl tr ug uk ur uz vi xh yi zh""".split())

#: English names, for messages.
NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani", "be": "Belarusian",
    "bg": "Bulgarian", "bn": "Bengali", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "fy": "Frisian", "ga": "Irish", "gd": "Scottish Gaelic", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian",
    "is": "Icelandic", "it": "Italian", "ja": "Japanese", "jv": "Javanese", "ka": "Georgian", "kk": "Kazakh",
    "km": "Khmer", "kn": "Kannada", "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin", "lo": "Lao",
    "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian",
    "mr": "Marathi", "ms": "Malay", "my": "Burmese", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian",
    "om": "Oromo", "or": "Odia", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit", "sd": "Sindhi", "si": "Sinhala", "sk": "Slovak",
    "sl": "Slovenian", "so": "Somali", "sq": "Albanian", "sr": "Serbian", "su": "Sundanese", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish",
    "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese", "xh": "Xhosa",
    "yi": "Yiddish", "zh": "Chinese",
}

#: A language is *present* in a corpus when it holds at least this many documents AND this share of
#: it: both, so that a few misdetected documents (a short English title taken for Dutch, a Chinese
#: abstract with a Japanese kana) change nothing, in a small corpus or a large one. The one rule
#: of ``--model auto``, of its warning (:mod:`patscape.spaces`) and of the languages a centred
#: space keeps a mean of (:mod:`patscape.store.centring`).
MIN_LANGUAGE_DOCS = 20
MIN_LANGUAGE_SHARE = 0.01

_ALIASES = {
    "iw": "he", "in": "id", "ji": "yi", "nb": "no", "nn": "no", "fil": "tl", "jw": "jv",
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "por": "pt",
    "rus": "ru", "zho": "zh", "chi": "zh", "jpn": "ja", "kor": "ko", "vie": "vi", "ara": "ar", "nld": "nl",
    "dut": "nl", "pol": "pl", "tur": "tr", "tha": "th",
}


def primary(code: str) -> str:
    """The primary subtag of a language code, lower case, aliases resolved: ``zh-TW`` -> ``zh``."""
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return _ALIASES.get(base, base)


def name_of(code: str) -> str:
    return NAMES.get(primary(code), code)


def parse_languages(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """``--languages a,b,c`` as a tuple of codes (``many``: any); None when not given."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = tuple(dict.fromkeys(c.strip() for c in items if c and c.strip()))
    if not codes:
        return None
    if any(c.lower() == MANY for c in codes):
        return ANY_LANGUAGE
    return codes


def reads_any(languages: Iterable[str]) -> bool:
    return any(str(c).lower() == MANY for c in languages)


def reads(languages: Iterable[str], code: str) -> bool:
    """Whether a model that reads ``languages`` reads documents in ``code``."""
    languages = tuple(languages)
    if reads_any(languages):
        return True
    return primary(code) in {primary(c) for c in languages}


def is_multilingual(languages: Iterable[str]) -> bool:
    """More than one language (or any): what the old ``multilingual`` flag said."""
    languages = tuple(languages)
    return reads_any(languages) or len({primary(c) for c in languages}) > 1


def describe(languages: Iterable[str]) -> str:
    """``many`` or the codes, space-separated (for `patscape models` and `patscape info`)."""
    languages = tuple(languages)
    if reads_any(languages):
        return "many (not declared; any language is taken as read)"
    return f"{len(languages)}: {' '.join(languages)}" if len(languages) > 1 else " ".join(languages)
