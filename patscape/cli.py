"""The ``patscape`` command line: one command per stage, plus ``demo``, ``info`` and ``models``.

Library errors are translated here, once: a one-line message on stderr and an exit code
(1: finished, but some input was skipped; 2: nothing done, fix the input; 3: internal error;
75: the store is busy with another writer, retry; 130: interrupted).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import IngestProblemsError, InputError, PatscapeError, StoreBusyError

EPILOG_INGEST = """\b
Examples:
  patscape ingest corpus/ patents.jsonl
  patscape ingest corpus/ export.csv --id publication_number --abstract abstract_en
  patscape ingest corpus/ ipg240102.xml          # USPTO grant full text (bulk file)
  patscape ingest corpus/ pdfs/                   # a folder of .txt/.md/.pdf
"""


def _store(path: str, create: bool = False):  # type: ignore[no-untyped-def]
    from .store import Store

    return Store(path, create=create)


def _progress(total: int, unit: str, desc: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True, mininterval=0.5,
               disable=os.environ.get("PATSCAPE_NO_PROGRESS") == "1")
    return bar.update, bar.close


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="patscape")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """Patent landscapes on a laptop: ingest, embed, map, search, export.

    \b
    A typical session:
      patscape ingest corpus/ patents.jsonl
      patscape embed corpus/
      patscape map corpus/
      patscape export corpus/ --format html --out landscape.html
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# -- ingest ------------------------------------------------------------------------------------
@cli.command(epilog=EPILOG_INGEST)
@click.argument("store", type=click.Path())
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--id", "id_", default="id", show_default=True, help="Field holding the document id.")
@click.option("--title", default="title", show_default=True, help="Field holding the title.")
@click.option("--abstract", default="abstract", show_default=True, help="Field holding the abstract.")
@click.option("--text", default="text", show_default=True, help="Field holding body text of unknown structure.")
@click.option("--claims", default="claims", show_default=True,
              help="Field holding the claims (one per line, or a JSON list of claims).")
@click.option("--description", default="description", show_default=True,
              help="Field holding the description (one paragraph per line).")
@click.option("--lang", default="lang", show_default=True, help="Field holding the ISO 639-1 language (detected when absent).")
@click.option("--date", default="date", show_default=True, help="Field holding the publication date.")
@click.option("--cpc", default="cpc", show_default=True, help="Field holding CPC codes (list or ;,| separated).")
@click.option("--ipc", default="ipc", show_default=True, help="Field holding IPC codes.")
@click.option("--assignee", default="assignee", show_default=True, help="Field holding the assignee(s).")
@click.option("--strict", is_flag=True, help="Check every record first; at the first bad one stop and store nothing.")
@click.option("--batch", type=int, default=500, show_default=True,
              help="Documents written per transaction (a kill loses at most one batch).")
def ingest(store: str, files: tuple[str, ...], id_: str, title: str, abstract: str, text: str, claims: str,
           description: str, lang: str, date: str, cpc: str, ipc: str, assignee: str, strict: bool, batch: int) -> None:
    """Read patents from FILES (JSONL, CSV/TSV, USPTO XML, .txt/.md/.pdf or folders) into STORE.

    Re-ingesting a file adds nothing; a document whose content changed replaces its old
    version (and will be re-embedded). Bad records are reported with file and line and skipped.
    """
    from .ingest import FieldMap
    from .pipeline import ingest as run_ingest

    fields = FieldMap(id=id_, title=title, abstract=abstract, text=text, claims=claims, description=description,
                      lang=lang, date=date, cpc=cpc, ipc=ipc, assignee=assignee)
    if batch < 1:
        raise InputError("--batch must be at least 1")
    started = time.perf_counter()
    with _store(store, create=True) as db:
        update, close = _progress(0, "doc", "ingest")
        try:
            report = run_ingest(db, files, fields, strict=strict, batch_size=batch, on_problem=_echo_problem,
                                progress=update)
        finally:
            close()
        total = db.count_documents()
    click.echo(
        f"ingested {report.read} records in {time.perf_counter() - started:.1f}s: {report.added} added, "
        f"{report.replaced} replaced, {report.unchanged} unchanged, {report.duplicates} duplicates, "
        f"{len(report.problems)} skipped, {len(report.warnings)} kept with a field fixed or dropped; "
        f"{total} documents in {store}"
    )
    if report.problems:
        raise IngestProblemsError(f"{len(report.problems)} records were skipped (see above)")


