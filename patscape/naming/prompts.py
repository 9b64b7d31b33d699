"""Everything the namer sends to a chat model: read this file to see what leaves the machine.

Three requests, each a system message and a user message, each answered with one JSON object:

* **leaf** (a topic of the finest level, or any topic without children): its keyphrases per
  language, its dominant IPC/CPC codes (with their titles where known) and a few diverse
  representative patent titles -> ``{"name": "..."}``;
* **parent**: the names of its children and its own keyphrases -> ``{"name": "..."}``;
* **disambiguation**: sibling topics whose names came out (nearly) the same, each with its
  keyphrases, renamed together -> ``{"names": {"1": "...", "2": "...", ...}}``.

Names are asked for as an analyst titles a technology in a report's table of contents, shorter
at higher levels (:func:`max_words`), in the requested language. :func:`response_format` gives
the JSON schema for servers that constrain decoding with it (llama.cpp, vLLM, OpenAI).

Change :data:`PROMPT_VERSION` whenever a prompt changes: cached names of an older version are
then asked for again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PROMPT_VERSION = "1"

#: The most keyphrases per language, codes and titles one prompt carries.
MAX_KEYPHRASES = 12
MAX_CODES = 5
MAX_TITLES = 6
MAX_CHILDREN = 25

#: Language codes the corpora use, as the name a model understands best; other values are sent as given.
LANGUAGE_NAMES = {
    "en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "de": "German", "fr": "French",
    "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish",
    "fi": "Finnish", "no": "Norwegian", "pl": "Polish", "cs": "Czech", "ru": "Russian", "uk": "Ukrainian",
    "tr": "Turkish", "ar": "Arabic", "he": "Hebrew", "hi": "Hindi", "vi": "Vietnamese", "th": "Thai",
    "id": "Indonesian", "el": "Greek", "hu": "Hungarian", "ro": "Romanian",
}

SYSTEM = (
    "You are a patent analyst writing a patent landscape report. You give each technology topic the "
    "title it would have in the report's table of contents: a precise technical noun phrase that "
    "says what the inventions do or are, specific enough to tell the topic from its neighbours. "
    "No company names, no marketing words, no words like 'patents', 'inventions', 'topic' or "
    "'cluster', no quotation marks, no explanation. Answer with one JSON object only."
)

LEAF = """\
Title one technology topic of a patent landscape ({level_text}).

