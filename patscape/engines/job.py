"""An embedding job as ``patscape embed`` runs it: the model chosen (``auto``: the corpus
default) and loaded, the engine opened (this process, or a pool of actors on a Ray cluster),
the documents without a vector embedded, and the chunking and passage statistics of the space.

Nothing is printed here; the caller is told what happens through the ``on_*`` callbacks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..embed import load_embedder
from ..pipeline import EmbedOptions, EmbedReport, embed
from ..spaces import resolve_model
from ..store import Store
from .ray_embed import RayEngine  # imports ray only when the engine starts


@dataclass(slots=True)
class EmbedJob:
    """What an embedding job did."""

    report: EmbedReport
    #: The model's name after ``auto`` was resolved, and why ``auto`` chose it (else None).
    model: str
    why: str | None
    #: From the start of the engine to its end after the last batch.
    seconds: float
    #: :meth:`Store.chunk_stats` and :meth:`Store.passage_stats` of the space, in one dict.
    stats: dict[str, Any]
    #: Ray only (else None and 0): nodes whose actors computed batches, and batches computed
    #: by actors that Ray had restarted after a worker died.
    nodes_used: int | None = None
    restarted_batches: int = 0


def run_embed_job(
    db: Store,
    model: str,
    options: EmbedOptions | None = None,
    *,
    loader: Mapping[str, Any],
    runtime: Mapping[str, Any],
    engine: Literal["local", "ray"] = "local",
    address: str | None = None,
    actors: int | None = None,
    gpus_per_actor: float = 0.0,
    max_actor_deaths: int | None = None,
    on_model: Callable[[str, str | None], None] | None = None,
    on_engine: Callable[[RayEngine, float], None] | None = None,
    on_start: Callable[[str, int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> EmbedJob:
    """Embed the documents of ``db`` that have no vector for ``model`` yet, with ``options``
    (default ``EmbedOptions()``: the space's options and the most
    documents and model windows of one committed batch, see :func:`patscape.pipeline.plan_batches`).

    ``loader``: the options the model is loaded with and that make its space (profile,
    instructions, max_tokens, tokenizer); ``runtime``: those that do not (gpu_layers,
    concurrency). ``engine="ray"`` embeds the batches on a Ray cluster (``address``: an
    existing one; else one is started on this machine); the store is written here either way.

    Callbacks: ``on_model(model, why)`` once the model is chosen, before it loads;
    ``on_engine(ray_engine, seconds)`` once the Ray actors are ready; ``on_start(embedder_name,
    documents_to_embed)`` before the first batch; ``progress(documents)`` after each batch.
    """
    model, why = resolve_model(db, model)
    if on_model:
        on_model(model, why)
    embedder = load_embedder(model, **loader, **runtime)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        runner = None
        if engine == "ray":
            runner = stack.enter_context(RayEngine(model, {**loader, **runtime}, address=address, actors=actors,
                                                   gpus_per_actor=gpus_per_actor, max_actor_deaths=max_actor_deaths))
            if on_engine:
                on_engine(runner, time.perf_counter() - started)
        report = embed(db, embedder, options, on_start=(lambda total: on_start(embedder.name, total)) if on_start else None,
                       auto_reason=why, progress=progress, loader=loader, engine=runner)
    seconds = time.perf_counter() - started
    stats = {**db.chunk_stats(report.space.key), **db.passage_stats(report.space.key)}
    if runner is None:
        return EmbedJob(report, model, why, seconds, stats)
    return EmbedJob(report, model, why, seconds, stats, len(runner.nodes_used), runner.restarted_batches)
