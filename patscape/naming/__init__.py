"""Names for topics from any OpenAI-compatible chat model.

:func:`name_tree` names a topic hierarchy bottom-up (:mod:`.namer`); what is sent is all in
:mod:`.prompts`; :mod:`.client` speaks to the server (``openai:MODEL@URL``); answers are
cached by membership (:mod:`.cache`), in a store with :class:`StoreNameCache`.

A run records :func:`namer_info` (the model and :data:`PROMPT_VERSION`) and its names with
:meth:`patscape.store.Store.save_topic_names`, which never overwrites an analyst's rename.
"""

from __future__ import annotations

from .cache import MemoryCache, NameCache, StoreNameCache, cache_key
from .client import ChatAnswer, ChatClient, ChatError, is_local, parse_spec, remote_notice
from .namer import NamingResult, NamingSummary, TopicName, TopicToName, main_language, name_tree, namer_info
from .prompts import PROMPT_VERSION

__all__ = [
    "PROMPT_VERSION",
    "ChatAnswer",
    "ChatClient",
    "ChatError",
    "MemoryCache",
    "NameCache",
    "NamingResult",
    "NamingSummary",
    "StoreNameCache",
    "TopicName",
    "TopicToName",
    "cache_key",
    "is_local",
    "main_language",
    "name_tree",
    "namer_info",
    "parse_spec",
    "remote_notice",
]
