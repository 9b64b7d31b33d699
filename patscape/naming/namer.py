"""Naming a topic hierarchy bottom-up with a chat model: :func:`name_tree`.

The finest level first, each topic from its own evidence (keyphrases, codes, titles); then each
level above from its children's final names. Every answer is checked
(:func:`~patscape.naming.validate.check_name`); a topic whose request failed or whose answer is
unusable keeps its keyword label, with the reason. Then, per parent, siblings whose names are
near-duplicates are renamed together in one request, and finally names are made unique within
the level whatever the model answered: a repeated name gives way to the topic's keyword label,
or else gets a number ("Battery cooling (2)"). Answers are cached by membership
(:mod:`patscape.naming.cache`): a second naming of the same tree sends no request.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from . import prompts
from .cache import MemoryCache, NameCache, cache_key
from .client import ChatAnswer, ChatClient, ChatError
from .validate import check_name, duplicate_groups, normal_key, parse_answer

Key = tuple[int, int]  # (level, node)
_NO_LANGUAGE = {"", "und", "unknown", "xx", "?"}


@dataclass(frozen=True, slots=True)
class TopicToName:
    """One topic of the hierarchy and the evidence sent to name it.

    ``parent`` is the node of its parent at ``level - 1`` (None at level 0); ``codes`` are
    ``(code, title or None, share of the topic's patents)``; ``members_hash`` hashes the
    topic's sorted member document ids; ``label`` is the keyword label, the fallback.
    """

    level: int
    node: int
    parent: int | None
    keyphrases: Mapping[str, Sequence[str]]
    codes: Sequence[tuple[str, str | None, float]]
    titles: Sequence[str]
    members_hash: str
    label: str


@dataclass(frozen=True, slots=True)
class TopicName:
    """A topic's name: ``source`` "namer" or "fallback" (the keyword label); ``reason`` says why
    a fallback was used or a name was changed to be unique (None otherwise)."""

    level: int
    node: int
    name: str
    source: str
    reason: str | None = None


@dataclass(slots=True)
class NamingSummary:
    """What a naming cost: requests sent (naming and disambiguation), cache hits, fallbacks,
    tokens from the server's ``usage`` (0 when it sends none), wall-clock seconds."""

    model: str
    prompt_version: str
    language: str
    topics: int = 0
    requests: int = 0
    disambiguation_requests: int = 0
    cache_hits: int = 0
    fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class NamingResult:
    """Names by ``(level, node)`` and the summary."""

    names: dict[Key, TopicName]
    summary: NamingSummary
    fallback_reasons: Counter[str] = field(default_factory=Counter)

    def rows(self) -> list[tuple[int, int, str, str, str | None]]:
        """``(level, node, name, source, reason)`` in level and node order, for
        :meth:`patscape.store.Store.save_topic_names`."""
        return [(n.level, n.node, n.name, n.source, n.reason) for _, n in sorted(self.names.items())]


def namer_info(client: ChatClient) -> dict[str, str]:
    """What a run records about its namer: the model and the prompt version."""
    return {"model": client.model, "prompt_version": prompts.PROMPT_VERSION}


def main_language(topics: Sequence[TopicToName]) -> str:
    """The language most keyphrases are in (``en`` when none is known)."""
    counts: Counter[str] = Counter()
    for topic in topics:
        for lang, words in topic.keyphrases.items():
            if (lang or "").strip().lower() not in _NO_LANGUAGE:
                counts[lang.strip().lower()] += len(words)
    return max(sorted(counts), key=lambda lang: counts[lang]) if counts else "en"


def name_tree(
    topics: Sequence[TopicToName],
    namer: ChatClient | str,
    *,
    language: str | None = None,
    cache: NameCache | None = None,
    notice: Callable[[str], None] | None = None,
) -> NamingResult:
    """Name every topic (see the module doc). ``namer`` is a client or a spec
    ``openai:MODEL@URL`` (the client is then made here, with ``notice``, and closed);
    ``language`` is a code (``de``) or a language's name (``Esperanto``); None: the topics'
    main language."""
    started = time.perf_counter()
    client = ChatClient.from_spec(namer, notice=notice) if isinstance(namer, str) else namer
    try:
        naming = _Naming(topics, client, language or main_language(topics), cache if cache is not None else MemoryCache())
        naming.run()
    finally:
        if isinstance(namer, str):
            client.close()
    naming.summary.seconds = time.perf_counter() - started
    reasons = Counter(n.reason or "" for n in naming.final.values() if n.source == "fallback")
    return NamingResult(dict(sorted(naming.final.items())), naming.summary, reasons)


class _Naming:
    """One naming of one tree (the state shared by the levels)."""

    def __init__(self, topics: Sequence[TopicToName], client: ChatClient, language: str, cache: NameCache) -> None:
        self.by_key: dict[Key, TopicToName] = {}
        for topic in topics:
            if (topic.level, topic.node) in self.by_key:
                raise InputError(f"topic {topic.node} appears twice at level {topic.level}")
            self.by_key[(topic.level, topic.node)] = topic
        self.children: dict[Key, list[TopicToName]] = {}
        for topic in sorted(topics, key=lambda t: (t.level, t.node)):
            if topic.parent is not None:
                if (topic.level - 1, topic.parent) not in self.by_key:
                    raise InputError(f"topic {topic.node} of level {topic.level} names a parent {topic.parent} that level {topic.level - 1} lacks")
                self.children.setdefault((topic.level - 1, topic.parent), []).append(topic)
        self.deepest = max((t.level for t in topics), default=0)
        self.client, self.language, self.cache = client, language, cache
        self.model, self.version = client.model, prompts.PROMPT_VERSION
        self.final: dict[Key, TopicName] = {}
        self.summary = NamingSummary(self.model, self.version, language, topics=len(topics))

    def run(self) -> None:
        for level in range(self.deepest, -1, -1):
            at_level = sorted((t for t in self.by_key.values() if t.level == level), key=lambda t: t.node)
            names = self._first_names(at_level)
            names = self._disambiguate(level, at_level, names)
            self.final.update(_unique(at_level, names))
        self.summary.fallbacks = sum(1 for n in self.final.values() if n.source == "fallback")

    # -- the first name of each topic of a level ---------------------------------------------------
    def _first_names(self, at_level: list[TopicToName]) -> dict[Key, TopicName]:
        names: dict[Key, TopicName] = {}
        asks: list[tuple[TopicToName, str, list[dict[str, str]]]] = []
        for topic in at_level:
            kids = self.children.get((topic.level, topic.node), [])
            kid_names = [self.final[(k.level, k.node)].name for k in kids]
            if kids:
                key = cache_key("parent", [topic.members_hash], self.language, self.version, self.model, kid_names)
                messages = prompts.parent_messages(self.language, topic.level, self.deepest, kid_names, topic.keyphrases)
            else:
                key = cache_key("leaf", [topic.members_hash], self.language, self.version, self.model)
                messages = prompts.leaf_messages(self.language, topic.level, self.deepest, topic.keyphrases, topic.codes, topic.titles)
            cached = self.cache.get(key)
            name = check_name(cached, topic.level, self.deepest)[0] if cached is not None else None
            if name is not None:
                self.summary.cache_hits += 1
                names[(topic.level, topic.node)] = TopicName(topic.level, topic.node, name, "namer")
            else:
                asks.append((topic, key, messages))
        level = at_level[0].level if at_level else 0
        schema = prompts.name_schema(level, self.deepest)
        answers = self._ask([m for _, _, m in asks], schema, _max_tokens(level, self.deepest, 1))
        for (topic, key, _), (answer, failure) in zip(asks, answers, strict=True):
            name, reason = (None, failure) if answer is None else check_name(parse_answer(answer, "name"), topic.level, self.deepest)
            if name is None:
                names[(topic.level, topic.node)] = _fallback(topic, reason or "no answer")
            else:
                self.cache.put(key, name, self.model, self.version)
                names[(topic.level, topic.node)] = TopicName(topic.level, topic.node, name, "namer")
        self.summary.requests += len(asks)
        return names

    # -- siblings with near-duplicate names, renamed together --------------------------------------
    def _disambiguate(self, level: int, at_level: list[TopicToName], names: dict[Key, TopicName]) -> dict[Key, TopicName]:
        by_parent: dict[int | None, list[TopicToName]] = {}
        for topic in at_level:
            by_parent.setdefault(topic.parent, []).append(topic)
        groups: list[list[TopicToName]] = []
        for siblings in by_parent.values():
            current = [names[(t.level, t.node)].name for t in siblings]
            groups += [[siblings[i] for i in group] for group in duplicate_groups(current)]
        asks: list[tuple[list[TopicToName], str, list[dict[str, str]]]] = []
        renamed: dict[Key, list[str] | None] = {}
        for group in groups:
            current = [names[(t.level, t.node)].name for t in group]
            key = cache_key("disambiguation", [t.members_hash for t in group], self.language, self.version, self.model, current)
            cached = _json_list(self.cache.get(key))
            if cached is not None:
                self.summary.cache_hits += 1
                renamed[(level, group[0].node)] = cached
            else:
                messages = prompts.disambiguation_messages(self.language, level, self.deepest, [(n, t.keyphrases) for n, t in zip(current, group, strict=True)])
                asks.append((group, key, messages))
        for group, key, messages in asks:  # one request per group, each with its own schema
            schema = prompts.names_schema(len(group), level, self.deepest)
            [(answer, _)] = self._ask([messages], schema, _max_tokens(level, self.deepest, len(group)))
            got = parse_answer(answer, "names") if answer is not None else None
            new = [got.get(str(i)) for i in range(1, len(group) + 1)] if isinstance(got, dict) else None
            if new is not None and all(isinstance(n, str) for n in new):
                self.cache.put(key, json.dumps(new, ensure_ascii=False), self.model, self.version)
            renamed[(level, group[0].node)] = new
        self.summary.requests += len(asks)
        self.summary.disambiguation_requests += len(asks)
        result = dict(names)
        for group in groups:
            new = renamed.get((level, group[0].node))
            if not isinstance(new, list):
                continue
            for topic, candidate in zip(group, new, strict=False):
                name = check_name(candidate, level, self.deepest)[0]
                if name is not None:
                    result[(level, topic.node)] = TopicName(level, topic.node, name, "namer")
        return result

    def _ask(self, requests: list[list[dict[str, str]]], schema: dict[str, Any], max_tokens: int) -> list[tuple[str | None, str | None]]:
        """``(answer, None)`` or ``(None, reason)`` per request, at most ``concurrency`` at once."""
        if not requests:
            return []

        def one(messages: list[dict[str, str]]) -> ChatAnswer | ChatError:
            try:
                return self.client.complete(messages, schema, max_tokens)
            except ChatError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=min(self.client.concurrency, len(requests))) as pool:
            outcomes = list(pool.map(one, requests))
        results: list[tuple[str | None, str | None]] = []
        for outcome in outcomes:
            if isinstance(outcome, ChatError):
                results.append((None, f"request failed: {outcome.reason}"))
                continue
            self.summary.prompt_tokens += outcome.prompt_tokens or 0
            self.summary.completion_tokens += outcome.completion_tokens or 0
            results.append((outcome.content, None))
        return results


