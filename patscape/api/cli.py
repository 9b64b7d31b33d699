"""``patscape serve``: the embeddings API, the corpus API and the web UI in one server."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError, MissingDependencyError
from .settings import LONG_INPUTS, Settings

EPILOG = """\b
Examples:
  patscape serve corpus/                          # http://127.0.0.1:8000/ (the map)
  patscape serve corpus/ --port 9000 --api-key "$KEY"
  patscape serve corpus/ --model st:~/models/Qwen3-Embedding-0.6B --long-inputs reject

\b
Clients:
  OpenAI      base_url=http://127.0.0.1:8000/v1        model=minilm (or minilm:query)
  Ollama      OLLAMA_BASE_URL=http://127.0.0.1:8000    model=minilm
See docs/serving.md for Open WebUI, LangChain, LlamaIndex and Elasticsearch.
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
def serve(store: Path, model: str, host: str, port: int, api_key: str | None, max_batch: int, max_batch_tokens: int,
          queue_size: int, max_inputs: int, max_tokens: int, long_inputs: str, max_body_bytes: int, max_upload_bytes: int) -> None:
    """Serve STORE: embeddings (OpenAI /v1/embeddings, Ollama /api/embed), the corpus API and the map UI.

    The model loads in the background; /health answers 200 once it is ready. The API is
    described at /docs (OpenAPI); Prometheus metrics are at /metrics.
    """
    if not (store / "patscape.sqlite").exists():
        raise InputError(f"{store} is not a patscape store; run `patscape ingest {store} FILES` first")
    if model == "auto":
        model = served_default(store)
    settings = Settings(
        store=store, model=model, api_key=api_key, max_batch=max_batch, max_batch_tokens=max_batch_tokens,
        queue_size=queue_size, max_inputs=max_inputs,
        max_tokens_per_input=max_tokens, long_inputs=long_inputs, max_body_bytes=max_body_bytes,  # type: ignore[arg-type]
        max_upload_bytes=max_upload_bytes, host=host, port=port,
    ).validate()
    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        click.echo(f"warning: listening on {host} without --api-key: anyone who reaches it can use the API", err=True)
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "serve") from exc
    from . import create_app

    app = create_app(settings)
    click.echo(f"patscape: serving {store} with {model} on http://{host}:{port}/ (model loading ...)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)


def served_default(store: Path) -> str:
    """The model ``serve --model auto`` serves: the newest space's, else the corpus default."""
    from ..pipeline import default_model
    from ..store import Store

    with Store(store, create=False) as db:
        spaces = db.spaces()
        return spaces[-1].model if spaces else default_model(db)[0]