def _echo_problem(problem: Any) -> None:
    click.echo(f"{'warning' if getattr(problem, 'kept', False) else 'skipped'}: {problem}", err=True)


# -- embed -------------------------------------------------------------------------------------
@cli.command()
@click.argument("store", type=click.Path(exists=False))
@click.option("--model", "-m", default="auto", show_default=True,
              help="Model name or alias (see `patscape models`); auto: all-MiniLM-L6-v2 for an English-only corpus, "
                   "the multilingual use-multilingual otherwise.")
@click.option("--task", type=click.Choice(["document", "cluster", "classify"]), default="document", show_default=True,
              help="Embed for retrieval (documents), or with the clustering / classification instruction "
                   "(instruction-aware models such as Qwen3-Embedding).")
@click.option("--profile", default=None, help="Model family instead of the detected one: qwen3, e5, bge, minilm, plain.")
@click.option("--instruction", "instructions", multiple=True, metavar="TASK=TEXT",
              help="Task instruction to use instead of the profile's (repeatable), e.g. cluster='Identify ...'.")
@click.option("--max-tokens", type=int, default=None, help="Window size in tokens (default: the model's).")
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
@click.option("--overlap", type=int, default=32, show_default=True, help="Tokens shared by consecutive chunks of a long text.")
@click.option("--max-chunks", type=int, default=None, help="Embed at most this many chunks per document (the cut is recorded).")
@click.option("--batch", type=int, default=256, show_default=True, help="Documents per committed batch (sorted by length inside it).")
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
          max_tokens: int | None, gpu_layers: int | None, tokenizer: str | None, concurrency: int | None,
          dims: int | None, fields: str, passage_tokens: int, passage_overlap: int, max_passages: int,
          no_passages: bool, overlap: int, max_chunks: int | None, batch: int, engine: str, address: str | None,
          actors: int | None, gpus_per_actor: float, max_actor_deaths: int | None) -> None:
    """Embed the documents of STORE that have no vector for this model yet.

    Each document gets a vector of --fields (for the map and similar patents) and, from its full
    text (claims, description, text), one vector per passage (for passage-level prior-art search).
    Long texts are split by the model's tokenizer into overlapping windows and pooled; nothing
    is cut unless --max-chunks or --max-passages says so, and every cut is counted (see `info`).
    Each batch is committed: after a kill, run the same command again to resume.

    \b
    Examples:
      patscape embed corpus/
      patscape embed corpus/ --model st:~/models/Qwen3-Embedding-0.6B --task cluster --dims 512
      patscape embed corpus/ --model gguf:~/models/Qwen3-Embedding-4B-Q4_K_M.gguf --gpu-layers -1
      patscape embed corpus/ --model openai:Qwen/Qwen3-Embedding-0.6B@http://127.0.0.1:8080/v1
      patscape embed corpus/ --model use-multilingual --fields title,abstract,claims
      patscape embed corpus/ --engine ray --address 10.0.0.5:6379
    """
    from .embed import load_embedder
    from .pipeline import PassageParams, embed as run_embed, resolve_model

    if batch < 1:
        raise InputError("--batch must be at least 1")
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
    runtime = {"gpu_layers": gpu_layers, "concurrency": concurrency}
    passages = None if no_passages else PassageParams(passage_tokens, passage_overlap, max_passages)
    with _store(store) as db:
        model, why = resolve_model(db, model)
        if why:
            click.echo(f"model {model} ({why}; choose another with --model)", err=True)
        embedder = load_embedder(model, **loader, **runtime)
        bar: dict[str, Any] = {}

        def start(total: int) -> None:
            bar["update"], bar["close"] = _progress(total, "doc", f"embed {embedder.name}")

        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            runner = None
            if engine == "ray":
                from .engines.ray_embed import RayEngine

                runner = stack.enter_context(RayEngine(model, {**loader, **runtime}, address=address, actors=actors,
                                                       gpus_per_actor=gpus_per_actor, max_actor_deaths=max_actor_deaths))
                click.echo(f"ray: {runner.actors} actors on {runner.nodes} nodes of "
                           f"{'the cluster at ' + address if address else 'a cluster started on this machine'} "
                           f"(ready in {time.perf_counter() - started:.1f}s)", err=True)
            try:
                report = run_embed(db, embedder, task=task, dims=dims, fields=field_list, overlap=overlap,  # type: ignore[arg-type]
                                   max_chunks=max_chunks, passages=passages, batch_docs=batch, on_start=start,
                                   auto_reason=why, progress=lambda n: bar["update"](n), loader=loader, engine=runner)
            finally:
                if "close" in bar:
                    bar["close"]()
            if runner is not None:
                click.echo(f"ray: batches computed on {len(runner.nodes_used)} nodes", err=True)
            if runner is not None and runner.restarted_batches:
                click.echo(f"note: {runner.restarted_batches} batches ran on Ray actors restarted after a worker died", err=True)
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        seconds = time.perf_counter() - started
        rate = f" ({report.embedded / seconds:.1f} docs/s)" if report.embedded and seconds > 0 else ""
        stats = {**db.chunk_stats(report.space.key), **db.passage_stats(report.space.key)}
    state = "complete" if not report.missing else f"in progress, {report.missing} documents to go"
    if report.stale:
        click.echo(f"note: {report.stale} documents changed while they were embedded; their new text was embedded", err=True)
    click.echo(
        f"embedded {report.embedded} documents in {seconds:.1f}s{rate}; {report.already} already done; "
        f"space {report.space.key} ({state}); {stats['multi_chunk_docs']} documents needed more than one chunk, "
        f"{stats['truncated_docs']} were truncated; {stats['passages']} passages of "
        f"{stats['docs_with_passages']} documents ({stats['docs_with_passages_cut']} cut by --max-passages)"
    )


