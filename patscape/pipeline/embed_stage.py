"""The embed stage: a vector per document (and per passage) of every document without one in
a space, computed by an engine, written here one batch per transaction, with resume.

A committed batch is at most ``batch_docs`` documents and at most ``batch_windows`` model
windows (document chunks + passages: the forward passes of the model), so that what a kill
loses is bounded whatever the length of the texts; a document longer than the window budget is
a batch of its own (a document is never split across commits)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..embed import Embedder, Task, load_embedder
from ..errors import InputError, SpaceMismatchError
from ..records import Document
from ..spaces import (
    DEFAULT_FIELDS,
    PassageParams,
    document_text,
    field_text,
    freeze_centring,
    language_warning,
    resolve_model,
    space_for,
    space_options,
)
from ..store import PassageRow, Space, Store, VectorRow
from ..vectors.sync import sync_vector_files
from .progress import Progress


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


#: Passes over documents replaced or added while an embed runs, before the embed stops.
MAX_PASSES = 3
#: Documents per committed batch (``--batch``).
BATCH_DOCS = 256
#: Model windows (document chunks + passages: forward passes of the model) per committed batch
#: (``--batch-windows``): what a kill can lose, whatever the length of the texts.
BATCH_WINDOWS = 512


@dataclass(frozen=True, slots=True)
class EmbedOptions:
    """The options of an embed, one object from the command line (or the API's upload jobs)
    to every engine: what makes the space (``task``, ``dims``, ``fields``, ``overlap``,
    ``max_chunks``, ``passages``) and how the work is cut into committed batches
    (``batch_docs``, ``batch_windows``; see :func:`plan_batches`). Plain data: the Ray engine
    ships it to its workers.

    ``dims``: Matryoshka truncation (None: the model's own); ``fields``: the fields of the
    document vector; ``overlap``: tokens shared by consecutive chunks of a long text;
    ``max_chunks``: chunks embedded per document at most (None: all); ``passages``: how the full
    text is cut into passages (None: document vectors only)."""

    task: Task = "document"
    dims: int | None = None
    fields: tuple[str, ...] = DEFAULT_FIELDS
    overlap: int = 32
    max_chunks: int | None = None
    passages: PassageParams | None = PassageParams()
    batch_docs: int = BATCH_DOCS
    batch_windows: int = BATCH_WINDOWS
    #: centre the vectors by language at use (None: as spaces.CENTRED_MODELS says for the model)
    centre: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))  # a list given is kept as a tuple

    @classmethod
    def of_space(cls, space: Space, dims: int | None = None) -> EmbedOptions:
        """The options ``space`` was built with (``dims``: as the caller's embedder needs it, None
        when the space has the model's own dimensions); batches of the default size."""
        options = space_options(space)
        return cls(task=options["task"], dims=dims, fields=options["fields"], overlap=options["overlap"],
                   max_chunks=options["max_chunks"], passages=options["passages"])


#: A computed batch: its document vectors, and the passages of those documents (None: no passages).
Computed = tuple[list[VectorRow], list[PassageRow] | None]
#: Computes batches of document ids (read from ``store`` by the engine, in this process) and
#: yields one or more :data:`Computed` per batch, in any order; it never writes to the store.
#: The batches come from :func:`plan_batches`, lazily: iterate them once.
EmbedEngine = Callable[[Store, Embedder, EmbedOptions, Iterable[Sequence[str]]], Iterator[Computed]]


def document_windows(embedder: Embedder, doc: Document, options: EmbedOptions) -> int:
    """The model windows :func:`embed_documents` computes for ``doc``: the chunks of its
    document text and the passages of its passage fields (split exactly as embedding splits)."""
    text = document_text(doc, options.fields)
    windows = len(embedder.split(text, options.task, options.overlap, options.max_chunks).chunks) if text.strip() else 1
    params = options.passages
    if params:
        for name in params.fields:
            field = field_text(doc, name)
            if field.strip():
                windows += len(embedder.split(field, "document", params.overlap, params.max_per_field, params.window).chunks)
    return windows


def plan_batches(store: Store, embedder: Embedder, options: EmbedOptions, ids: Sequence[str]) -> Iterator[list[str]]:
    """``ids`` in order, cut into the committed batches of an embed: a batch closes at
    ``options.batch_docs`` documents, or before the document that would take it past
    ``options.batch_windows`` model windows; a document of more windows than that is a batch of
    its own. Lazy: the documents are read (and tokenised) a page at a time, as the engine asks
    for batches."""
    batch_docs, batch_windows = options.batch_docs, options.batch_windows
    current: list[str] = []
    windows = 0
    for start in range(0, len(ids), batch_docs):
        for doc in store.iter_documents(ids[start : start + batch_docs]):
            n = document_windows(embedder, doc, options)
            if current and (len(current) >= batch_docs or windows + n > batch_windows):
                yield current
                current, windows = [], 0
            current.append(doc.id)
            windows += n
    if current:
        yield current


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
    store: Store, embedder: Embedder, options: EmbedOptions, batches: Iterable[Sequence[str]]
) -> Iterator[Computed]:
    """The default engine: every batch in this process, in order."""
    for batch in batches:
        yield embed_documents(embedder, list(store.iter_documents(batch)), options)


def embed(
    store: Store,
    model: str | Embedder = "auto",
    options: EmbedOptions | None = None,
    *,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    loader: Mapping[str, Any] | None = None,
    auto_reason: str | None = None,
    ids: Sequence[str] | None = None,
    expect_space: str | None = None,
    engine: EmbedEngine | None = None,
    seconds_per_doc: Mapping[str, float] | None = None,
) -> EmbedReport:
    """Embed every document that has no vector in this space yet; each batch is committed.

    ``options`` (default ``EmbedOptions()``): the space's options and the batch sizes. A
    batch is at most ``options.batch_docs`` documents and ``options.batch_windows`` model windows
    (chunks + passages), or one document longer than that (see :func:`plan_batches`).

    A document gets one vector from ``options.fields`` (for the map and document similarity) and, unless
    ``options.passages`` is None, one vector per passage of its full text (for passage-level search),
    written in the same transaction. ``model="auto"`` picks :func:`default_model`.
    ``loader``: the options ``model`` was (or is to be) loaded with (see ``load_embedder``).
    ``auto_reason``: why ``auto`` chose this model, when the caller resolved it (kept with the space).
    ``ids``: embed only these documents (an upload's own), not every document without a vector.
    ``expect_space``: the key the options must give (:class:`SpaceMismatchError` otherwise,
    before anything is stored). ``engine``: where the batches are computed (default
    :func:`local_engine`; the Ray engine is :class:`patscape.engines.ray_embed.RayEngine`);
    whatever the engine, every write happens here, one transaction per batch.
    ``seconds_per_doc``: model -> seconds per document, instead of the measured
    :data:`~patscape.spaces.SECONDS_PER_DOC`, for ``auto``'s choice and the language warning.
    A model that does not read a language present in the corpus gets one warning in the report.

    A document replaced while its batch was embedded keeps no vector of its old text; it (and
    any document added meanwhile) is embedded in a further pass. The space becomes complete
    when, at the end, every document of the store has a vector in it.
    """
    options = options or EmbedOptions()
    if options.batch_docs < 1 or options.batch_windows < 1:
        raise InputError("a batch needs at least 1 document and 1 window (--batch, --batch-windows)")
    if isinstance(model, str):
        model, reason = resolve_model(store, model, seconds_per_doc=seconds_per_doc)
        auto_reason = auto_reason or reason
    embedder = model if isinstance(model, Embedder) else load_embedder(model, **dict(loader or {}))
    space = space_for(embedder, options.task, options.dims, options.fields, options.overlap, options.max_chunks, loader,
                      options.passages, options.centre)
    if expect_space is not None and space.key != expect_space:
        raise SpaceMismatchError(
            f"{embedder.name} set up this way gives the embedding space {space.key}, not the store's {expect_space}: "
            "serve or load the model with the options that space was built with (see `patscape info`)"
        )
    if auto_reason:
        space = replace(space, params={**space.params, "default": f"auto: {auto_reason}"})
    store.ensure_space(space)
    if options.centre is not None:
        store.set_space_centring(space.key, options.centre)  # asked for an existing space: as asked
    todo = store.ids_without_vectors(space.key, among=ids)
    total = store.count_documents() if ids is None else len(set(ids))
    already = total - len(todo)
    warnings = _language_warnings(store, embedder, seconds_per_doc)
    if on_start:
        on_start(len(todo))
    embedded = stale = 0
    for _ in range(MAX_PASSES):
        batches = plan_batches(store, embedder, options, todo)
        for rows, passage_rows in (engine or local_engine)(store, embedder, options, batches):
            stored = store.put_vectors(space.key, rows, passage_rows)  # the only write: in this process
            embedded += stored
            stale += len(rows) - stored
            if progress:
                progress(len(rows))
        todo = store.ids_without_vectors(space.key, among=ids)
        if not todo:
            break
    if store.mark_complete(space.key):
        freeze_centring(store, store.get_space(space.key))  # before the vector files are written
    sync_vector_files(store, space.key)
    progress_now = store.space_progress(store.get_space(space.key))
    return EmbedReport(store.get_space(space.key), embedded, already, warnings, progress_now.missing, stale)


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
    return embed(store, embedder, EmbedOptions.of_space(space, dims), ids=ids, expect_space=space.key, progress=progress,
                 on_start=on_start, loader=space_options(space)["loader"])


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


def _language_warnings(
    store: Store, embedder: Embedder, seconds_per_doc: Mapping[str, float] | None = None
) -> list[str]:
    """The one warning for a model that does not read a language present in the corpus (see
    :func:`patscape.spaces.language_warning`): whether ``auto`` kept the fast default for a large
    corpus, or the model was named, English-only or not."""
    warning = language_warning(store, embedder.name, embedder.profile.languages, seconds_per_doc)
    return [warning] if warning else []