def _json_list(text: str | None) -> list[Any] | None:
    """A cached disambiguation (a JSON list of names), or None."""
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def _max_tokens(level: int, deepest: int, count: int) -> int:
    """Room for ``count`` names even when every character is its own token (or an escape)."""
    return 64 + count * (16 + 6 * prompts.max_chars(level, deepest))


def _fallback(topic: TopicToName, reason: str) -> TopicName:
    label = " ".join(topic.label.split()) or f"Topic {topic.level}.{topic.node}"
    return TopicName(topic.level, topic.node, label, "fallback", reason)


def _unique(at_level: list[TopicToName], names: dict[Key, TopicName]) -> dict[Key, TopicName]:
    """Names made unique within the level (case and punctuation aside): in (parent, node) order,
    a repeated name gives way to the keyword label, else gets the first free number."""
    taken: set[str] = set()
    result: dict[Key, TopicName] = {}
    order = sorted(at_level, key=lambda t: (-1 if t.parent is None else t.parent, t.node))
    for topic in order:
        key = (topic.level, topic.node)
        chosen = names[key]
        if normal_key(chosen.name) in taken:
            label = _fallback(topic, f"duplicate of another name at level {topic.level} ({chosen.name})")
            if chosen.source == "namer" and normal_key(label.name) not in taken:
                chosen = label
            else:
                number = 2
                while normal_key(f"{chosen.name} ({number})") in taken:
                    number += 1
                reason = chosen.reason or f"duplicate of another name at level {topic.level}, numbered"
                chosen = TopicName(chosen.level, chosen.node, f"{chosen.name} ({number})", chosen.source, reason)
        taken.add(normal_key(chosen.name))
        result[key] = chosen
    return result