def _vector_files(db: Any, space: Any) -> dict[str, Any] | None:
    """The state of a space's vector files, read without writing them."""
    from .vectors.disk import SpaceVectors

    files = SpaceVectors.open(db, space, sync=False)
    if not files.meta or files.docs is None:
        return None
    head = db.vector_log_head(space.key)
    return {"rows": files.docs.rows, "live": files.live, "dtype": files.dtype, "indexed": files.docs.index_rows,
            "behind": len(db.changed_documents(space.key, int(files.meta["applied_seq"]))[1]) if head > int(files.meta["applied_seq"]) else 0}


# -- index ---------------------------------------------------------------------------------------
@cli.command("index")
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
    from .pipeline import pick_space
    from .vectors.disk import HNSW_M, SpaceVectors, index_m

    started = time.perf_counter()
    with _store(store) as db:
        chosen = pick_space(db, space)
        files = SpaceVectors(db, chosen, threshold)
        report = files.sync(dtype=dtype, rebuild=rebuild, build_index=ann, on_notice=lambda m: click.echo(f"note: {m}", err=True))
        assert report is not None
        files._load()
        built_m = index_m(files.docs.index) if files.docs is not None and files.docs.index is not None else None
    if built_m is not None and built_m != HNSW_M:
        click.echo(f"note: the ANN index was built by an earlier version (M {built_m}); it misses documents of large dense "
                   f"topics more often: `patscape index {store} --rebuild --ann` builds it anew (M {HNSW_M})", err=True)
    indexed = ", ".join(f"{name} {rows:,} rows" for name, rows in report.indexed.items()) or "none (exact search)"
    click.echo(
        f"vector files of {chosen.key}: {report.live:,} document vectors, {report.passages:,} passage vectors, "
        f"{files.dtype}; {'rewritten' if report.rebuilt else f'{report.appended:,} appended, {report.removed:,} retired'}; "
        f"ANN index: {indexed}; {time.perf_counter() - started:.1f}s"
    )


