"""What counts as a usable name: parsing the model's answer, cleaning it, checking it, and
telling near-duplicate names apart from distinct ones."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from .prompts import INSTRUCTION_TEXT, max_chars, max_words

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"[*`#]+|(?<!\w)_+|_+(?!\w)")
_LEAD = re.compile(r"^(?:name|title|topic name|topic)\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»「」『』„‚`"
_REPEATED_RUN = re.compile(r"(.{2,}?)\1{2,}", re.DOTALL)
#: Two names are near-duplicates when their word sets overlap at least this much (Jaccard).
NEAR_DUPLICATE = 0.75


def parse_answer(content: str, key: str) -> Any:
    """The value of ``key`` in the JSON object the model answered (code fences and text around
    the object tolerated), or None. Raw control characters inside strings are read (llama.cpp's
    grammars let byte tokens such as ``<0x16>`` through); :func:`check_name` then refuses them."""
    text = _FENCE.sub("", content.strip())
    candidates = [text]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate, strict=False)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value.get(key)
    return None


def count_words(text: str) -> int:
    """Words of a name; in Chinese and Japanese, which write no spaces, two characters count as one."""
    words = 0
    for token in text.split():
        cjk = len(_CJK.findall(token))
        rest = _CJK.sub("", token)
        words += math.ceil(cjk / 2) + (1 if any(c.isalnum() for c in rest) else 0)
    return words


def clean_name(raw: str) -> str:
    """The name without markup, surrounding quotes, a leading "Title:" or a final full stop."""
    text = _TAG.sub("", raw).strip()
    text = _EMPHASIS.sub("", text).strip()
    text = _LEAD.sub("", text).strip()
    while len(text) >= 1 and (text[0] in _QUOTES or text[-1] in _QUOTES + ".。"):
        text = text.strip(_QUOTES).rstrip(".。").strip()
    return text


def check_name(raw: Any, level: int, deepest: int) -> tuple[str | None, str | None]:
    """``(name, None)`` for a usable answer, ``(None, reason)`` otherwise."""
    if not isinstance(raw, str):
        return None, "no name in the answer"
    name = clean_name(raw)
    if not name:
        return None, "empty name"
    if "\n" in name or "\r" in name:
        return None, "name of several lines"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return None, "control characters in the name"
    name = " ".join(name.split())
    if any(c in name for c in "{}[]<>|\\"):
        return None, "not a plain name"
    words, chars = count_words(name), len(name)
    if words > max_words(level, deepest) or chars > max_chars(level, deepest):
        return None, f"too long ({words} words, {chars} characters; at most {max_words(level, deepest)} words)"
    tokens = word_tokens(name)
    if any(a == b for a, b in zip(tokens, tokens[1:], strict=False)) or _REPEATED_RUN.search(name.casefold()):
        return None, "repeated words"
    if len(tokens) > 2 and max(tokens.count(t) for t in tokens) > 2:
        return None, "repeated words"
    folded = normal_key(name)
    if len(folded) >= 12 and folded in _INSTRUCTIONS:
        return None, "echoes the prompt"
    return name, None


def normal_key(name: str) -> str:
    """Case-, punctuation- and space-insensitive form: equal keys are the same name."""
    kept = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in unicodedata.normalize("NFKC", name).casefold())
    return " ".join(kept.split())


def word_tokens(name: str) -> list[str]:
    """Words of a name, lower case; CJK characters as overlapping pairs (bigrams)."""
    tokens: list[str] = []
    for word in normal_key(name).split():
        if _CJK.search(word):
            tokens += [word[i : i + 2] for i in range(max(1, len(word) - 1))]
        else:
            tokens.append(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return tokens


def near_duplicates(a: str, b: str) -> bool:
    """The same name but for case and punctuation, or words overlapping at least :data:`NEAR_DUPLICATE`."""
    if normal_key(a) == normal_key(b):
        return True
    ta, tb = set(word_tokens(a)), set(word_tokens(b))
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= NEAR_DUPLICATE


def duplicate_groups(names: list[str]) -> list[list[int]]:
    """Indices of ``names`` grouped by near-duplication (transitively); groups of two or more,
    each in index order, ordered by their first index."""
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if near_duplicates(names[i], names[j]):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(names)):
        groups.setdefault(root(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


_INSTRUCTIONS = normal_key(INSTRUCTION_TEXT)