Keyphrases of its patents, most distinctive first:
{keyphrases}
Dominant patent classification codes (share of the topic's patents):
{codes}
Titles of representative patents:
{titles}

Write the title in {language}, at most {max_words} words.
Answer with the JSON object {{"name": "<title>"}}."""

PARENT = """\
Title a group of technology topics of a patent landscape ({level_text}).

The topics it groups:
{children}
Keyphrases of the whole group, most distinctive first:
{keyphrases}

The title covers all the topics above, broader than any one of them. Write it in {language}, at most {max_words} words.
Answer with the JSON object {{"name": "<title>"}}."""

DISAMBIGUATE = """\
These {count} sibling technology topics of a patent landscape ({level_text}) were given titles that are \
(nearly) the same. Give each its own title that tells it apart from the others, using what is \
specific to it.

{topics}
Write each title in {language}, at most {max_words} words.
Answer with the JSON object {{"names": {{{keys}}}}}."""


def max_words(level: int, deepest: int) -> int:
    """The most words of a name at ``level`` (0 = top) in a tree whose finest level is ``deepest``:
    4 at the top, 8 at the finest, in between by depth; 6 when the tree has one level."""
    if deepest <= 0:
        return 6
    return 4 + round(4 * min(max(level, 0), deepest) / deepest)


def max_chars(level: int, deepest: int) -> int:
    """The most characters of a name (a bound on the JSON schema's string too)."""
    return 14 * max_words(level, deepest)


def language_name(language: str) -> str:
    """``de`` -> ``German``; anything else (``Esperanto``, ``pt-BR``) unchanged."""
    return LANGUAGE_NAMES.get(language.strip().lower(), language.strip())


def level_text(level: int, deepest: int) -> str:
    if deepest <= 0:
        return "the only level"
    if level == 0:
        return f"top level: a broad field, level 0 of 0-{deepest}"
    if level >= deepest:
        return f"finest level: a specific technology, level {level} of 0-{deepest}"
    return f"intermediate level {level} of 0-{deepest}"


def _bullets(lines: Sequence[str], empty: str = "(none)") -> str:
    return "".join(f"- {line}\n" for line in lines) if lines else f"- {empty}\n"


def keyphrase_lines(keyphrases: Mapping[str, Sequence[str]]) -> list[str]:
    """One line per language: ``en: a; b; c`` (empty languages left out)."""
    return [f"{lang}: {'; '.join(list(words)[:MAX_KEYPHRASES])}" for lang, words in sorted(keyphrases.items()) if words]


def code_lines(codes: Sequence[tuple[str, str | None, float]]) -> list[str]:
    lines = []
    for code, title, share in list(codes)[:MAX_CODES]:
        text = f"{code}: {title}" if title else code
        lines.append(f"{text} ({share:.0%})")
    return lines


def leaf_messages(
    language: str, level: int, deepest: int, keyphrases: Mapping[str, Sequence[str]],
    codes: Sequence[tuple[str, str | None, float]], titles: Sequence[str],
) -> list[dict[str, str]]:
    """The chat messages naming a topic from its own evidence."""
    user = LEAF.format(
        level_text=level_text(level, deepest), keyphrases=_bullets(keyphrase_lines(keyphrases)),
        codes=_bullets(code_lines(codes)), titles=_bullets([t.strip() for t in titles if t.strip()][:MAX_TITLES]),
        language=language_name(language), max_words=max_words(level, deepest),
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parent_messages(
    language: str, level: int, deepest: int, children: Sequence[str], keyphrases: Mapping[str, Sequence[str]],
) -> list[dict[str, str]]:
    """The chat messages naming a topic from its children's names."""
    user = PARENT.format(
        level_text=level_text(level, deepest), children=_bullets(list(children)[:MAX_CHILDREN]),
        keyphrases=_bullets(keyphrase_lines(keyphrases)), language=language_name(language),
        max_words=max_words(level, deepest),
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def disambiguation_messages(
    language: str, level: int, deepest: int, siblings: Sequence[tuple[str, Mapping[str, Sequence[str]]]],
) -> list[dict[str, str]]:
    """The chat messages renaming ``siblings`` (``(current name, keyphrases)``) together; the
    answer's keys are ``"1"``, ``"2"``, ... in the order given."""
    blocks = []
    for i, (name, keyphrases) in enumerate(siblings, start=1):
        blocks.append(f"Topic {i} (now titled: {name})\n{_bullets(keyphrase_lines(keyphrases))}")
    keys = ", ".join(f'"{i}": "<title>"' for i in range(1, len(siblings) + 1))
    user = DISAMBIGUATE.format(
        count=len(siblings), level_text=level_text(level, deepest), topics="\n".join(blocks),
        language=language_name(language), max_words=max_words(level, deepest), keys=keys,
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def name_schema(level: int, deepest: int) -> dict[str, Any]:
    """The JSON schema of a ``{"name": ...}`` answer (string length bounded by level)."""
    name = {"type": "string", "minLength": 1, "maxLength": max_chars(level, deepest)}
    return {"type": "object", "properties": {"name": name}, "required": ["name"], "additionalProperties": False}


def names_schema(count: int, level: int, deepest: int) -> dict[str, Any]:
    """The JSON schema of a disambiguation answer ``{"names": {"1": ..., "2": ...}}``."""
    name = {"type": "string", "minLength": 1, "maxLength": max_chars(level, deepest)}
    keys = [str(i) for i in range(1, count + 1)]
    names = {"type": "object", "properties": {k: name for k in keys}, "required": keys, "additionalProperties": False}
    return {"type": "object", "properties": {"names": names}, "required": ["names"], "additionalProperties": False}


def response_format(schema: dict[str, Any], style: str = "json_schema") -> dict[str, Any] | None:
    """``response_format`` of a chat request constraining the answer to ``schema``.

    ``json_schema`` is OpenAI's form (OpenAI, vLLM, llama.cpp's llama-server); ``json_object``
    with a ``schema`` is the older form that llama-cpp-python's server (and llama-server) accept;
    ``none`` sends no constraint (the prompt still asks for JSON).
    """
    if style == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "topic_names", "strict": True, "schema": schema}}
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


#: The fixed wording of the prompts, without the data: an answer found in it echoes the prompt.
INSTRUCTION_TEXT = "\n".join([SYSTEM, LEAF, PARENT, DISAMBIGUATE])
