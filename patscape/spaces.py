"""Embedding spaces: what a document vector is made of, the key a set of embedding options
gives, the model a corpus gets by default, and which space a command uses.

The facts below the stages: search, vector import, the server and the stages themselves read
them; this module imports no stage (:mod:`patscape.pipeline`) and no text processing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .embed import Embedder, Task, resolve_alias
from .embed.languages import (  # noqa: F401  (MIN_LANGUAGE_*: the rule is defined there, and read here)
    E5_LANGUAGES,
    ENGLISH,
    MIN_LANGUAGE_DOCS,
    MIN_LANGUAGE_SHARE,
    USE_LANGUAGES,
    name_of,
    primary,
    reads,
)
from .errors import IncompleteSpaceError, InputError, NotFoundError
from .records import Document
from .store import Space, SpaceProgress, Store

# -- what a document vector is made of ------------------------------------------------------------
#: The document vector: title, abstract and claims represent a patent best (benchmarks/multilingual.py).
DEFAULT_FIELDS: tuple[str, ...] = ("title", "abstract", "claims")
#: Fields that can make the document vector; ``first_claim`` is the first line of ``claims``.
TEXT_FIELDS = ("title", "abstract", "first_claim", "claims", "description", "text")
#: Fields cut into passages for passage-level search, in this order.
PASSAGE_FIELDS = ("claims", "description", "text")


def field_text(doc: Document, name: str) -> str:
    """One field of a document as text (``first_claim``: the first line of the claims)."""
    if name == "first_claim":
        return doc.claims.strip().split("\n", 1)[0].strip() if doc.claims else ""
    return str(getattr(doc, name, "") or "").strip()


def document_text(doc: Document, fields: Sequence[str] = DEFAULT_FIELDS) -> str:
    """The text that represents a document for embedding: the chosen fields, joined.

    Falls back to every body field when the chosen ones hold nothing but the title (e.g. a
    plain-text file has a title and a body but no abstract).
    """
    parts = [text for text in (field_text(doc, f) for f in fields) if text]
    if len(parts) <= (1 if "title" in fields and doc.title.strip() else 0):
        parts = [text for text in (field_text(doc, f) for f in ("title", "abstract", *PASSAGE_FIELDS)) if text]
    return "\n".join(dict.fromkeys(parts))  # identical fields once (a patent's only claim is its first)


# -- space keys ------------------------------------------------------------------------------------
def model_slug(name: str) -> str:
    """``st:/models/Qwen3-Embedding-0.6B`` -> ``st-qwen3-embedding-0-6b``; ``hash:256`` -> ``hash-256``."""
    backend, _, rest = name.partition(":")
    base = f"{backend}-{Path(rest).name}" if rest else backend
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:40] or "model"


#: load_embedder options that change the vectors: kept with the space so that a query is
#: embedded by the same model set up the same way (never secrets such as an API key).
LOADER_OPTIONS = ("profile", "instructions", "max_tokens", "tokenizer")


@dataclass(frozen=True, slots=True)
class PassageParams:
    """How the full text is cut into passages for passage-level search.

    window: tokens per passage (the model's own tokens); overlap: tokens shared by neighbours;
    max_per_field: passages kept per field and document (the rest is cut and counted);
    fields: the fields cut into passages.
    """

    window: int = 128
    overlap: int = 16
    max_per_field: int = 256
    fields: tuple[str, ...] = PASSAGE_FIELDS

    def validate(self) -> None:
        if self.window < 16:
            raise InputError("passages need a window of at least 16 tokens")
        if not 0 <= self.overlap < self.window // 2:
            raise InputError("the passage overlap must be less than half the window")
        if self.max_per_field < 1:
            raise InputError("at least one passage per field")
        unknown = [f for f in self.fields if f not in PASSAGE_FIELDS]
        if unknown:
            raise InputError(f"cannot cut {', '.join(unknown)} into passages; choose from {', '.join(PASSAGE_FIELDS)}")


def space_for(
    embedder: Embedder,
    task: Task,
    dims: int | None,
    fields: Sequence[str],
    overlap: int,
    max_chunks: int | None,
    loader: Mapping[str, Any] | None = None,
    passages: PassageParams | None = None,
    centre: bool | None = None,
) -> Space:
    """The embedding space these options produce; its key changes whenever the vectors would.

    ``centre``: centre the vectors by language at use (:data:`CENTRED_MODELS` decides when None);
    kept in the params outside the key, like the languages: it changes no stored vector."""
    out_dims = embedder.check_dims(dims)
    for name in fields:
        if name not in TEXT_FIELDS:
            raise InputError(f"unknown text field {name!r}; choose from {', '.join(TEXT_FIELDS)}")
    if passages is not None:
        passages.validate()
    params = {
        "task": task,
        "template": embedder.profile.format("{text}", task),
        "profile": embedder.profile.family,
        "fields": list(fields),
        "max_tokens": embedder.max_tokens,
        "overlap": overlap,
        "max_chunks": max_chunks,
        # the flag the key has always had (see ModelProfile.key_multilingual); the languages the
        # model reads are kept below, outside the key: declaring them changes no vector
        "multilingual": embedder.profile.key_multilingual,
        "loader": {k: v for k, v in (loader or {}).items() if k in LOADER_OPTIONS and v},
    }
    if passages is not None:
        # Older spaces have no "passages" entry, so their keys stay what they were.
        params["passages"] = {**asdict(passages), "fields": list(passages.fields), "task": "document", "dtype": "int8"}
    digest = hashlib.sha256(
        json.dumps([embedder.fingerprint(), out_dims, {k: v for k, v in params.items() if k not in ("task", "default")}],
                   sort_keys=True).encode()
    ).hexdigest()[:10]
    params["languages"] = list(embedder.profile.languages)  # older spaces have none: see space_languages
    if centre if centre is not None else CENTRED_MODELS.get(embedder.name, False):
        params["centring"] = "language"  # older spaces have none: used raw, as before
    return Space(f"{model_slug(embedder.name)}-{out_dims}-{digest}", embedder.name, embedder.fingerprint(), out_dims, params)


def space_languages(space: Space) -> tuple[str, ...] | None:
    """The languages the model of ``space`` reads, as stored (None: a space from before they were)."""
    stored = space.params.get("languages")
    return tuple(stored) if stored else None


#: Per-language mean-centring (:mod:`patscape.store.centring`) by default, per packaged model, as
#: measured on the dev corpus by ``benchmarks/languages.py`` (docs/models.md, "Language islands"):
#: on for e5-small, whose Chinese patents otherwise have no English patent among their 10 nearest
#: neighbours (0.0 -> 0.335 centred; Chinese map NMI 0.426 -> 0.555; a 1,000-patent sample); off
#: for use-multilingual, which has no such island (0.126 raw) and whose maps of the whole corpus
#: centring left within the seeds' spread (landscape F1 0.514 -> 0.522) while the Chinese 10-NN IPC
#: agreement fell (0.442 -> 0.426); off for minilm, which reads English only. Every other model:
#: off unless ``patscape embed --centre``.
CENTRED_MODELS: dict[str, bool] = {"e5-small": True, "use-multilingual": False, "minilm": False}


def wants_centring(space: Space) -> bool:
    """Whether ``space`` centres its vectors by language at use (its means frozen once)."""
    return space.params.get("centring") == "language"


def freeze_centring(store: Store, space: Space, on_notice: Any = None) -> None:
    """Freeze the language means of a space that asks for centring and has none yet (an embed
    that completes it, or its first map); a no-op otherwise. Never recomputes stored means."""
    if not wants_centring(space) or store.space_centring(space.key) is not None:
        return
    centring = store.freeze_means(space.key)
    if on_notice:
        own = ", ".join(f"{lang} {n}" for lang, n in sorted(centring.docs.items()) if lang != "*")
        on_notice(f"froze the language means of {space.key} over {centring.docs['*']} documents ({own or 'none of its own'}): "
                  "maps, search and queries centre by them from now on")


def space_options(space: Space) -> dict[str, Any]:
    """The :func:`~patscape.pipeline.embed` options a space was built with (its model loads with ``loader``)."""
    params = space.params
    stored = params.get("passages")
    passages = None
    if stored:
        passages = PassageParams(window=int(stored["window"]), overlap=int(stored["overlap"]),
                                 max_per_field=int(stored["max_per_field"]), fields=tuple(stored["fields"]))
    return {
        "task": params.get("task", "document"), "fields": tuple(params.get("fields", ("title", "abstract"))),
        "overlap": int(params.get("overlap", 32)), "max_chunks": params.get("max_chunks"), "passages": passages,
        "loader": dict(params.get("loader") or {}),
    }


# -- the default model ---------------------------------------------------------------------------
#: A language is *present* in a corpus when it holds at least MIN_LANGUAGE_DOCS documents AND at
#: least MIN_LANGUAGE_SHARE of the corpus (:mod:`patscape.embed.languages`): one rule for the
#: choice of ``auto``, for the warning about a model that does not read a language and for the
#: languages a centred space keeps a mean of. The corpus's most common language is present
#: whatever its count (a corpus of 12 Chinese patents is Chinese).
#: Seconds per document of the embed stage with its default options (title+abstract+claims vector
#: and full-text passages), measured on the dev corpus on a 2-core x86-64 machine without a GPU by
#: ``benchmarks/e5_speed.py`` (100 documents, English and Chinese; e5-small 0.573 s, use-multilingual
#: 0.0156 s: e5-small runs at 0.027x the speed of use-multilingual). What ``auto`` estimates with.
SECONDS_PER_DOC: dict[str, float] = {"use-multilingual": 0.0156, "e5-small": 0.573}
#: ``auto`` takes the slower e5-small for languages the default does not read when its estimate is
#: at most this (about 1,570 documents at the measured speed); above it, it keeps the fast default
#: and the embed warns with the command that reads them.
AUTO_MAX_SECONDS = 15 * 60
#: The packaged models, in the order ``auto`` prefers them (the stronger English model, the fast
#: multilingual default, the slow one that reads the most), and the languages each reads.
PACKAGED_LANGUAGES: dict[str, tuple[str, ...]] = {
    "minilm": ENGLISH, "use-multilingual": USE_LANGUAGES, "e5-small": E5_LANGUAGES,
}


def present_languages(counts: Mapping[str, int]) -> dict[str, int]:
    """The languages present in a corpus of these ``lang`` counts (see :data:`MIN_LANGUAGE_DOCS`;
    the most common one always), by primary code (``zh-tw`` counts as ``zh``), most documents
    first; unknown (``?``) is none."""
    total = sum(counts.values())
    merged: dict[str, int] = {}
    for lang, n in counts.items():
        if lang in ("?", "") or not lang:
            continue
        code = primary(lang)
        merged[code] = merged.get(code, 0) + int(n)
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
    return {code: n for i, (code, n) in enumerate(ranked)
            if i == 0 or (n >= MIN_LANGUAGE_DOCS and n >= MIN_LANGUAGE_SHARE * total)}


def unread_languages(languages: Sequence[str], counts: Mapping[str, int]) -> dict[str, int]:
    """The languages present in the corpus (``counts``: ``lang`` -> documents) that a model reading
    ``languages`` does not read."""
    return {code: n for code, n in present_languages(counts).items() if not reads(languages, code)}


def estimate_seconds(model: str, documents: int, seconds_per_doc: Mapping[str, float] | None = None) -> float | None:
    """Seconds to embed ``documents`` with a packaged ``model`` here (None: not measured)."""
    rate = {**SECONDS_PER_DOC, **(seconds_per_doc or {})}.get(resolve_alias(model))
    return None if rate is None else documents * rate


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} seconds"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"


def _counted(langs: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {name_of(code)} documents ({code})" for code, n in langs.items())


def _names(langs: Mapping[str, int]) -> str:
    names = [name_of(code) for code in langs]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def reader_for(counts: Mapping[str, int]) -> str | None:
    """The first packaged model (of :data:`PACKAGED_LANGUAGES`) that reads every language present
    in the corpus (None: none)."""
    present = present_languages(counts)
    for name, languages in PACKAGED_LANGUAGES.items():
        if all(reads(languages, code) for code in present):
            return name
    return None


def language_warning(
    store: Store, model: str, languages: Sequence[str], seconds_per_doc: Mapping[str, float] | None = None
) -> str | None:
    """The one warning for a model that does not read a language present in the corpus: the
    documents per language, and the command that reads them with its estimated time (None: the
    model reads every present language)."""
    counts = store.language_counts()
    unread = unread_languages(languages, counts)
    if not unread:
        return None
    message = f"{_counted(unread)}: {model} does not read {_names(unread)}"
    reader = reader_for(counts)
    if reader is None:
        return (f"{message}; no packaged model reads every language of this corpus: use one that does "
                f"(`patscape embed {store.path} --model st:DIR --languages ...`, see `patscape models`)")
    estimate = estimate_seconds(reader, sum(counts.values()), seconds_per_doc)
    when = f", {duration(estimate)} here" if estimate is not None else ""
    return f"{message}; `patscape embed {store.path} --model {reader}` reads them{when}"


def default_model(
    store: Store,
    *,
    seconds_per_doc: Mapping[str, float] | None = None,
    max_seconds: float = AUTO_MAX_SECONDS,
) -> tuple[str, str]:
    """The embedded default for this corpus, and why.

    Only the languages present (:func:`present_languages`) count: English alone ->
    all-MiniLM-L6-v2 (the stronger English model); languages use-multilingual reads ->
    use-multilingual; a language it does not read -> e5-small when it reads them all and its
    estimated time (documents x :data:`SECONDS_PER_DOC`, or ``seconds_per_doc``) is at most
    ``max_seconds``, else use-multilingual, and the embed warns (:func:`language_warning`).
    """
    counts = store.language_counts()
    present = present_languages(counts)
    if set(present) <= {"en"}:
        other = {lang: n for lang, n in counts.items() if lang not in ("en", "?")}
        if not other:
            return "minilm", "every document is English"
        few = ", ".join(f"{lang} {n}" for lang, n in sorted(other.items(), key=lambda kv: -kv[1])[:4])
        return "minilm", (f"English only: other languages hold fewer than {MIN_LANGUAGE_DOCS} documents or "
                          f"{MIN_LANGUAGE_SHARE:.0%} of the corpus ({few})")
    unread = unread_languages(USE_LANGUAGES, counts)
    if not unread:
        langs = ", ".join(f"{lang} {n}" for lang, n in present.items() if lang != "en")
        return "use-multilingual", f"the corpus is multilingual ({langs})"
    languages = ", ".join(f"{lang} {n}" for lang, n in unread.items())
    missing = f"the corpus has {languages}, which use-multilingual does not read"
    if reader_for(counts) != "e5-small":
        return "use-multilingual", f"{missing}, nor does any packaged model: kept use-multilingual"
    estimate = estimate_seconds("e5-small", sum(counts.values()), seconds_per_doc) or 0.0
    if estimate <= max_seconds:
        return "e5-small", f"{missing}; e5-small reads them, {duration(estimate)} here"
    return "use-multilingual", (f"{missing}; e5-small reads them but would take {duration(estimate)} here "
                                f"(over {duration(max_seconds)[6:]}): kept use-multilingual")


def resolve_model(
    store: Store, name: str, *, seconds_per_doc: Mapping[str, float] | None = None
) -> tuple[str, str | None]:
    """``name`` as given, or for ``auto`` the corpus default and why it was taken (else None)."""
    if resolve_alias(name) != "auto":
        return name, None
    return default_model(store, seconds_per_doc=seconds_per_doc)


# -- which space a command uses ------------------------------------------------------------------
def pick_space(store: Store, key: str | None = None, model: str | None = None) -> Space:
    """The space named by ``key`` (used as it is, complete or not), else the newest complete
    space (of ``model`` when given). Without a complete space, :class:`IncompleteSpaceError`
    names the newest one and how many documents it misses."""
    spaces = store.spaces()
    if not spaces:
        raise NotFoundError(f"{store.path} has no embeddings yet; run `patscape embed {store.path}` first")
    if key:
        return store.get_space(key)
    candidates = spaces
    if model:
        wanted = resolve_alias(model)
        candidates = [s for s in spaces if s.model == wanted]
        if not candidates:
            raise NotFoundError(f"no embeddings of {model} in {store.path}; run `patscape embed --model {model}` first")
    complete = [s for s in candidates if s.complete]
    if complete:
        return complete[-1]
    newest = store.space_progress(candidates[-1])
    raise IncompleteSpaceError(
        f"the embedding space {newest.space.key} is incomplete: {newest.missing} of {newest.documents} documents "
        f"have no vector yet; run `patscape embed {store.path}` to finish it, or pass --space {newest.space.key} "
        "to use it as it is"
    )


def space_notice(store: Store, space: Space) -> tuple[SpaceProgress, str | None]:
    """How much of the corpus ``space`` covers, and a one-line notice when it is not all."""
    progress = store.space_progress(space)
    if not progress.missing:
        return progress, None
    if not space.complete:
        return progress, (f"using the incomplete space {space.key} as asked: {progress.missing} of "
                          f"{progress.documents} documents have no vector and are left out")
    return progress, (f"{progress.missing} documents ingested after {space.key} was embedded have no vector and are "
                      f"left out; run `patscape embed {store.path}` to add them")
