"""Orchestration of the stages: ingest -> embed -> map, with progress callbacks and resume."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .embed import Embedder, Task, load_embedder, resolve_alias
from .errors import InputError, NotFoundError
from .ingest import FieldMap, read_path
from .landscape import MapParams, build_landscape
from .records import Document, Problem
from .store import PassageRow, Space, Store

Progress = Callable[[int], None]
#: The document vector: title, abstract and claims represent a patent best (benchmarks/multilingual.py).
DEFAULT_FIELDS: tuple[str, ...] = ("title", "abstract", "claims")


# -- ingest ------------------------------------------------------------------------------------
@dataclass(slots=True)
class IngestReport:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.added + self.replaced + self.unchanged + self.duplicates


def ingest(
    store: Store,
    paths: Sequence[str | Path],
    fields: FieldMap | None = None,
    *,
    strict: bool = False,
    batch_size: int = 500,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Read every path into the store.

    Records with problems are reported through ``on_problem`` and skipped; with ``strict`` the
    first problem raises :class:`InputError` and nothing of this call is kept. A record whose id
    appeared earlier in this call with the same content is a repeat (counted as a duplicate);
    with different content it is a problem (the first one is kept).
    """
    fields = fields or FieldMap()
    readers = [read_path(p, fields) for p in paths]  # fails early on missing files / bad types
    report = IngestReport()
    db = store.db
    db.execute("CREATE TEMP TABLE IF NOT EXISTS ingest_seen (id TEXT PRIMARY KEY, hash TEXT, position TEXT)")
    db.execute("DELETE FROM ingest_seen")

    def problem(item: Problem) -> None:
        if strict:
            raise InputError(f"{item} (--strict: nothing was ingested)")
        report.problems.append(item)
        if on_problem:
            on_problem(item)

    def flush(batch: list[Document]) -> None:
        result = store.upsert_documents(batch)
        report.added += result.added
        report.replaced += result.replaced
        report.unchanged += result.unchanged
        report.duplicates += result.duplicates
        if progress:
            progress(len(batch))
        batch.clear()

    batch: list[Document] = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for reader in readers:
            for item in reader:
                if isinstance(item, Problem):
                    problem(item)
                    continue
                digest = item.content_hash
                path, position = item.origin or (item.source or "?", "record")
                seen = db.execute("SELECT hash, position FROM ingest_seen WHERE id = ?", (item.id,)).fetchone()
                if seen is not None:
                    if seen[0] == digest:
                        report.duplicates += 1
                    else:
                        problem(Problem(path, position, f"duplicate id {item.id} with different content (first seen at {seen[1]}); skipped"))
                    continue
                db.execute("INSERT INTO ingest_seen VALUES (?, ?, ?)", (item.id, digest, f"{path}: {position}"))
                batch.append(item)
                if len(batch) >= batch_size:
                    flush(batch)
                    if not strict:
                        db.execute("COMMIT")
                        db.execute("BEGIN IMMEDIATE")
        if batch:
            flush(batch)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return report


# -- embed -------------------------------------------------------------------------------------
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


def _slug(name: str) -> str:
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
) -> Space:
    """The embedding space these options produce; its key changes whenever the vectors would."""
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
        "multilingual": embedder.profile.multilingual,
        "loader": {k: v for k, v in (loader or {}).items() if k in LOADER_OPTIONS and v},
    }
    if passages is not None:
        # Older spaces have no "passages" entry, so their keys stay what they were.
        params["passages"] = {**asdict(passages), "fields": list(passages.fields), "task": "document", "dtype": "int8"}
    digest = hashlib.sha256(
        json.dumps([embedder.fingerprint(), out_dims, {k: v for k, v in params.items() if k not in ("task", "default")}],
                   sort_keys=True).encode()
    ).hexdigest()[:10]
    return Space(f"{_slug(embedder.name)}-{out_dims}-{digest}", embedder.name, embedder.fingerprint(), out_dims, params)


@dataclass(slots=True)
class EmbedReport:
    space: Space
    embedded: int
    already: int
    warnings: list[str]


def default_model(store: Store) -> tuple[str, str]:
    """The embedded default for this corpus, and why: English-only -> all-MiniLM-L6-v2 (the
    stronger English model), any other language -> the multilingual USE."""
    counts = store.language_counts()
    other = {lang: n for lang, n in counts.items() if lang not in ("en", "?")}
    if not other:
        return "minilm", "every document is English"
    langs = ", ".join(f"{lang} {n}" for lang, n in sorted(other.items(), key=lambda kv: -kv[1])[:4])
    return "use-multilingual", f"the corpus is multilingual ({langs})"


def resolve_model(store: Store, name: str) -> tuple[str, str | None]:
    """``name`` as given, or for ``auto`` the corpus default and why it was taken (else None)."""
    if resolve_alias(name) != "auto":
        return name, None
    return default_model(store)


