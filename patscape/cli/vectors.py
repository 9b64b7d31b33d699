"""The commands that give a store its vectors: ``embed``, ``import-vectors`` and ``index``."""

from __future__ import annotations

import time
from typing import Any

import click

from ..engines.job import run_embed_job
from ..engines.ray_embed import RayEngine
from ..errors import IngestProblemsError, InputError
from ..pipeline import BATCH_DOCS, BATCH_WINDOWS, EmbedOptions
from ..spaces import PassageParams, pick_space
from ..store import Store
from ..vectors import hnsw
from ..vectors.disk import SpaceVectors
from ..vectors_io import import_vectors as run_import
from .present import note, progress


# -- embed -------------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path(exists=False))
@click.option("--model", "-m", default="auto", show_default=True,
              help="Model name or alias (see `patscape models`); auto: all-MiniLM-L6-v2 for an English-only corpus, "
                   "use-multilingual for languages it reads, e5-small for others when it takes at most 15 minutes.")
@click.option("--task", type=click.Choice(["document", "cluster", "classify"]), default="document", show_default=True,
              help="Embed for retrieval (documents), or with the clustering / classification instruction "
                   "(instruction-aware models such as Qwen3-Embedding).")
@click.option("--profile", default=None, help="Model family instead of the detected one: qwen3, e5, bge, minilm, plain.")
@click.option("--instruction", "instructions", multiple=True, metavar="TASK=TEXT",
              help="Task instruction to use instead of the profile's (repeatable), e.g. cluster='Identify ...'.")
@click.option("--max-tokens", type=int, default=None, help="Window size in tokens (default: the model's).")
@click.option("--languages", default=None, metavar="a,b,c",
              help="The languages the model reads (ISO 639-1 codes; many: any), instead of what patscape knows of it "
                   "(see `patscape models`); changes no vector, only the warning about languages it does not read.")
@click.option("--gpu-layers", type=int, default=None, help="gguf: layers to offload to the GPU (-1: all).")
@click.option("--tokenizer", default=None, help="openai: a local tokenizer (st:DIR or tokenizer.json) for exact windows.")
@click.option("--concurrency", type=int, default=None, help="openai: requests in flight at once.")
@click.option("--dims", type=int, default=None, help="Matryoshka truncation (only for models trained for it).")
@click.option("--fields", default="title,abstract,claims", show_default=True,
              help="Fields of the document vector (the map), comma-separated: title, abstract, first_claim, claims, "
                   "description, text.")
@click.option("--passage-tokens", type=int, default=128, show_default=True,
              help="Tokens per passage of the full text (claims, description, text) for passage-level search.")
@click.option("--passage-overlap", type=int, default=16, show_default=True, help="Tokens shared by neighbouring passages.")
@click.option("--max-passages", type=int, default=256, show_default=True,
              help="Passages kept per field of a document (the rest is cut and counted).")
@click.option("--no-passages", is_flag=True, help="Embed document vectors only (no passage-level search).")
@click.option("--centre/--no-centre", "centre", default=None,
              help="Centre the vectors by language at use (maps, search, queries): each language's mean, frozen "
                   "once the space is complete, is subtracted; the stored vectors stay raw. Default: as measured "
                   "per packaged model (on for e5-small; see docs/models.md), off for other models. Given for an "
                   "existing space, turns it on or off (off drops its frozen means).")
@click.option("--overlap", type=int, default=32, show_default=True, help="Tokens shared by consecutive chunks of a long text.")
@click.option("--max-chunks", type=int, default=None, help="Embed at most this many chunks per document (the cut is recorded).")
@click.option("--batch", type=int, default=BATCH_DOCS, show_default=True,
              help="Most documents per committed batch (sorted by length inside it).")
@click.option("--batch-windows", type=int, default=BATCH_WINDOWS, show_default=True,
              help="Most model windows (chunks + passages: forward passes of the model) per committed batch, so "
                   "that a kill loses little work even on long full texts; a longer document is a batch of its own.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where batches are embedded: in this process, or by a pool of actors on a Ray cluster "
                   "(pip install 'patscape[ray]'); the store is written by this process either way.")
@click.option("--address", default=None, metavar="HOST:PORT",
              help="ray: the head of an existing Ray cluster (default: start Ray on this machine).")
@click.option("--actors", type=int, default=None, help="ray: embedders at once (default: one per CPU of the cluster).")
@click.option("--gpus-per-actor", type=float, default=0.0, help="ray: GPUs each actor reserves (e.g. 1 for a GPU model).")
@click.option("--max-actor-deaths", type=int, default=None, metavar="N",
              help="ray: stop when one batch has killed its actor N times, e.g. out of memory (default 3); "
                   "the batches already embedded stay.")