# -- import-vectors ------------------------------------------------------------------------------
@cli.command("import-vectors")
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
    from .vectors_io import import_vectors as run_import

    started = time.perf_counter()
    with _store(store) as db:
        update, close = _progress(0, "vec", "import")
        try:
            report = run_import(db, file, model, id_column=id_column, vector_column=vector_column, ids_path=ids_path,
                                progress=update, on_notice=lambda m: click.echo(f"note: {m}", err=True))
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


# -- map ---------------------------------------------------------------------------------------
@cli.command("map")
@click.argument("store", type=click.Path())
@click.option("--space", default=None,
              help="Embedding space key (default: the newest complete one; see `patscape info`). An incomplete "
                   "space is used only when named here, on the documents it has.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed: same inputs and seed, same map.")
@click.option("--min-cluster-size", type=int, default=None, help="Smallest topic (default: grows with the corpus).")
@click.option("--min-samples", type=int, default=5, show_default=True, help="HDBSCAN density smoothing.")
@click.option("--max-cluster-share", type=float, default=0.1, show_default=True,
              help="A branch larger than this share of the corpus is split into its sub-topics where it has any.")
@click.option("--components", type=int, default=5, show_default=True, help="UMAP dimensions that are clustered.")
@click.option("--neighbors", type=int, default=30, show_default=True, help="UMAP neighbourhood size.")
@click.option("--max-outliers", type=float, default=0.15, show_default=True,
              help="Reassign outliers by neighbour vote until at most this share is left.")
@click.option("--no-reassign", is_flag=True, help="Keep every HDBSCAN outlier as an outlier.")
@click.option("--label-lang", default=None,
              help="Label topics in this language (ISO 639-1, e.g. zh) wherever a topic has documents in it; "
                   "other topics keep their main language. Default: each topic's main language.")
@click.option("--sample-above", type=int, default=None,
              help="Above this many documents, fit on a random sample and place the rest by their nearest sample "
                   "documents (default 60000; the run records it).")
@click.option("--sample-size", type=int, default=None, help="Documents in that sample (default 30000).")
def map_(store: str, space: str | None, seed: int, min_cluster_size: int | None, min_samples: int,
         max_cluster_share: float, components: int, neighbors: int, max_outliers: float,
         no_reassign: bool, label_lang: str | None, sample_above: int | None, sample_size: int | None) -> None:
    """Build a landscape: reduce (UMAP), cluster (HDBSCAN), label topics, measure; stored as a run.

    \b
    Examples:
      patscape map corpus/
      patscape map corpus/ --seed 7 --min-cluster-size 40
      patscape map corpus/ --label-lang zh          # Chinese labels where a topic has Chinese patents
    """
    from .landscape import MapParams
    from .pipeline import build_map

    params = MapParams(
        n_components=components, n_neighbors=neighbors, min_cluster_size=min_cluster_size, min_samples=min_samples,
        max_cluster_share=max_cluster_share, reassign=not no_reassign, max_outlier_share=max_outliers,
        label_lang=label_lang.lower() if label_lang else None,
    )
    sampling = {"sample_above": sample_above, "sample_size": sample_size}
    params = dataclasses.replace(params, **{k: v for k, v in sampling.items() if v is not None})
    try:
        params.validate()
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    started = time.perf_counter()
    with _store(store) as db:
        run_id = build_map(db, space, params, seed, on_stage=lambda s: click.echo(f"  {s} ...", err=True) if s != "done" else None,
                           on_notice=lambda line: click.echo(f"note: {line}", err=True))
        run = db.get_run(run_id)
    click.echo(f"run {run_id} built in {time.perf_counter() - started:.1f}s")
    click.echo(_run_summary(run.metrics))


