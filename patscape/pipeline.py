"""Orchestration of the stages: ingest -> embed -> map, with progress callbacks and resume."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .embed import Embedder, Task, load_embedder, resolve_alias
from .errors import IncompleteSpaceError, InputError, NotFoundError, SpaceMismatchError, StoreError
from .ingest import FieldMap, read_path
from .ingest.limits import ReadLimits
from .landscape import Landscape, MapParams, build_landscape
from .landscape.reduce import SecondProcess, background_for
from .records import Document, Problem
from .store import PassageRow, Space, SpaceProgress, Store, VectorRow, crash_point

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
    #: Records skipped, with where and why.
    problems: list[Problem] = field(default_factory=list)
    #: Records kept after a field was fixed or dropped, or whose id was changed (where and why).
    warnings: list[Problem] = field(default_factory=list)
    #: Ids stored or confirmed by this call (only with ``collect_ids``).
    ids: list[str] = field(default_factory=list)

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
    limits: ReadLimits | None = None,
    collect_ids: bool = False,
    source_label: Callable[[str], str] | None = None,
) -> IngestReport:
    """Read every path into the store.

    Files are parsed outside any write transaction; each batch of ``batch_size`` documents is
    written in one short transaction, so a killed ingest keeps every committed batch and a re-run
    adds the rest. Records with problems are reported through ``on_problem`` and skipped (a
    problem with ``kept`` set is a warning: the record was stored with the field fixed); with
    ``strict`` the files are checked first and the first problem raises :class:`InputError`
    before anything is stored. A record whose id appeared earlier in this call with the same
    content is a repeat (counted as a duplicate); with different content it is a problem (the
    first one is kept). A file whose id comes from its path (``extra.id_source == "path"``)
    and is taken by a different file gets an id made from its content instead (``name~hash``).
    ``source_label`` rewrites the ``source`` kept with each document (uploads name the job).
    """
    fields = fields or FieldMap()
    limits = limits or ReadLimits()
    for p in paths:  # fails early on missing files / bad types
        read_path(p, fields, limits=limits)
    if strict:
        _ingest_pass(store, paths, fields, limits, IngestReport(), strict=True, write=False, batch_size=batch_size)
    report = IngestReport()
    _ingest_pass(store, paths, fields, limits, report, strict=strict, write=True, batch_size=batch_size,
                 on_problem=on_problem, progress=progress, collect_ids=collect_ids, source_label=source_label)
    return report


def _ingest_pass(
    store: Store,
    paths: Sequence[str | Path],
    fields: FieldMap,
    limits: ReadLimits,
    report: IngestReport,
    *,
    strict: bool,
    write: bool,
    batch_size: int,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Progress | None = None,
    collect_ids: bool = False,
    source_label: Callable[[str], str] | None = None,
) -> None:
    store.start_ingest_log()

    def problem(item: Problem) -> None:
        if strict:
            raise InputError(f"{item} (--strict: nothing was ingested)")
        (report.warnings if getattr(item, "kept", False) else report.problems).append(item)
        if on_problem:
            on_problem(item)

    def flush(batch: list[Document]) -> None:
        if write:
            result = store.write_documents(batch)
            report.added += result.added
            report.replaced += result.replaced
            report.unchanged += result.unchanged
            report.duplicates += result.duplicates
            if collect_ids:
                report.ids.extend(d.id for d in batch)
            if progress:
                progress(len(batch))
        batch.clear()

    batch: list[Document] = []
    for path_ in paths:
        for item in read_path(path_, fields, limits=limits):
            if isinstance(item, Problem):
                problem(item)
                continue
            if source_label is not None and item.source:
                item = replace(item, source=source_label(item.source))
            digest = item.content_hash
            path, position = item.origin or (item.source or "?", "record")
            if item.extra.get("id_source") == "path":
                item = _unique_path_id(store, item, digest, path, problem)
            seen = store.log_ingested(item.id, digest, f"{path}: {position}")
            if seen is not None:
                if seen[0] == digest:
                    report.duplicates += 1
                else:
                    problem(Problem(path, position, f"duplicate id {item.id} with different content (first seen at {seen[1]}); skipped"))
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                flush(batch)
    if batch:
        flush(batch)


def _unique_path_id(
    store: Store, doc: Document, digest: str, path: str, problem: Callable[[Problem], None]
) -> Document:
    """``doc`` as is, or with an id made from its content when another file already has its
    path-derived id (same name in another folder or upload); the change is reported."""
    earlier = store.ingested_before(doc.id)
    stored = store.stored_version(doc.id)
    if earlier is not None:
        taken_by = earlier[1] if earlier[0] != digest else None
    else:
        taken_by = stored[1] if stored is not None and stored[0] != digest and stored[1] != doc.source else None
    if taken_by is None:
        return doc
    new_id = f"{doc.id}~{digest[:10]}"
    problem(Problem(path, "file", f"id {doc.id} belongs to {taken_by}; this file is stored as {new_id}", kept=True))
    return replace(doc, id=new_id, extra={**doc.extra, "id_source": "content"})


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
    #: Documents still without a vector in the space when the call ended (0: it covers the corpus).
    missing: int = 0
    #: Vectors dropped because their document was replaced while it was being embedded.
    stale: int = 0


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


#: Passes over documents replaced or added while an embed runs, before the embed stops.
MAX_PASSES = 3


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    """The options every batch of an embed is computed with (plain data: the Ray engine ships
    it to its workers)."""

    task: Task
    dims: int | None
    fields: tuple[str, ...]
    overlap: int
    max_chunks: int | None
    passages: PassageParams | None


#: A computed batch: its document vectors, and the passages of those documents (None: no passages).
Computed = tuple[list[VectorRow], list[PassageRow] | None]
#: Computes batches of document ids (read from ``store`` by the engine, in this process) and
#: yields one or more :data:`Computed` per batch, in any order; it never writes to the store.
EmbedEngine = Callable[[Store, Embedder, EmbedOptions, Sequence[Sequence[str]]], Iterator[Computed]]


def embed_documents(
    embedder: Embedder, docs: Sequence[Document], options: EmbedOptions, hashes: Sequence[str] | None = None
) -> Computed:
    """The vectors and passages of one batch of documents: the computation of every engine, so
    that they store identical bytes. ``hashes``: the content hashes the rows carry (default: the
    documents' own; a worker that receives only the text fields is given them)."""
    result = embedder.embed(
        [document_text(d, options.fields) for d in docs], options.task, options.dims,
        overlap=options.overlap, max_chunks=options.max_chunks,
    )
    hashes = list(hashes) if hashes is not None else [d.content_hash for d in docs]
    rows = [
        VectorRow(d.id, hashes[i], result.vectors[i], result.n_chunks[i], result.n_tokens[i], result.truncated_tokens[i])
        for i, d in enumerate(docs)
    ]
    passages = _passage_rows(embedder, docs, options.dims, options.passages) if options.passages else None
    return rows, passages


def local_engine(
    store: Store, embedder: Embedder, options: EmbedOptions, batches: Sequence[Sequence[str]]
) -> Iterator[Computed]:
    """The default engine: every batch in this process, in order."""
    for batch in batches:
        yield embed_documents(embedder, list(store.iter_documents(batch)), options)


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
    ids: Sequence[str] | None = None,
    expect_space: str | None = None,
    engine: EmbedEngine | None = None,
) -> EmbedReport:
    """Embed every document that has no vector in this space yet; each batch is committed.

    A document gets one vector from ``fields`` (for the map and document similarity) and, unless
    ``passages`` is None, one vector per passage of its full text (for passage-level search),
    written in the same transaction. ``model="auto"`` picks :func:`default_model`.
    ``loader``: the options ``model`` was (or is to be) loaded with (see ``load_embedder``).
    ``auto_reason``: why ``auto`` chose this model, when the caller resolved it (kept with the space).
    ``ids``: embed only these documents (an upload's own), not every document without a vector.
    ``expect_space``: the key the options must give (:class:`SpaceMismatchError` otherwise,
    before anything is stored). ``engine``: where the batches are computed (default
    :func:`local_engine`; the Ray engine is :class:`patscape.engines.ray_embed.RayEngine`);
    whatever the engine, every write happens here, one transaction per batch.

    A document replaced while its batch was embedded keeps no vector of its old text; it (and
    any document added meanwhile) is embedded in a further pass. The space becomes complete
    when, at the end, every document of the store has a vector in it.
    """
    if isinstance(model, str):
        model, reason = resolve_model(store, model)
        auto_reason = auto_reason or reason
    embedder = model if isinstance(model, Embedder) else load_embedder(model, **dict(loader or {}))
    space = space_for(embedder, task, dims, fields, overlap, max_chunks, loader, passages)
    if expect_space is not None and space.key != expect_space:
        raise SpaceMismatchError(
            f"{embedder.name} set up this way gives the embedding space {space.key}, not the store's {expect_space}: "
            "serve or load the model with the options that space was built with (see `patscape info`)"
        )
    if auto_reason:
        space = replace(space, params={**space.params, "default": f"auto: {auto_reason}"})
    store.ensure_space(space)
    todo = store.ids_without_vectors(space.key, among=ids)
    total = store.count_documents() if ids is None else len(set(ids))
    already = total - len(todo)
    warnings = _language_warnings(store, embedder)
    if on_start:
        on_start(len(todo))
    options = EmbedOptions(task, dims, tuple(fields), overlap, max_chunks, passages)
    embedded = stale = 0
    for _ in range(MAX_PASSES):
        batches = [todo[start : start + batch_docs] for start in range(0, len(todo), batch_docs)]
        for rows, passage_rows in (engine or local_engine)(store, embedder, options, batches):
            stored = store.put_vectors(space.key, rows, passage_rows)  # the only write: in this process
            embedded += stored
            stale += len(rows) - stored
            if progress:
                progress(len(rows))
        todo = store.ids_without_vectors(space.key, among=ids)
        if not todo:
            break
    store.mark_complete(space.key)
    sync_vector_files(store, space.key)
    progress_now = store.space_progress(store.get_space(space.key))
    return EmbedReport(store.get_space(space.key), embedded, already, warnings, progress_now.missing, stale)