def embed(store: str, model: str, task: str, profile: str | None, instructions: tuple[str, ...],
          max_tokens: int | None, languages: str | None, gpu_layers: int | None, tokenizer: str | None,
          concurrency: int | None,
          dims: int | None, fields: str, passage_tokens: int, passage_overlap: int, max_passages: int,
          no_passages: bool, centre: bool | None, overlap: int, max_chunks: int | None, batch: int, batch_windows: int, engine: str,
          address: str | None, actors: int | None, gpus_per_actor: float, max_actor_deaths: int | None) -> None:
    """Embed the documents of STORE that have no vector for this model yet.

    Each document gets a vector of --fields (for the map and similar patents) and, from its full
    text (claims, description, text), one vector per passage (for passage-level prior-art search).
    Long texts are split by the model's tokenizer into overlapping windows and pooled; nothing
    is cut unless --max-chunks or --max-passages says so, and every cut is counted (see `info`).
    Each batch (at most --batch documents and --batch-windows model windows) is committed: after
    a kill, run the same command again to resume.

    \b
    Examples:
      patscape embed corpus/
      patscape embed corpus/ --model st:~/models/Qwen3-Embedding-0.6B --task cluster --dims 512
      patscape embed corpus/ --model gguf:~/models/Qwen3-Embedding-4B-Q4_K_M.gguf --gpu-layers -1
      patscape embed corpus/ --model openai:Qwen/Qwen3-Embedding-0.6B@http://127.0.0.1:8080/v1
      patscape embed corpus/ --model use-multilingual --fields title,abstract,claims
      patscape embed corpus/ --engine ray --address 10.0.0.5:6379
    """
    if batch < 1:
        raise InputError("--batch must be at least 1")
    if batch_windows < 1:
        raise InputError("--batch-windows must be at least 1")
    if max_chunks is not None and max_chunks < 1:
        raise InputError("--max-chunks must be at least 1")
    if engine != "ray" and (address or actors or gpus_per_actor or max_actor_deaths is not None):
        raise InputError("--address, --actors, --gpus-per-actor and --max-actor-deaths need --engine ray")
    field_list = tuple(f.strip() for f in fields.split(",") if f.strip())
    parsed: dict[str, str] = {}
    for item in instructions:
        task_name, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise InputError(f"--instruction takes TASK=TEXT, got {item!r}")
        parsed[task_name.strip()] = text.strip()
    loader = {"profile": profile, "instructions": parsed or None, "max_tokens": max_tokens, "tokenizer": tokenizer}
    runtime = {"gpu_layers": gpu_layers, "concurrency": concurrency, "languages": languages}
    options = EmbedOptions(
        task=task, dims=dims, fields=field_list, overlap=overlap, max_chunks=max_chunks,  # type: ignore[arg-type]
        passages=None if no_passages else PassageParams(passage_tokens, passage_overlap, max_passages),
        batch_docs=batch, batch_windows=batch_windows, centre=centre,
    )
    bar: dict[str, Any] = {}

    def chosen(model: str, why: str | None) -> None:
        if why:
            click.echo(f"model {model} ({why}; choose another with --model)", err=True)

    def ready(runner: RayEngine, seconds: float) -> None:
        click.echo(f"ray: {runner.actors} actors on {runner.nodes} nodes of "
                   f"{'the cluster at ' + address if address else 'a cluster started on this machine'} "
                   f"(ready in {seconds:.1f}s)", err=True)

    def start(name: str, total: int) -> None:
        bar["update"], bar["close"] = progress(total, "doc", f"embed {name}")

    with Store(store, create=False) as db:
        try:
            job = run_embed_job(db, model, options, loader=loader, runtime=runtime, engine=engine,  # type: ignore[arg-type]
                                address=address, actors=actors, gpus_per_actor=gpus_per_actor,
                                max_actor_deaths=max_actor_deaths, on_model=chosen, on_engine=ready,
                                on_start=start, progress=lambda n: bar["update"](n))
        finally:
            if "close" in bar:
                bar["close"]()
    report, stats, seconds = job.report, job.stats, job.seconds
    if job.nodes_used is not None:
        click.echo(f"ray: batches computed on {job.nodes_used} nodes", err=True)
    if job.restarted_batches:
        note(f"{job.restarted_batches} batches ran on Ray actors restarted after a worker died")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    rate = f" ({report.embedded / seconds:.1f} docs/s)" if report.embedded and seconds > 0 else ""
    state = "complete" if not report.missing else f"in progress, {report.missing} documents to go"
    if report.stale:
        note(f"{report.stale} documents changed while they were embedded; their new text was embedded")
    click.echo(
        f"embedded {report.embedded} documents in {seconds:.1f}s{rate}; {report.already} already done; "
        f"space {report.space.key} ({state}); {stats['multi_chunk_docs']} documents needed more than one chunk, "
        f"{stats['truncated_docs']} were truncated; {stats['passages']} passages of "
        f"{stats['docs_with_passages']} documents ({stats['docs_with_passages_cut']} cut by --max-passages)"
    )