def _run_summary(m: dict[str, Any]) -> str:
    parts = [f"{m['topics']} topics", f"{m['outlier_share']:.1%} outliers (before reassignment {m['outlier_share_before_reassignment']:.1%})"]
    if m.get("silhouette_cosine") is not None:
        parts.append(f"silhouette {m['silhouette_cosine']:.3f}")
    for key in ("cpc_subclass", "ipc_subclass"):
        agreement = m.get("code_agreement", {}).get(key) or {}
        clustered, after = agreement.get("clustered"), agreement.get("after_reassignment")
        if clustered and after:
            parts.append(f"ARI {key.replace('_', ' ')} {clustered['ari']:.3f} (after reassignment {after['ari']:.3f})")
    if "landscape_f1_mean" in m:
        parts.append(f"landscape F1 {m['landscape_f1_mean']:.3f}")
    mix = m.get("language_mix", {})
    if len(mix.get("corpus_languages", {})) > 1:
        parts.append(f"{mix.get('mixed_topics', 0)} topics mix languages")
    per_language = []
    for lang, entry in (m.get("code_agreement_by_language") or {}).items():
        ipc = (entry.get("ipc_subclass") or {}).get("clustered")
        if ipc:
            per_language.append(f"{lang} {ipc['nmi']:.2f}")
    if per_language:
        parts.append("NMI ipc subclass by language: " + ", ".join(per_language))
    return "; ".join(parts)


# -- search ------------------------------------------------------------------------------------
@cli.command()
@click.argument("store", type=click.Path())
@click.argument("query", required=False)
@click.option("--like", default=None, help="Find patents similar to this document id instead.")
@click.option("-k", "--k", "k", type=int, default=10, show_default=True, help="Number of results.")
@click.option("--lang", default=None, help="Only documents in this language (e.g. en, zh).")
@click.option("--years", default=None, help="Only documents dated in these years: 2018-2023, 2018-, -2015 or 2020.")
@click.option("--cpc", default=None, help="Only documents with a CPC or IPC code starting so (H01M, H01M10, H01M10/052).")
@click.option("--mode", type=click.Choice(["vector", "keyword", "hybrid"]), default="vector", show_default=True)
@click.option("--space", default=None,
              help="Embedding space key (default: the newest complete one); an incomplete space only when named.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON lines.")
@click.option("--vector-store", default=None, metavar="URI",
              help="Rank by the document vectors exported there (default: the space of its collection): "
                   "milvus:PATH.db?collection=NAME (Milvus Lite) or milvus://HOST:PORT?collection=NAME.")
def search(store: str, query: str | None, like: str | None, k: int, lang: str | None, years: str | None,
           cpc: str | None, mode: str, space: str | None, as_json: bool, vector_store: str | None) -> None:
    """Similar patents to a QUERY text or to a document (--like ID); prior-art style.

    \b
    Examples:
      patscape search corpus/ "buoyancy engine for an underwater glider"
      patscape search corpus/ --like US-8611015-B2 -k 20
      patscape search corpus/ "卫星姿态控制" --lang en     # a Chinese query, English answers
      patscape search corpus/ "a paragraph copied from a specification"   # ranked by best passage
      patscape search corpus/ "solid electrolyte" --years 2018- --cpc H01M10
    """
    from .filters import SearchFilter
    from .pipeline import pick_space, space_notice
    from .search import search as run_search

    where = SearchFilter.parse(lang=lang, years=years, cpc=cpc)

    with _store(store) as db:
        vectors = None
        if vector_store and mode != "keyword":
            from .vectors.milvus import open_vector_store

            vectors = open_vector_store(vector_store)
        chosen = pick_space(db, space or (vectors.space_key if vectors else None)) if mode != "keyword" else None
        if vectors is not None and chosen is not None:
            vectors.check_space(chosen)
        if chosen is not None:
            notice = space_notice(db, chosen)[1]
            if notice:
                click.echo(f"note: {notice}", err=True)
        hits = run_search(db, query, like=like, k=k, where=where, mode=mode, space=chosen,  # type: ignore[arg-type]
                          vectors=vectors)
    if as_json:
        for hit in hits:
            click.echo(json.dumps(dataclasses.asdict(hit), ensure_ascii=False))
        return
    if not hits:
        click.echo("no results")
    for rank, hit in enumerate(hits, start=1):
        topic = f"  [{hit.cluster}: {hit.label}]" if hit.cluster is not None else ""
        click.echo(f"{rank:>3}. {hit.score:.3f}  {hit.id}  {hit.date or '':10}  {hit.title[:90]}{topic}")
        if hit.passage is not None:
            text = hit.passage.text if len(hit.passage.text) <= 240 else hit.passage.text[:237] + "..."
            click.echo(f"       {hit.passage.field} [{hit.passage.start}:{hit.passage.end}] {hit.passage.score:.3f}: {text}")