def sync_vector_files(store: Store, space_key: str, on_notice: Callable[[str], None] | None = None) -> None:
    """Bring the space's memory-mapped vector files and ANN index up to date with the store
    (:mod:`patscape.vectors.disk`). Skipped when another process is doing it: searches read
    what the files miss from the store until they catch up."""
    from .vectors.disk import SpaceVectors

    SpaceVectors(store, store.get_space(space_key)).sync(wait=False, on_notice=on_notice)


def space_options(space: Space) -> dict[str, Any]:
    """The :func:`embed` options a space was built with (its model loads with ``loader``)."""
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


def embed_into(
    store: Store,
    space: Space,
    embedder: Embedder,
    *,
    ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
) -> EmbedReport:
    """Embed into an existing space with exactly the options it was built with: the documents
    ``ids`` (or every document without a vector). ``embedder`` must be ``space.model`` loaded
    with the space's loader options; any difference raises :class:`SpaceMismatchError`."""
    dims = space.dims if space.dims != embedder.native_dims else None
    return embed(store, embedder, dims=dims, ids=ids, expect_space=space.key, progress=progress, on_start=on_start,
                 **space_options(space))


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


#: Plausible publication years (older or later dates are treated as unknown by the map).
FIRST_YEAR = 1790


def map_ready(docs: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """Documents as the landscape reads them, with fields it cannot use set aside (a store
    ingested before validation existed may hold them): ``extra.landscape`` that is not a
    mapping, ``extra.cites`` that is not a list of ids, an implausible year. Checked before
    the expensive work so that a map never fails after clustering. Returns notices."""
    import datetime

    last_year = datetime.date.today().year + 2
    fixed: dict[str, int] = {}
    out: list[Document] = []
    for doc in docs:
        extra = doc.extra if isinstance(doc.extra, dict) else {}
        changes: dict[str, Any] = {}
        if "landscape" in extra and not isinstance(extra["landscape"], dict):
            extra = {k: v for k, v in extra.items() if k != "landscape"}
            fixed["extra.landscape is not a mapping"] = fixed.get("extra.landscape is not a mapping", 0) + 1
        cites = extra.get("cites")
        if cites is not None and not (isinstance(cites, list) and all(isinstance(c, str) for c in cites)):
            if isinstance(cites, str):
                extra = {**extra, "cites": [c for c in re.split(r"[;,|\s]+", cites) if c]}
            else:
                extra = {k: v for k, v in extra.items() if k != "cites"}
            fixed["extra.cites is not a list of ids"] = fixed.get("extra.cites is not a list of ids", 0) + 1
        if extra is not doc.extra:
            changes["extra"] = extra
        if doc.year is not None and not FIRST_YEAR <= doc.year <= last_year:
            changes["date"] = None
            fixed["implausible year"] = fixed.get("implausible year", 0) + 1
        out.append(replace(doc, **changes) if changes else doc)
    return out, [f"{n} documents: {what}; set aside for this map" for what, n in fixed.items()]


def build_map(
    store: Store,
    space_key: str | None = None,
    params: MapParams | None = None,
    seed: int = 42,
    on_stage: Callable[[str], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> int:
    """Build a landscape from the vectors of one space and store it as a new run.

    Without ``space_key`` the newest complete space is used (:func:`pick_space`). The map is
    computed outside any transaction and stored in one: a killed map leaves no trace.
    """
    space = pick_space(store, space_key)
    coverage, notice = space_notice(store, space)
    if notice and on_notice:
        on_notice(notice)
    params = params or MapParams()
    n = coverage.embedded
    sampled = n > max(params.sample_above, params.sample_size)
    with SecondProcess(background_for(min(n, params.sample_size) if sampled else n)) as helper:
        helper.warm_up()  # the second process imports UMAP while this one reads the corpus
        if sampled:
            result = _sampled_map(store, space.key, n, params, seed, on_stage, on_notice, helper)
        else:
            ids, vectors = store.load_vectors(space.key)
            docs, notices = map_ready(list(store.iter_documents(ids)))
            for line in notices:
                if on_notice:
                    on_notice(line)
            result = build_landscape(ids, vectors, docs, params, seed, on_stage, helper)
    crash_point("map:computed")
    run_params = {
        "map": asdict(result.params),
        "sampling": result.sampling or {"sampled": False, "documents": len(result.ids)},
        "space": space.key,
        "model": space.model,
        "model_fingerprint": space.fingerprint,
        "embedding": space.params,
        "coverage": {"documents": coverage.documents, "embedded": coverage.embedded, "space_complete": space.complete},
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


def _sampled_map(
    store: Store,
    space_key: str,
    n: int,
    params: MapParams,
    seed: int,
    on_stage: Callable[[str], None] | None,
    on_notice: Callable[[str], None] | None,
    helper: SecondProcess | None = None,
) -> Landscape:
    """A map of ``n`` documents fitted on a sample (:mod:`patscape.landscape.sample`). Vectors
    are read twice, block by block (the sample, then the rest to place); the text of documents
    outside the sample is not kept (labels read the sample)."""
    import numpy as np

    from .landscape.sample import BLOCK, build_sampled_landscape, sample_rows

    changed = StoreError(f"the vectors of {space_key} changed while the map was built; run `patscape map` again")
    rows = sample_rows(n, params.sample_size, seed)
    ids: list[str] = []
    parts = []
    for block_ids, block in store.iter_vector_blocks(space_key, BLOCK):
        start = len(ids)
        ids.extend(block_ids)
        lo, hi = np.searchsorted(rows, [start, len(ids)])
        parts.append(block[rows[lo:hi] - start])
    if len(ids) != n:
        raise changed
    sample = np.concatenate(parts)
    # the texts of the sample only (labels read them); the rest without theirs, not even read
    sample_docs = {d.id: d for d in store.iter_documents([ids[i] for i in rows.tolist()])}
    docs, notices = map_ready([sample_docs.get(d.id, d) for d in store.iter_documents(ids, texts=False)])
    if len(docs) != n:
        raise changed
    for line in notices:
        if on_notice:
            on_notice(line)

    def blocks() -> Iterator[tuple[int, Any]]:
        start = 0
        for block_ids, block in store.iter_vector_blocks(space_key, BLOCK):
            if block_ids != ids[start : start + len(block_ids)]:
                raise changed
            yield start, block
            start += len(block_ids)

    return build_sampled_landscape(ids, rows, sample, blocks, docs, params.resolved(n), seed, on_stage, helper)
