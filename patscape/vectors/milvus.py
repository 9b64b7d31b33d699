"""Milvus as the vector store of a space: export its document vectors, search them with filters.

The same client code talks to Milvus Lite (a local file: tests, small corpora, one process) and
to a Milvus server (hundreds of millions of vectors). Where a collection lives is one URI:

``milvus:PATH.db?collection=NAME``
    Milvus Lite, a file relative to the working directory (``milvus:///ABS/PATH.db`` absolute).
``milvus://HOST:PORT?collection=NAME``
    a Milvus server (port 19530 when omitted); ``milvus+https://`` for one behind TLS. A token
    is read from ``PATSCAPE_MILVUS_TOKEN``, never from the URI (URIs end up in shell history).

Without ``collection`` the URI names the only patscape collection there. ``export`` also takes a
bare ``PATH.db`` or ``http(s)://HOST:PORT``.

A collection holds one space: primary key ``id`` (the document id), ``vector`` (unit float32,
inner product, which is the cosine), and what search filters on: ``lang``, ``year`` (0 when the
document has no date; every year condition also asks ``year > 0``, so an undated document fails
it) and ``cpc_prefixes``, every prefix of the document's CPC and IPC codes that is itself a valid
``--cpc`` value (``H``, ``H01``, ``H01M``, ``H01M1``, ``H01M10``, ``H01M10/``, ``H01M10/0``, ...),
so a prefix condition is one ``array_contains`` and means exactly what it means on the store
(``cpc_text`` holds the same prefixes as ``|H|H01|...|`` for Milvus Lite: see :func:`milvus_filter`).
The space key, model, fingerprint and dims are collection properties: search checks that the
query is embedded by the space the vectors came from.

Index: FLAT on Milvus Lite (an exact scan; Lite 3 is a Python implementation whose HNSW measured
slower than FLAT at 100k, see docs/scale.md), HNSW on a server (M 16,
efConstruction 200, ef at search max(64, limit)), with INVERTED indexes on ``lang`` and ``year``
(and on ``cpc_prefixes`` on a server; Lite cannot index arrays).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError, MissingDependencyError, NotFoundError, SpaceMismatchError, StoreError
from ..filters import SearchFilter
from ..store import Space, Store
from .milvus_fields import CODE_BYTES, code_prefixes, date_year, milvus_filter

FORMAT = "1"
ID_BYTES = 4096
LANG_BYTES = 32
#: Milvus caps an array field at 4096 elements and a string at 65,535 bytes; a document with
#: more code prefixes keeps the shortest ones (and is counted in the export report).
MAX_PREFIXES = 3600
CPC_TEXT_BYTES = 65535
#: Milvus answers at most this many hits per search.
MAX_LIMIT = 16384
TOKEN_ENV = "PATSCAPE_MILVUS_TOKEN"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_PROPERTY = "patscape."


@dataclass(frozen=True, slots=True)
class Target:
    """Where a collection is: the client URI, whether it is a Lite file, and the name if given."""

    client_uri: str
    lite: bool
    collection: str | None

    def describe(self) -> str:
        return self.client_uri if self.lite else f"Milvus at {self.client_uri}"


@dataclass(frozen=True, slots=True)
class MilvusExport:
    """What ``export_to_milvus`` wrote: ``vectors`` rows (``rows`` counted by Milvus afterwards)."""

    target: str
    collection: str
    space: str
    model: str
    dims: int
    vectors: int
    rows: int
    index: str
    replaced: bool
    prefixes_cut: int
    seconds: float


def parse_target(spec: str) -> Target:
    """A ``milvus:`` URI, a bare ``PATH.db`` (Lite) or ``http(s)://HOST:PORT`` (a server)."""
    text = spec.strip()
    if not text:
        raise InputError("the Milvus URI is empty")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"collection"})
    if unknown:
        raise InputError(f"{spec!r}: unknown URI parameter {unknown[0]!r} (only collection=NAME)")
    names = query.get("collection", [])
    collection = names[-1] if names and names[-1] else None
    if scheme in ("milvus", "milvus+http", "milvus+https") and parts.netloc:
        if parts.path not in ("", "/"):
            raise InputError(f"{spec!r}: a server URI is milvus://HOST:PORT?collection=NAME (no path)")
        return Target(f"{'https' if scheme == 'milvus+https' else 'http'}://{_host_port(parts.netloc, spec)}", False, collection)
    if scheme in ("http", "https") and parts.netloc:
        return Target(f"{scheme}://{_host_port(parts.netloc, spec)}", False, collection)
    if scheme == "milvus":
        path = parts.path
    elif scheme == "" or len(scheme) == 1:  # a bare path (or a Windows drive letter)
        path = text.split("?", 1)[0]
    else:
        raise InputError(f"{spec!r} is not a Milvus URI: give milvus:PATH.db, milvus:///ABS/PATH.db or milvus://HOST:PORT")
    if not path.endswith(".db"):
        raise InputError(f"{spec!r}: a Milvus Lite file name ends in .db (or give milvus://HOST:PORT for a server)")
    return Target(str(Path(path).expanduser().absolute()), True, collection)