# -- export ------------------------------------------------------------------------------------
@cli.command()
@click.argument("store", type=click.Path())
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the newest).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json", "graphml", "html", "milvus"]), required=True)
@click.option("--out", default=None, type=click.Path(), help="File to write (every format but milvus).")
@click.option("--uri", default=None, help="milvus: where to write: PATH.db (Milvus Lite), milvus://HOST:PORT (a server).")
@click.option("--collection", default=None, help="milvus: the collection (default: patscape_ and the space key).")
@click.option("--space", default=None, help="milvus: the space to export (default: --run's if given, else the newest complete).")
@click.option("--replace", is_flag=True, help="milvus: overwrite the collection if it exists.")
def export(store: str, run_id: int | None, fmt: str, out: str | None, uri: str | None, collection: str | None,
           space: str | None, replace: bool) -> None:
    """Write a run as CSV/Parquet (id, cluster, label, x, y, ...), JSON, GraphML or an HTML report,
    or a space's document vectors to Milvus (for `search --vector-store`).

    The HTML report is one self-contained file that works offline: the map, the topic table and
    the evolution of topics per year.

    \b
    Examples:
      patscape export corpus/ --format html --out landscape.html
      patscape export corpus/ --run 2 --format parquet --out topics.parquet
      patscape export corpus/ --format milvus --uri out/landscape.db
      patscape export corpus/ --format milvus --uri milvus://milvus.internal:19530 --replace
    """
    from .export import export_run

    if fmt == "milvus":
        _export_milvus(store, run_id, uri, collection, space, replace)
        return
    if out is None:
        raise InputError(f"--format {fmt} needs --out FILE")
    with _store(store) as db:
        path = export_run(db, fmt, out, run_id)
    click.echo(f"wrote {path.resolve()}")


def _export_milvus(store: str, run_id: int | None, uri: str | None, collection: str | None, space: str | None,
                   replace: bool) -> None:
    from .pipeline import pick_space
    from .vectors.milvus import export_to_milvus

    if not uri:
        raise InputError("--format milvus needs --uri (PATH.db for Milvus Lite, milvus://HOST:PORT for a server)")
    with _store(store) as db:
        if space is None and run_id is not None:
            space = db.get_run(run_id).space
        chosen = pick_space(db, space)
        update, close = _progress(db.count_vectors(chosen.key), "vec", "export")
        try:
            report = export_to_milvus(db, chosen, uri, collection, replace=replace, progress=update)
        finally:
            close()
    click.echo(f"exported {report.vectors} vectors ({report.dims} dims, {report.space}) to {report.target}, collection "
               f"{report.collection} ({report.rows} rows, {report.index} index{', replaced' if report.replaced else ''}) "
               f"in {report.seconds:.1f} s")
    if report.prefixes_cut:
        click.echo(f"note: {report.prefixes_cut} documents have more than 4096 code prefixes; the longest were left out",
                   err=True)


