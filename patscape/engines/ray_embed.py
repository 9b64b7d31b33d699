"""Embedding as a Ray Data job: an actor pool of embedders on a local or remote Ray cluster.

The patscape process is the Ray driver. It reads the documents to embed from the store, a window
of batches at a time (never the whole corpus), hands them to Ray Data as one block per batch,
and writes every computed batch itself, one transaction each: workers only compute and never
open the store (it is a local SQLite file). Each actor loads the model once, with the options
of the space, and runs :func:`patscape.pipeline.embed_documents` on whole batches, so the stored
bytes are those of the local engine. A worker that dies is restarted and its batch retried by
Ray, until one batch has killed its actor :data:`MAX_ACTOR_DEATHS` times (running out of memory
on it, say): then the job stops with an error naming that batch. Whatever stops the job, the
batches already written stay (a killed driver loses only the batches in flight), and the same
command resumes.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..embed import Embedder, load_embedder
from ..errors import InputError, MissingDependencyError, ModelError, PatscapeError
from ..pipeline import Computed, EmbedOptions, embed_documents
from ..records import Document
from ..store import PassageRow, Store, VectorRow, crash_point

#: Text handed to one Ray Data job: every job starts its actors (and loads the model) anew.
WINDOW_BYTES = 512 * 2**20
#: Seconds the actors (model loading included) may take to start.
ACTOR_START_S = 1800
#: Times one batch may kill its actor before the job stops (``--max-actor-deaths``): a batch
#: that runs its actor out of memory would otherwise be retried for ever.
MAX_ACTOR_DEATHS = 3
#: What an actor returns per document, in order (vectors and passages as exact bytes).
COLUMNS: dict[str, Any] = {
    "batch": np.int64, "doc_id": object, "content_hash": object, "vector": object, "n_chunks": np.int64,
    "n_tokens": np.int64, "truncated_tokens": np.int64, "passages": object, "error": object, "restarted": bool,
    "node": object,
}
#: The document fields the embedding reads (spaces.TEXT_FIELDS and PASSAGE_FIELDS come from them).
TEXT_COLUMNS = ("title", "abstract", "claims", "description", "text")


class RayEngine:
    """Computes embed batches on a Ray cluster; use as a context manager (connects, then
    disconnects or stops the local cluster it started).

    ``model`` and ``load_options``: what every actor passes to :func:`load_embedder` (the
    model must be on every node: same environment, same paths). ``address``: an existing
    cluster (``host:port`` of its head); None starts Ray on this machine, on loopback.
    ``actors``: embedders at once (default: one per ``cpus_per_actor`` CPUs, or per
    ``gpus_per_actor`` GPUs, of the cluster). ``window_bytes``: text read from the store and
    handed to Ray at a time (one Ray Data job each, whose actors load the model once).
    ``max_actor_deaths``: times one batch may kill its actor (default :data:`MAX_ACTOR_DEATHS`)
    before the job stops with a :class:`ModelError` naming the batch.
    """

    def __init__(
        self,
        model: str,
        load_options: Mapping[str, Any] | None = None,
        *,
        address: str | None = None,
        actors: int | None = None,
        cpus_per_actor: float = 1.0,
        gpus_per_actor: float = 0.0,
        window_bytes: int = WINDOW_BYTES,
        max_actor_deaths: int | None = None,
    ) -> None:
        if actors is not None and actors < 1:
            raise InputError("--actors must be at least 1")
        if max_actor_deaths is not None and max_actor_deaths < 1:
            raise InputError("--max-actor-deaths must be at least 1")
        if cpus_per_actor <= 0 or gpus_per_actor < 0:
            raise InputError("an actor needs more than 0 CPUs (and 0 or more GPUs)")
        self.model = model
        self.load_options = dict(load_options or {})
        self.address = address
        self.cpus_per_actor = cpus_per_actor
        self.gpus_per_actor = gpus_per_actor
        self.requested_actors = actors
        self.window_bytes = window_bytes
        self.max_actor_deaths = MAX_ACTOR_DEATHS if max_actor_deaths is None else max_actor_deaths
        self.actors = 0
        #: Batches computed by an actor that Ray had restarted after it died.
        self.restarted_batches = 0
        #: Nodes alive in the cluster, and the nodes whose actors computed batches.
        self.nodes = 0
        self.nodes_used: set[str] = set()

    # -- the cluster -----------------------------------------------------------------------------
    def __enter__(self) -> RayEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Connect to the cluster at ``address``, or start one on this machine."""
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
        try:
            import ray
            import ray.data  # noqa: F401  (ray without the data extra)
        except ImportError as exc:
            raise MissingDependencyError("ray[data]", "ray") from exc
        if self.address:
            _check_reachable(self.address)
        try:
            if self.address:
                ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
            else:
                ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                         _node_ip_address="127.0.0.1", logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray cluster"
            raise InputError(f"cannot connect to {where}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its execution summaries
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # patscape shows its own
        context.print_on_execution_start = False
        # Start every actor (and load its model) before the first batch: work is spread over
        # the whole pool, and a pool the cluster cannot hold fails instead of waiting forever.
        context.wait_for_min_actors_s = ACTOR_START_S
        resources = ray.cluster_resources()
        self.nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        if self.requested_actors:
            self.actors = self.requested_actors
        elif self.gpus_per_actor:
            self.actors = max(1, int(resources.get("GPU", 0) // self.gpus_per_actor))
        else:
            self.actors = max(1, int(resources.get("CPU", 1) // self.cpus_per_actor))

    def close(self) -> None:
        try:
            import ray
        except ImportError:
            return
        if ray.is_initialized():
            ray.shutdown()

    # -- the engine ------------------------------------------------------------------------------
    def __call__(
        self, store: Store, embedder: Embedder, options: EmbedOptions, batches: Iterable[Sequence[str]]
    ) -> Iterator[Computed]:
        """Every batch computed by the actor pool; yields them as they come back (any order).
        ``batches`` is read once, a window at a time (the driver plans them as it goes)."""
        import ray

        if not self.actors:
            self.start()
        crash = os.environ.get("PATSCAPE_CRASH_AFTER")
        # Ray Data restarts a dead actor and retries its batch on it (max_restarts and
        # max_task_retries are unlimited by default for actor pools); the actors count the times
        # each batch was started, in an actor of this job, and refuse a batch that has killed its
        # actor max_actor_deaths times. A refused batch, like a model error, fails the job at once.
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        attempts = ray.remote(_Attempts).options(num_cpus=0, scheduling_strategy=here).remote()  # the driver's node if it can
        remote: dict[str, Any] = {"num_cpus": self.cpus_per_actor}
        if self.gpus_per_actor:
            remote["num_gpus"] = self.gpus_per_actor
        if crash:  # the crash tests kill a worker from inside (see store.crash_point)
            remote["runtime_env"] = {"env_vars": {"PATSCAPE_CRASH_AFTER": crash}}
        for tables in _windows(store, batches, self.window_bytes):
            dataset = ray.data.from_arrow(tables).map_batches(
                _ActorEmbedder,
                fn_constructor_args=(self.model, self.load_options, embedder.fingerprint(), options, attempts,
                                     self.max_actor_deaths),
                # One block is one batch of the local engine, so the model sees the same groups of
                # texts (GPU actors need a batch size: a block is never longer than one batch).
                batch_size=max(table.num_rows for table in tables) if self.gpus_per_actor else None,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=min(self.actors, len(tables))),
                **remote,
            )
            try:
                for out in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    failed = [str(e) for e in out["error"] if e]
                    if failed:  # a patscape error in a worker comes back as data (Ray keeps only its text)
                        raise ModelError(failed[0])
                    yield from self._computed(out, options.passages is not None)
            except ray.exceptions.GetTimeoutError as exc:
                raise ModelError(f"the Ray cluster did not start {self.actors} actors of {self.cpus_per_actor:g} CPUs "
                                 f"{f'and {self.gpus_per_actor:g} GPUs ' if self.gpus_per_actor else ''}within "
                                 f"{ACTOR_START_S}s: lower --actors or add nodes") from exc

    def _computed(self, out: Mapping[str, np.ndarray], with_passages: bool) -> Iterator[Computed]:
        """The rows of one returned block, one :data:`Computed` per batch it holds."""
        numbers = np.asarray(out["batch"])
        for number in dict.fromkeys(numbers.tolist()):
            picked = np.flatnonzero(numbers == number)
            rows = [
                VectorRow(str(out["doc_id"][i]), str(out["content_hash"][i]), np.frombuffer(out["vector"][i], dtype=np.float32),
                          int(out["n_chunks"][i]), int(out["n_tokens"][i]), int(out["truncated_tokens"][i]))
                for i in picked
            ]
            passages = [p for i in picked for p in _unpack(str(out["doc_id"][i]), out["passages"][i])] if with_passages else None
            self.restarted_batches += int(bool(out["restarted"][picked[0]]))
            self.nodes_used.add(str(out["node"][picked[0]]))
            yield rows, passages


def _windows(store: Store, batches: Iterable[Sequence[str]], budget: int) -> Iterator[list[Any]]:
    """The batches as Arrow tables (one per batch), grouped into windows of about ``budget``
    bytes: the driver never holds more than a window of the corpus."""
    window: list[Any] = []
    size = 0
    for number, ids in enumerate(batches):
        table = _block(store, number, ids)
        if not table.num_rows:
            continue
        window.append(table)
        size += table.nbytes
        if size >= budget:
            yield window
            window, size = [], 0
    if window:
        yield window


class _Attempts:
    """The times each batch (by number) was started by an actor, for one engine call. Ray retries
    a batch only when its actor died, so a batch started n times has killed its actor n - 1 times."""

    def __init__(self) -> None:
        self.started: dict[int, int] = {}

    def begin(self, number: int) -> int:
        self.started[number] = self.started.get(number, 0) + 1
        return self.started[number]


class _ActorEmbedder:
    """The Ray Data callable class: one embedder per actor, loaded once, fed whole batches."""

    def __init__(self, model: str, load_options: Mapping[str, Any], fingerprint: str, options: EmbedOptions,
                 attempts: Any, max_deaths: int) -> None:
        import ray

        self.options = options
        self.attempts, self.max_deaths = attempts, max_deaths
        self.node = ray.get_runtime_context().get_node_id()
        self.restarted = ray.get_runtime_context().was_current_actor_reconstructed
        self.failure: str | None = None
        try:
            self.embedder: Embedder | None = load_embedder(model, **load_options)
        except PatscapeError as exc:  # reported by the first batch: a failed constructor is retried forever
            self.embedder, self.failure = None, f"Ray node {self.node[:8]}: {exc}"
            return
        if self.embedder.fingerprint() != fingerprint:
            self.failure = (f"{model} on Ray node {self.node[:8]} is not the model this process loaded (fingerprint "
                            f"{self.embedder.fingerprint()}, not {fingerprint}): install the same environment and model "
                            "files on every node")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        numbers = np.asarray(batch["batch"])
        out: dict[str, list[Any]] = {k: [] for k in COLUMNS}
        try:
            self._begin(batch, numbers)
            if not self.restarted:  # the crash tests kill a first-generation worker once (store.crash_point)
                crash_point("ray-actor")
            if self.failure or self.embedder is None:
                raise ModelError(self.failure or "no embedder")
            for number in dict.fromkeys(numbers.tolist()):  # a block is one batch; be safe if Ray merged two
                crash_point(f"ray-batch-{number}")  # the crash tests kill every actor that starts this batch
                picked = np.flatnonzero(numbers == number)
                docs = [Document(id=str(batch["doc_id"][i]), **{c: str(batch[c][i]) for c in TEXT_COLUMNS}) for i in picked]
                rows, passages = embed_documents(self.embedder, docs, self.options,
                                                 [str(batch["content_hash"][i]) for i in picked])
                by_doc: dict[str, list[PassageRow]] = {}
                for p in passages or []:
                    by_doc.setdefault(p.doc_id, []).append(p)
                for row in rows:
                    passages_blob = _pack(by_doc.get(row.doc_id, []))
                    vector = np.asarray(row.vector, dtype=np.float32).tobytes()
                    self._row(out, number, row.doc_id, row.content_hash, vector, row.n_chunks, row.n_tokens,
                              row.truncated_tokens, passages_blob, "")
        except PatscapeError as exc:  # one row saying why: Ray would keep only the text of an exception
            out = {k: [] for k in COLUMNS}
            self._row(out, int(numbers[0]) if len(numbers) else -1, "", "", b"", 0, 0, 0, b"", str(exc) or type(exc).__name__)
        return {k: np.asarray(v, dtype=COLUMNS[k]) for k, v in out.items()}

    def _begin(self, batch: dict[str, np.ndarray], numbers: np.ndarray) -> None:
        """Count this attempt at each batch of the block; refuse one that has killed its actor
        ``max_deaths`` times (a :class:`ModelError` naming its first documents)."""
        import ray

        for number in dict.fromkeys(numbers.tolist()):
            deaths = ray.get(self.attempts.begin.remote(number)) - 1
            if deaths >= self.max_deaths:
                ids = [str(batch["doc_id"][i]) for i in np.flatnonzero(numbers == number)]
                raise ModelError(
                    f"a batch of {len(ids)} documents ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}) killed "
                    f"its Ray actor {deaths} times (out of memory?); the batches already embedded are stored: "
                    "lower --batch or give the actors more memory, then run the same command again"
                )

    def _row(self, out: dict[str, list[Any]], *values: Any) -> None:
        for name, value in zip(COLUMNS, (*values, self.restarted, self.node)):
            out[name].append(value)


def _block(store: Store, number: int, ids: Sequence[str]) -> Any:
    """One batch of documents as an Arrow table (one Ray block): ids, content hashes, text fields."""
    import pyarrow as pa

    docs = list(store.iter_documents(ids))
    columns: dict[str, Any] = {
        "batch": pa.array([number] * len(docs), pa.int64()),
        "doc_id": pa.array([d.id for d in docs], pa.string()),
        "content_hash": pa.array([d.content_hash for d in docs], pa.string()),
    }
    for name in TEXT_COLUMNS:
        columns[name] = pa.array([getattr(d, name) or "" for d in docs], pa.large_string())
    return pa.table(columns)


def _pack(passages: Sequence[PassageRow]) -> bytes:
    """A document's passages as bytes (vectors exact: float32 as computed)."""
    return pickle.dumps([(p.field, p.start, p.end, p.truncated_tokens, np.asarray(p.vector, dtype=np.float32))
                         for p in passages], protocol=5)


def _unpack(doc_id: str, blob: bytes) -> list[PassageRow]:
    return [PassageRow(doc_id, name, start, end, vector, cut) for name, start, end, cut, vector in pickle.loads(blob)]


def _check_reachable(address: str) -> None:
    """A one-line error for a ``host:port`` nobody listens on (Ray itself waits a long time)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": left to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); start its head with "
                         "`ray start --head` or check --address") from exc