def embed(
    store: Store,
    model: str | Embedder = "auto",
    *,
    task: Task = "document",
    dims: int | None = None,
    fields: Sequence[str] = DEFAULT_FIELDS,
    overlap: int = 32,
    max_chunks: int | None = None,
    passages: PassageParams | None = PassageParams(),
    batch_docs: int = 256,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    loader: Mapping[str, Any] | None = None,
    auto_reason: str | None = None,
) -> EmbedReport:
    """Embed every document that has no vector in this space yet; each batch is committed.

    A document gets one vector from ``fields`` (for the map and document similarity) and, unless
    ``passages`` is None, one vector per passage of its full text (for passage-level search),
    written in the same transaction. ``model="auto"`` picks :func:`default_model`.
    ``loader``: the options ``model`` was (or is to be) loaded with (see ``load_embedder``).
    ``auto_reason``: why ``auto`` chose this model, when the caller resolved it (kept with the space).
    """
    if isinstance(model, str):
        model, reason = resolve_model(store, model)
        auto_reason = auto_reason or reason
    embedder = model if isinstance(model, Embedder) else load_embedder(model, **dict(loader or {}))
    space = space_for(embedder, task, dims, fields, overlap, max_chunks, loader, passages)
    if auto_reason:
        space = replace(space, params={**space.params, "default": f"auto: {auto_reason}"})
    store.ensure_space(space)
    todo = store.ids_without_vectors(space.key)
    total = store.count_documents()
    warnings = _language_warnings(store, embedder)
    if on_start:
        on_start(len(todo))
    for start in range(0, len(todo), batch_docs):
        docs = list(store.iter_documents(todo[start : start + batch_docs]))
        result = embedder.embed(
            [document_text(d, fields) for d in docs], task, dims, overlap=overlap, max_chunks=max_chunks
        )
        rows = [
            (d.id, result.vectors[i], result.n_chunks[i], result.n_tokens[i], result.truncated_tokens[i])
            for i, d in enumerate(docs)
        ]
        store.put_vectors(space.key, rows, _passage_rows(embedder, docs, dims, passages) if passages else None)
        if progress:
            progress(len(docs))
    return EmbedReport(space, len(todo), total - len(todo), warnings)


def _passage_rows(
    embedder: Embedder, docs: Sequence[Document], dims: int | None, params: PassageParams
) -> list[PassageRow]:
    """Passages of every passage field of ``docs``, embedded for retrieval (task ``document``)."""
    pairs = [(doc, name) for doc in docs for name in params.fields if field_text(doc, name)]
    embedded = embedder.embed_passages(
        [field_text(doc, name) for doc, name in pairs], "document", dims,
        window=params.window, overlap=params.overlap, max_passages=params.max_per_field,
    )
    rows: list[PassageRow] = []
    for (doc, name), passages in zip(pairs, embedded):
        raw = getattr(doc, name)
        offset = len(raw) - len(raw.lstrip())  # spans are in the stripped field
        for vector, (begin, end) in zip(passages.vectors, passages.spans):
            rows.append(PassageRow(doc.id, name, begin + offset, end + offset, vector, passages.truncated_tokens))
    return rows


def _language_warnings(store: Store, embedder: Embedder) -> list[str]:
    if embedder.profile.multilingual:
        return []
    counts = store.language_counts()
    total = sum(counts.values()) or 1
    other = {lang: n for lang, n in counts.items() if lang not in ("en", "?")}
    share = sum(other.values()) / total
    if share < 0.02:
        return []
    langs = ", ".join(f"{lang} {n}" for lang, n in sorted(other.items(), key=lambda kv: -kv[1])[:5])
    return [
        f"{share:.0%} of the documents are not English ({langs}) but {embedder.name} is an English-only model: "
        "topics will split by language. Use a multilingual model (e.g. st:/path/to/Qwen3-Embedding-0.6B) "
        "for cross-lingual topics and search."
    ]


# -- shared helpers ------------------------------------------------------------------------------
def pick_space(store: Store, key: str | None = None, model: str | None = None) -> Space:
    """The space named by key, else the newest space of ``model``, else the newest space."""
    spaces = store.spaces()
    if not spaces:
        raise NotFoundError(f"{store.path} has no embeddings yet; run `patscape embed {store.path}` first")
    if key:
        return store.get_space(key)
    if model:
        wanted = resolve_alias(model)
        matching = [s for s in spaces if s.model == wanted]
        if not matching:
            raise NotFoundError(f"no embeddings of {model} in {store.path}; run `patscape embed --model {model}` first")
        return matching[-1]
    return spaces[-1]


def build_map(
    store: Store,
    space_key: str | None = None,
    params: MapParams | None = None,
    seed: int = 42,
    on_stage: Callable[[str], None] | None = None,
) -> int:
    """Build a landscape from the vectors of one space and store it as a new run."""
    space = pick_space(store, space_key)
    ids, vectors = store.load_vectors(space.key)
    docs = list(store.iter_documents(ids))
    result = build_landscape(ids, vectors, docs, params, seed, on_stage)
    run_params = {
        "map": asdict(result.params),
        "space": space.key,
        "model": space.model,
        "model_fingerprint": space.fingerprint,
        "embedding": space.params,
    }
    points = [
        (doc_id, int(label), int(raw), float(x), float(y))
        for doc_id, label, raw, (x, y) in zip(result.ids, result.labels, result.raw_labels, result.xy)
    ]
    topics = [
        (t["cluster"], t["label"], t["size"], {k: v for k, v in t.items() if k not in ("cluster", "label", "size")})
        for t in result.topics
    ]
    return store.save_run(space.key, seed, run_params, result.metrics, result.data, points, topics)