# -- info --------------------------------------------------------------------------------------
@cli.command()
@click.argument("store", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def info(store: str, as_json: bool) -> None:
    """Counts, languages, embedding spaces (with chunking and truncation), runs and their metrics.

    \b
    Examples:
      patscape info corpus/
      patscape info corpus/ --json | jq '.runs[-1].metrics.code_agreement'
    """
    with _store(store) as db:
        spaces = []
        for s in db.spaces():
            progress = db.space_progress(s)
            spaces.append({
                "key": s.key, "model": s.model, "dims": s.dims, "fingerprint": s.fingerprint, "params": s.params,
                "state": "complete" if s.complete else "in progress", "completed_at": s.completed_at,
                "embedded": progress.embedded, "missing": progress.missing,
                **db.chunk_stats(s.key), **db.passage_stats(s.key), "vector_files": _vector_files(db, s),
            })
        runs = [{"id": r.id, "space": r.space, "seed": r.seed, "created_at": r.created_at, "metrics": r.metrics,
                 "params": r.params} for r in db.runs()]
        jobs = [{"id": i, "state": st, "created_at": c, "finished_at": f, "message": d.get("message")}
                for i, st, c, f, d in db.jobs(limit=20)]
        summary = {"store": str(Path(store).resolve()), "documents": db.count_documents(),
                   "languages": db.language_counts(), "ids": db.id_sources(), "spaces": spaces, "runs": runs,
                   "upload_jobs": jobs}
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=1))
        return
    click.echo(f"store      {summary['store']}")
    langs = ", ".join(f"{k} {v}" for k, v in summary["languages"].items())
    click.echo(f"documents  {summary['documents']} ({langs})")
    made = {"data": "from the source records", "path": "from file paths", "content": "from content (name taken)"}
    click.echo("ids        " + ", ".join(f"{n} {made.get(k, k)}" for k, n in summary["ids"].items()))
    for s in spaces:
        chosen = f" (default: {s['params']['default']})" if s["params"].get("default") else ""
        fields = "+".join(s["params"].get("fields", []))
        if s["state"] == "complete":
            state = "complete" + (f", {s['missing']} newer documents not embedded yet" if s["missing"] else "")
        else:
            state = f"IN PROGRESS: {s['embedded']} of {s['embedded'] + s['missing']} documents, {s['missing']} missing"
        click.echo(
            f"space      {s['key']} [{state}]: {s['model']}{chosen}, {s['dims']} dims, {s['vectors']} vectors of {fields}; "
            f"{s['multi_chunk_docs']} multi-chunk docs (max {s['max_chunks']} chunks), "
            f"{s['truncated_docs']} truncated ({s['truncated_tokens']} tokens left out)"
        )
        if s["params"].get("passages"):
            per_doc = (s["vector_bytes"] + s["passage_bytes"]) / max(s["vectors"], 1)
            click.echo(
                f"           passages: {s['passages']} of {s['docs_with_passages']} documents "
                f"({s['params']['passages']['window']} tokens each), {s['docs_with_passages_cut']} documents cut by "
                f"the cap ({s['passage_tokens_cut']} tokens left out); vectors stored: {per_doc / 1024:.1f} KiB per document"
            )
        files = s["vector_files"]
        if files is None:
            click.echo("           vector files: not written yet (the first search writes them; or `patscape index`)")
        else:
            index = f"ANN index over {files['indexed']:,} rows" if files["indexed"] else "exact search (no ANN index)"
            behind = f", {files['behind']:,} changes to apply" if files["behind"] else ""
            click.echo(f"           vector files: {files['live']:,} live rows of {files['rows']:,}, {files['dtype']}; {index}{behind}")
    for r in runs:
        click.echo(f"run {r['id']:<6} space {r['space']}, seed {r['seed']}: {_run_summary(r['metrics'])}")
    unfinished = [j for j in jobs if j["state"] in ("queued", "running")]
    failed = [j for j in jobs if j["state"] == "failed"]
    if jobs:
        click.echo(f"uploads    {len(jobs)} recent jobs, {len(unfinished)} unfinished, {len(failed)} failed"
                   + (f" (last failure: {failed[-1]['message']})" if failed else ""))


# -- models ------------------------------------------------------------------------------------
@cli.command()
def models() -> None:
    """List the embedding models and backends patscape knows.

    \b
    Examples:
      patscape models
      patscape embed corpus/ --model st:~/models/Qwen3-Embedding-0.6B
    """
    from .embed import ALIASES, MODELS
    from .embed.profiles import FAMILIES

    for name, description in MODELS.items():
        click.echo(f"{name:<18} {description}")
    click.echo("aliases: " + ", ".join(f"{a} -> {t}" for a, t in ALIASES.items() if a != t))
    click.echo("\nprofiles (detected from the model, or --profile NAME):")
    seen = set()
    for family, profile in FAMILIES.items():
        if id(profile) in seen:
            continue
        seen.add(id(profile))
        dims = f"MRL dims {profile.min_dims}+" if profile.matryoshka else "no MRL"
        query = profile.templates.get("query", "{text}")
        document = profile.templates.get("document", "{text}")
        click.echo(
            f"  {family:<10} {profile.pooling} pooling, {profile.max_tokens} tokens, {dims}, "
            f"{'multilingual' if profile.multilingual else 'English'}; query {query!r}, document {document!r}"
        )