# -- index ---------------------------------------------------------------------------------------
@click.command("index")
@click.argument("store", type=click.Path())
@click.option("--space", default=None, help="Embedding space key (default: the newest complete one).")
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default=None,
              help="Precision of the vector files (default: as they are, float32 when new); float16 halves disk and memory.")
@click.option("--ann/--no-ann", "ann", default=None,
              help="Build (or skip) the ANN index whatever the size (default: from --threshold).")
@click.option("--threshold", type=int, default=None,
              help="Live vectors from which searches use the ANN index [default: 50000, or PATSCAPE_ANN_THRESHOLD].")
@click.option("--rebuild", is_flag=True, help="Write the files and the index anew.")
def index(store: str, space: str | None, dtype: str | None, ann: bool | None, threshold: int | None, rebuild: bool) -> None:
    """Bring the vector files and the ANN index of a space up to date.

    Searches use memory-mapped vector files beside the store (STORE/vectors/), and an HNSW index
    once a space has --threshold vectors. `embed` and `import-vectors` update them; this command
    builds them ahead of the first search, changes their precision, or rebuilds them.

    \b
    Examples:
      patscape index corpus/                      # ahead of serving a large corpus
      patscape index corpus/ --dtype float16      # half the disk and page cache
    """
    started = time.perf_counter()
    with Store(store, create=False) as db:
        chosen = pick_space(db, space)
        files = SpaceVectors(db, chosen, threshold)
        report = files.sync(dtype=dtype, rebuild=rebuild, build_index=ann, on_notice=note)
        assert report is not None
        files._load()
        built_m = hnsw.index_m(files.docs.index) if files.docs is not None and files.docs.index is not None else None
    if built_m is not None and built_m != hnsw.HNSW_M:  # looked up now: tests set it
        note(f"the ANN index was built by an earlier version (M {built_m}); it misses documents of large dense "
             f"topics more often: `patscape index {store} --rebuild --ann` builds it anew (M {hnsw.HNSW_M})")
    indexed = ", ".join(f"{name} {rows:,} rows" for name, rows in report.indexed.items()) or "none (exact search)"
    click.echo(
        f"vector files of {chosen.key}: {report.live:,} document vectors, {report.passages:,} passage vectors, "
        f"{files.dtype}; {'rewritten' if report.rebuilt else f'{report.appended:,} appended, {report.removed:,} retired'}; "
        f"ANN index: {indexed}; {time.perf_counter() - started:.1f}s"
    )


# -- import-vectors ------------------------------------------------------------------------------
@click.command("import-vectors")
@click.argument("store", type=click.Path())
@click.argument("file", type=click.Path())
@click.option("--model", "-m", required=True,
              help="The model that made the vectors, as patscape names it (e.g. st:/models/Qwen3-Embedding-8B or "
                   "openai:NAME@URL): text queries are embedded with it; --like and map work without it.")
@click.option("--id-column", default="id", show_default=True, help="Parquet: the column of document ids.")
@click.option("--vector-column", default="vector", show_default=True,
              help="Parquet: the column of vectors (a list or fixed-size list of floats).")
@click.option("--ids", "ids_path", type=click.Path(), default=None,
              help=".npy: the ids, one per line (or a .npy/.json list), in the matrix's row order.")
def import_vectors(store: str, file: str, model: str, id_column: str, vector_column: str, ids_path: str | None) -> None:
    """Import vectors embedded elsewhere (GPU cluster, vLLM, Ray) as an embedding space of STORE.

    Rows are streamed and checked: unknown or repeated ids, NaN/inf and zero vectors are skipped
    and counted; vectors are normalised to unit length. The space is complete when the file
    covers every document.

    \b
    Examples:
      patscape import-vectors corpus/ vectors.parquet --model st:/models/Qwen3-Embedding-8B
      patscape import-vectors corpus/ emb.npy --ids ids.txt --model openai:Qwen/Qwen3-Embedding-8B@http://gpu:8000/v1
    """
    started = time.perf_counter()
    with Store(store, create=False) as db:
        update, close = progress(0, "vec", "import")
        try:
            report = run_import(db, file, model, id_column=id_column, vector_column=vector_column, ids_path=ids_path,
                                progress=update, on_notice=note)
        finally:
            close()
    skipped = {"unknown ids": report.unknown_ids, "repeated ids": report.repeated_ids,
               "NaN/inf vectors": report.not_finite, "zero vectors": report.zero}
    for kind, n in skipped.items():
        if n:
            examples = report.examples.get(kind.split()[0] if kind != "NaN/inf vectors" else "not finite", [])
            click.echo(f"skipped: {n} rows with {kind} (e.g. {', '.join(examples)})", err=True)
    state = "complete" if report.space.complete else f"in progress: {report.missing} documents have no vector"
    click.echo(f"imported {report.stored} of {report.rows} vectors ({report.space.dims} dims) in "
               f"{time.perf_counter() - started:.1f}s; space {report.space.key} ({state})")
    if any(skipped.values()):
        raise IngestProblemsError(f"{sum(skipped.values())} rows were skipped (see above)")
