"""``patscape serve``: the embeddings API, the corpus API and the web UI in one server."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from ..spaces import default_model
from ..store import Store
from . import check_serve_extra, create_app
from .settings import LONG_INPUTS, Settings

EPILOG = """\b
Examples:
  patscape serve corpus/                          # http://127.0.0.1:8000/ (the map)
  patscape serve corpus/ --port 9000 --api-key "$KEY"
  patscape serve corpus/ --model st:~/models/Qwen3-Embedding-0.6B --long-inputs reject
  patscape serve corpus/ --host 0.0.0.0 --api-key "$KEY" --allow-host host.docker.internal

\b
Clients:
  OpenAI      base_url=http://127.0.0.1:8000/v1        model=use-multilingual (the store's model: GET /v1/models)
  Ollama      OLLAMA_BASE_URL=http://127.0.0.1:8000    model=use-multilingual
See docs/serving.md for Open WebUI, LangChain, LlamaIndex and Elasticsearch, and for who
can reach which route ("Who can reach what").
"""


@click.command(epilog=EPILOG)
@click.argument("store", type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", "-m", default="auto", show_default=True,
              help="Embedding model served and used for queries and uploads (see `patscape models`); auto: the "
                   "model of the store's newest embedding space, else the corpus default (see `patscape embed`).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@click.option("--api-key", envvar="PATSCAPE_API_KEY", default=None,
              help="Require `Authorization: Bearer KEY` on the API (also from $PATSCAPE_API_KEY).")
@click.option("--max-batch", type=int, default=32, show_default=True, help="Texts per model call (dynamic batching).")
@click.option("--max-batch-tokens", type=int, default=1024, show_default=True,
              help="Tokens per model call (a longer text goes alone); on a CPU small batches of long texts are faster.")
@click.option("--queue-size", type=int, default=4096, show_default=True,
              help="Texts that may wait for the model; more is answered with 429 and Retry-After.")
@click.option("--max-inputs", type=int, default=2048, show_default=True, help="Inputs per embeddings request.")
@click.option("--max-tokens", type=int, default=8192, show_default=True, help="Tokens per input, at most.")
@click.option("--long-inputs", type=click.Choice(LONG_INPUTS), default="chunk", show_default=True,
              help="Inputs longer than the model's window: split and pool (chunk) or refuse with 400 (reject).")
@click.option("--max-body", "max_body_bytes", type=int, default=16 * 1024 * 1024, show_default=True,
              help="Largest JSON request body in bytes (413 above).")
@click.option("--max-upload", "max_upload_bytes", type=int, default=256 * 1024 * 1024, show_default=True,
              help="Largest document upload in bytes.")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Also answer requests made to this host name (the Host header; loopback names and the --host "
                   "address always work); repeatable; * turns the DNS-rebinding check off.")
@click.option("--allow-origin", "allowed_origins", multiple=True, metavar="ORIGIN",
              help="Let web pages of this origin (e.g. http://localhost:3000) send writes and read answers (CORS); "
                   "repeatable. Other sites' pages are refused with 403.")
@click.option("--max-jobs", type=int, default=8, show_default=True,
              help="Upload jobs that may wait or run at once; more uploads are answered with 429.")
@click.option("--max-upload-files", type=int, default=1000, show_default=True, help="Files in one upload (413 beyond).")
@click.option("--max-upload-expanded", "max_upload_expanded_bytes", type=int, default=2 * 1024**3, show_default=True,
              help="Bytes a compressed uploaded file may expand to (gzip bombs stop there).")
@click.option("--max-pdf-pages", type=int, default=500, show_default=True, help="Pages read from one uploaded PDF.")
@click.option("--public-metrics", is_flag=True, default=False,
              help="Serve /metrics without the API key (default: it wants the key when one is set).")
@click.option("--vector-store", default=None, metavar="URI",
              help="Rank corpus searches, neighbours and upload placement by the document vectors exported there, "
                   "and write uploads to it (text queries of a space with passages are refused): "
                   "milvus:PATH.db?collection=NAME (Milvus Lite) or milvus://HOST:PORT?collection=NAME (see docs/scale.md).")
def serve(store: Path, model: str, host: str, port: int, api_key: str | None, max_batch: int, max_batch_tokens: int,
          queue_size: int, max_inputs: int, max_tokens: int, long_inputs: str, max_body_bytes: int, max_upload_bytes: int,
          max_jobs: int, max_upload_files: int, max_upload_expanded_bytes: int, max_pdf_pages: int,
          allowed_hosts: tuple[str, ...], allowed_origins: tuple[str, ...], public_metrics: bool,
          vector_store: str | None) -> None:
    """Serve STORE: embeddings (OpenAI /v1/embeddings, Ollama /api/embed), the corpus API and the map UI.

    The model loads in the background; /health answers 200 once it is ready. The API is
    described at /docs (OpenAPI); Prometheus metrics are at /metrics.
    """
    check_serve_extra()
    if not (store / "patscape.sqlite").exists():
        raise InputError(f"{store} is not a patscape store; run `patscape ingest {store} FILES` first")
    if model == "auto":
        model = served_default(store)
    settings = Settings(
        store=store, model=model, api_key=api_key, max_batch=max_batch, max_batch_tokens=max_batch_tokens,
        queue_size=queue_size, max_inputs=max_inputs,
        max_tokens_per_input=max_tokens, long_inputs=long_inputs, max_body_bytes=max_body_bytes,  # type: ignore[arg-type]
        max_upload_bytes=max_upload_bytes, host=host, port=port, allowed_hosts=tuple(allowed_hosts),
        allowed_origins=tuple(allowed_origins), public_metrics=public_metrics, max_jobs=max_jobs,
        max_upload_files=max_upload_files, max_upload_expanded_bytes=max_upload_expanded_bytes, max_pdf_pages=max_pdf_pages,
        vector_store=vector_store,
    ).validate()
    warning = exposure_warning(host, api_key is not None, "*" in allowed_hosts)
    if warning:
        click.echo(warning, err=True)
    import uvicorn  # the serve extra, checked above

    app = create_app(settings)
    click.echo(f"patscape: serving {store} with {model} on http://{host}:{port}/ (model loading ...)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)


def exposure_warning(host: str, has_key: bool, any_host: bool) -> str | None:
    """The one-line warning for a server that others can reach without a key, else None."""
    from .security import is_loopback, is_wildcard

    if has_key:
        return None
    if is_wildcard(host):
        return (f"warning: listening on every address of this machine ({host or 'all'}) without --api-key: anyone "
                "on your network can read the corpus, add documents and use the model; set --api-key")
    if not is_loopback(host):
        return (f"warning: listening on {host}, which is not a loopback address, without --api-key: anyone who "
                "reaches it can read the corpus, add documents and use the model; set --api-key")
    if any_host:
        return ("warning: --allow-host * turns the DNS-rebinding check off and the server has no --api-key: "
                "any web page can read and change the corpus through a rebound name; set --api-key")
    return None


def served_default(store: Path) -> str:
    """The model ``serve --model auto`` serves: that of the current map's space, else of the
    newest complete space, else the newest space's, else the corpus default."""
    with Store(store, create=False) as db:
        run = db.newest_run()
        if run is not None:
            return db.get_space(run.space).model
        spaces = db.spaces()
        complete = [s for s in spaces if s.complete]
        return (complete or spaces)[-1].model if spaces else default_model(db)[0]