# -- demo --------------------------------------------------------------------------------------
@cli.command()
@click.option("--input", "input_", type=click.Path(exists=True), default=None,
              help="Patent file to map (default: the sample of 1,000 US patents shipped with patscape).")
@click.option("--workdir", type=click.Path(), default="out/demo", show_default=True, help="Where the store and report go.")
@click.option("--model", "-m", default="auto", show_default=True,
              help="auto: all-MiniLM-L6-v2 for English-only input, use-multilingual otherwise.")
@click.option("--seed", type=int, default=42, show_default=True)
def demo(input_: str | None, workdir: str, model: str, seed: int) -> None:
    """The main job in one go: ingest a patent file, embed, map, and write the HTML report.

    \b
    Examples:
      patscape demo                                   # the packaged sample of 1,000 US patents
      patscape demo --input patents.jsonl --workdir out/mine
    """
    from .export import export_run
    from .pipeline import build_map, embed as run_embed, ingest as run_ingest, resolve_model

    source = Path(input_) if input_ else Path(__file__).parent / "data" / "sample-us-patents.jsonl"
    work = Path(workdir)
    with _store(str(work / "store"), create=True) as db:
        click.echo(f"1/4 ingest {source}")
        report = run_ingest(db, [source], on_problem=_echo_problem)
        click.echo(f"    {report.added} added, {report.unchanged} unchanged, {len(report.problems)} skipped")
        model, why = resolve_model(db, model)
        click.echo(f"2/4 embed with {model}" + (f" ({why})" if why else ""))
        bar: dict[str, Any] = {}

        def start(total: int) -> None:
            bar["update"], bar["close"] = _progress(total, "doc", "    embed")

        try:
            embedded = run_embed(db, model, on_start=start, progress=lambda n: bar["update"](n),
                                 auto_reason=why)
        finally:
            if "close" in bar:
                bar["close"]()
        for warning in embedded.warnings:
            click.echo(f"    warning: {warning}", err=True)
        click.echo("3/4 map (UMAP + HDBSCAN + labels + metrics)")
        run_id = build_map(db, embedded.space.key, seed=seed)
        click.echo("    " + _run_summary(db.get_run(run_id).metrics))
        click.echo("4/4 export")
        report_path = export_run(db, "html", work / "report.html", run_id).resolve()
        table_path = export_run(db, "csv", work / "topics.csv", run_id).resolve()
    click.echo(f"\nreport: {report_path}\n  open it in a browser: file://{report_path}")
    click.echo(f"table:  {table_path}")
    click.echo(f"store:  {(work / 'store').resolve()}  (try: patscape search {work / 'store'} \"satellite antenna\")")


# -- serve -------------------------------------------------------------------------------------
from .api.cli import serve  # noqa: E402  (imports click only; the server's packages load when it runs)

cli.add_command(serve)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn errors into one-line messages and exit codes."""
    try:
        cli.main(args=argv, prog_name="patscape", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("patscape: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except PatscapeError as exc:
        click.echo(f"patscape: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("patscape: interrupted; committed work is kept, run the same command to resume", err=True)
        return 130
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            busy = StoreBusyError()
            click.echo(f"patscape: error: {busy}", err=True)
            return busy.exit_code
        if os.environ.get("PATSCAPE_DEBUG"):
            raise
        click.echo(f"patscape: internal error: {type(exc).__name__}: {exc} (PATSCAPE_DEBUG=1 shows the traceback)", err=True)
        return 3
    except Exception as exc:  # the edge: never a traceback for the user unless asked
        if os.environ.get("PATSCAPE_DEBUG"):
            raise
        click.echo(f"patscape: internal error: {type(exc).__name__}: {exc} (PATSCAPE_DEBUG=1 shows the traceback)", err=True)
        return 3
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