def _host_port(netloc: str, spec: str) -> str:
    if "@" in netloc:
        raise InputError(f"{spec!r}: no credentials in the URI; set {TOKEN_ENV} instead")
    host, colon, port = netloc.rpartition(":")
    if not colon or not port.isdigit():
        host, port = netloc, "19530"
    if not host:
        raise InputError(f"{spec!r}: no host")
    return f"{host}:{port}"


def collection_name(space_key: str) -> str:
    """The default collection of a space: ``patscape_`` and the key with every other character as ``_``."""
    return ("patscape_" + re.sub(r"[^A-Za-z0-9_]", "_", space_key))[:255]


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"collection name {name!r} is not valid in Milvus: letters, digits and _, starting with a letter or _, "
            "at most 255 characters"
        )
    return name


def _client(target: Target, *, create: bool = False) -> Any:
    """A MilvusClient for ``target``; a missing Lite file is an error unless ``create``."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise MissingDependencyError("pymilvus", "milvus") from exc
    # pymilvus and Milvus Lite log a failure with a traceback before raising; patscape reports it once
    for name in ("pymilvus.decorators", "milvus_lite.server_manager"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if target.lite:
        path = Path(target.client_uri)
        if not create and not path.exists():
            raise StoreError(f"no Milvus Lite file at {path}; write one with `patscape export STORE --format milvus --uri {path}`")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        token = ""
    else:
        token = os.environ.get(TOKEN_ENV, "")
    try:
        return MilvusClient(uri=target.client_uri, token=token, timeout=30)
    except Exception as exc:  # connection refused, a file that is not a Milvus Lite database, ...
        if target.lite and _locked(Path(target.client_uri)):
            raise StoreError(
                f"{target.client_uri} is open in another process (Milvus Lite allows one process per file; "
                "stop that one, or use a Milvus server)"
            ) from exc
        raise StoreError(f"cannot open {target.describe()}: {_reason(exc)}") from exc


def _locked(path: Path) -> bool:
    """Whether another process holds the Milvus Lite directory's lock (Lite takes an exclusive
    flock on its ``LOCK`` file and only logs why it failed)."""
    try:
        import fcntl

        with (path / "LOCK").open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except (OSError, ImportError):
        return False
    return False


def _reason(exc: BaseException) -> str:
    """The one line of a Milvus error worth showing."""
    message = getattr(exc, "message", None) or str(exc)
    return str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__


def _call(what: str, target: Target, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise StoreError(f"{what} in {target.describe()} failed: {_reason(exc)}") from exc


# -- export ------------------------------------------------------------------------------------------
def export_to_milvus(
    store: Store,
    space: Space | str,
    uri: str,
    collection: str | None = None,
    *,
    replace: bool = False,
    batch: int = 2000,
    index: str = "auto",
    progress: Callable[[int], None] | None = None,
) -> MilvusExport:
    """Write the document vectors of ``space`` (with lang, year and code prefixes) to a collection.

    An existing collection is replaced only with ``replace`` (dropped first: searches of it fail
    until the export ends; for no gap, export under a new ``collection`` and switch the URI).
    The count is recorded last, as the mark of a finished export: a failed export drops what it
    wrote, and a collection without the mark (the process was killed) is refused by
    :class:`MilvusVectors`. No staging collection and rename: Milvus Lite 3.2's rename fails
    when an index is being built. Vectors are read and sent ``batch`` at a time, never all
    at once. ``index``: ``auto`` (FLAT on Lite, HNSW on a server), ``FLAT``, ``HNSW`` or ``IVF_FLAT``.
    """
    started = time.perf_counter()
    if isinstance(space, str):
        space = store.get_space(space)
    if batch < 1:
        raise InputError("the batch size must be at least 1")
    target = parse_target(uri)
    name = _check_name(collection or target.collection or collection_name(space.key))
    kind = (index or "auto").upper()
    if kind == "AUTO":
        kind = "FLAT" if target.lite else "HNSW"
    if kind not in ("FLAT", "HNSW", "IVF_FLAT"):
        raise InputError(f"unknown Milvus index {index!r}; choose from auto, FLAT, HNSW, IVF_FLAT")
    client = _client(target, create=True)
    try:
        existed = bool(_call("looking up the collection", target, client.has_collection, name))
        if existed and not replace:
            raise InputError(f"collection {name!r} already exists in {target.describe()}; pass --replace to overwrite it")
        if existed:
            _call("dropping the old collection", target, client.drop_collection, name)
        centring = store.space_centring(space.key)
        _create(client, target, name, space, kind, "" if centring is None else centring.digest)
        written = cut = 0
        with store.snapshot(), _dropped_on_failure(client, name):
            for rows in store.iter_vector_rows(space.key, batch=batch):
                entities, batch_cut = _entities(store, rows)
                cut += batch_cut
                _call("inserting vectors", target, client.insert, name, entities)
                written += len(entities)
                if progress is not None:
                    progress(len(entities))
            _call("flushing the collection", target, client.flush, name)
            # the mark of a finished export: a collection without it is refused by MilvusVectors
            _call("recording the count", target, client.alter_collection_properties, name,
                  properties={_PROPERTY + "vectors": str(written), _PROPERTY + "exported_at": str(int(time.time()))})
        _call("loading the collection", target, client.load_collection, name)
        rows_counted = int(_call("counting rows", target, client.get_collection_stats, name).get("row_count", -1))
    finally:
        client.close()
    return MilvusExport(
        target=target.client_uri, collection=name, space=space.key, model=space.model, dims=space.dims,
        vectors=written, rows=rows_counted, index=kind, replaced=existed, prefixes_cut=cut,
        seconds=time.perf_counter() - started,
    )


def _entities(store: Store, rows: list[tuple[str, bytes]]) -> tuple[list[dict[str, Any]], int]:
    """The collection rows of ``rows`` (doc_id, vector blob): the vector with what search filters
    on (lang, year, code prefixes), and how many documents had their prefixes cut."""
    fields = store.filter_fields([doc_id for doc_id, _ in rows])
    entities = []
    cut = 0
    for doc_id, blob in rows:
        if len(doc_id.encode("utf-8")) > ID_BYTES:
            raise InputError(f"document id {doc_id[:40]!r}... is longer than Milvus keys ({ID_BYTES} bytes)")
        lang, date, cpc, ipc = fields.get(doc_id, (None, None, [], []))
        prefixes = code_prefixes([*cpc, *ipc])
        if len(prefixes) > MAX_PREFIXES:
            prefixes, cut = prefixes[:MAX_PREFIXES], cut + 1
        entities.append({
            "id": doc_id,
            "vector": np.frombuffer(blob, dtype=np.float32),
            "lang": lang if lang and len(lang.encode("utf-8")) <= LANG_BYTES else "",
            "year": date_year(date),
            "cpc_prefixes": prefixes,
            "cpc_text": "|" + "|".join(prefixes) + "|",
        })
    return entities, cut


@contextmanager
def _dropped_on_failure(client: Any, name: str) -> Iterator[None]:
    """Drop the half-written collection if the export fails (best effort: one left behind
    lacks the finished mark and is refused, and ``--replace`` drops it)."""
    try:
        yield
    except BaseException:
        with suppress(Exception):
            client.drop_collection(name)
        raise


def _create(client: Any, target: Target, name: str, space: Space, kind: str, centring: str = "") -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False, description=f"patscape space {space.key}")
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_BYTES)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=space.dims)
    schema.add_field("lang", DataType.VARCHAR, max_length=LANG_BYTES)
    schema.add_field("year", DataType.INT32)
    schema.add_field("cpc_prefixes", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_PREFIXES,
                     max_length=CODE_BYTES)
    schema.add_field("cpc_text", DataType.VARCHAR, max_length=CPC_TEXT_BYTES)
    params = client.prepare_index_params()
    build = {"HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}.get(kind, {})
    params.add_index(field_name="vector", index_type=kind, metric_type="IP", params=build)
    params.add_index(field_name="lang", index_type="INVERTED")
    params.add_index(field_name="year", index_type="INVERTED")
    if not target.lite:
        params.add_index(field_name="cpc_prefixes", index_type="INVERTED")
    properties = {
        _PROPERTY + "format": FORMAT, _PROPERTY + "space": space.key, _PROPERTY + "model": space.model,
        _PROPERTY + "fingerprint": space.fingerprint, _PROPERTY + "dims": str(space.dims), _PROPERTY + "index": kind,
        _PROPERTY + "cpc_match": "like" if target.lite else "array",
        # the vectors are written as search uses them: centred by language when the space has means
        _PROPERTY + "centring": centring,
    }
    _call("creating the collection", target, client.create_collection, name, schema=schema, properties=properties)
    # not waited for: Milvus Lite cannot report index progress (the wait would log errors), and
    # the server builds the index as segments are sealed; load_collection waits at the end
    _call("creating the indexes", target, client.create_index, name, params, sync=False)


class MilvusVectors:
    """One exported space in Milvus, searched as a :class:`~patscape.vectors.VectorSource`."""

    def __init__(self, uri: str, collection: str | None = None) -> None:
        self.target = parse_target(uri)
        self.client = _client(self.target)
        try:
            self.collection = self._pick(collection or self.target.collection)
            info = _call("describing the collection", self.target, self.client.describe_collection, self.collection)
            props = {str(k): str(v) for k, v in (info.get("properties") or {}).items()}
            if _PROPERTY + "space" not in props:
                raise StoreError(f"collection {self.collection!r} in {self.target.describe()} was not written by patscape export")
            if _PROPERTY + "vectors" not in props:
                raise StoreError(
                    f"collection {self.collection!r} in {self.target.describe()} is incomplete (its export was "
                    "interrupted); export again with --replace"
                )
            self.space_key = props[_PROPERTY + "space"]
            self.model = props.get(_PROPERTY + "model", "")
            self.fingerprint = props.get(_PROPERTY + "fingerprint", "")
            self.index = props.get(_PROPERTY + "index", "FLAT")
            self.cpc_match = props.get(_PROPERTY + "cpc_match", "array")
            self.centring = props.get(_PROPERTY + "centring", "")
            vector = [f for f in info.get("fields", []) if f.get("name") == "vector"]
            if not vector:
                raise StoreError(f"collection {self.collection!r} has no vector field")
            self.dims = int(vector[0].get("params", {}).get("dim"))
            _call("loading the collection", self.target, self.client.load_collection, self.collection)
        except BaseException:
            self.client.close()
            raise

    def _pick(self, name: str | None) -> str:
        names = sorted(_call("listing collections", self.target, self.client.list_collections))
        if name is not None:
            if name not in names:
                raise NotFoundError(
                    f"no collection {name!r} in {self.target.describe()} (collections: {', '.join(names) or 'none'})"
                )
            return name
        ours = [n for n in names if n.startswith("patscape_")]
        if len(ours) != 1:
            raise InputError(
                f"{self.target.describe()} holds {len(ours)} patscape collections ({', '.join(ours) or 'none'}); "
                "name one with ?collection=NAME"
            )
        return ours[0]

    def describe(self) -> str:
        return f"{self.target.describe()}, collection {self.collection}"

    def check_space(self, space: Space, centring: str | None = None) -> None:
        """Raise :class:`SpaceMismatchError` unless the collection holds vectors of ``space``
        (and, given ``centring``, the digest of the space's frozen means or '', centred with them)."""
        if space.dims != self.dims:
            raise SpaceMismatchError(
                f"collection {self.collection!r} holds {self.dims}-dim vectors; the space {space.key} has {space.dims}"
            )
        if space.key != self.space_key or (self.fingerprint and space.fingerprint != self.fingerprint):
            raise SpaceMismatchError(
                f"collection {self.collection!r} holds the space {self.space_key} ({self.model}), not {space.key} "
                f"({space.model}); search with --space {self.space_key} or export this space"
            )
        if centring is not None and centring != self.centring:
            raise SpaceMismatchError(
                f"collection {self.collection!r} holds the vectors of {space.key} "
                f"{'centred with other language means' if self.centring else 'uncentred'}, and the space "
                f"{'now centres them by language' if centring else 'no longer centres them'}: export it again with --replace"
            )

    def nearest(
        self, target: NDArray[np.float32], k: int, where: SearchFilter | None = None, exclude: str | None = None
    ) -> list[tuple[str, float]]:
        """Up to ``k`` (doc_id, cosine) pairs, best first (ties by id), meeting ``where``, never ``exclude``."""
        vector = np.asarray(target, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dims:
            raise InputError(f"the query vector has {vector.shape[0]} dims; collection {self.collection!r} holds {self.dims}")
        if k < 1:
            raise InputError("k must be at least 1")
        limit = k + (1 if exclude is not None else 0)  # drop ``exclude`` here: no id in the expression
        if limit > MAX_LIMIT:
            raise InputError(f"Milvus returns at most {MAX_LIMIT} hits; ask for fewer")
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.index == "HNSW":
            params["params"] = {"ef": max(64, limit)}
        elif self.index == "IVF_FLAT":
            params["params"] = {"nprobe": 64}
        found = _call(
            "searching", self.target, self.client.search, self.collection, data=[vector.tolist()],
            filter=milvus_filter(where, self.cpc_match), limit=limit, output_fields=["id"], search_params=params,
        )
        hits = [(str(hit["id"]), float(hit["distance"])) for hit in found[0] if str(hit["id"]) != exclude]
        return sorted(hits, key=lambda kv: (-kv[1], kv[0]))[:k]

    def add(self, store: Store, ids: list[str], batch: int = 2000) -> int:
        """Write the vectors ``store`` holds for ``ids`` in the collection's space (an upload's
        documents), as export writes them; a document already there is replaced (upsert).
        Returns the rows written."""
        written = 0
        for rows in store.iter_vector_rows(self.space_key, ids, batch=batch):
            entities, _ = _entities(store, rows)
            if entities:
                _call("writing vectors", self.target, self.client.upsert, self.collection, entities)
                written += len(entities)
        if written:
            _call("flushing the collection", self.target, self.client.flush, self.collection)
        return written

    def count(self) -> int:
        return int(_call("counting rows", self.target, self.client.get_collection_stats, self.collection).get("row_count", 0))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> MilvusVectors:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_vector_store(spec: str) -> MilvusVectors:
    """The vector store a ``--vector-store`` URI names (today: a Milvus collection)."""
    scheme = urlsplit(spec.strip()).scheme.lower()
    if scheme not in ("milvus", "milvus+http", "milvus+https"):
        raise InputError(
            f"--vector-store {spec!r}: give milvus:PATH.db?collection=NAME (Milvus Lite) "
            "or milvus://HOST:PORT?collection=NAME (a Milvus server)"
        )
    return MilvusVectors(spec)
