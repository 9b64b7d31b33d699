"""The app factory: ``create_app(settings)`` builds one FastAPI app; nothing is global.

The model loads in the lifespan hook, in the background (``/health`` is 503 until it is
ready); the corpus (when a store is given) is opened at once so that a wrong path fails
before the server starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware

from .. import __version__
from .corpus import Corpus
from .deps import require_api_key
from .engine import Engine, Loader
from .errors import install_error_handlers
from .jobs import Jobs, UploadLimits
from .limits import BodyLimit
from .metrics import Metrics
from .routes import documents, embeddings, health, ollama, runs, search, uploads, web
from .security import RequestGuard, cors_middleware
from .settings import Settings

DESCRIPTION = """\
patscape's server: OpenAI- and Ollama-compatible embeddings of the served model (dynamically
batched), the corpus API (search, documents, runs, topics, map, evolution, topic graph,
uploads) and the web UI at `/`. Errors are shaped like OpenAI's:
`{"error": {"message", "type", "param", "code"}}`.
"""


def create_app(settings: Settings, *, loader: Loader | None = None) -> FastAPI:
    """Build the app for ``settings``.

    ``loader(name) -> Embedder`` loads the model (default: :func:`patscape.embed.load_embedder`);
    tests pass their own to control timing or model properties.
    """
    settings = settings.validate()
    metrics = Metrics()
    engine = Engine(settings, metrics, loader)
    corpus = Corpus(settings.store, engine) if settings.store is not None else None
    limits = UploadLimits(max_files=settings.max_upload_files, max_queued=settings.max_jobs,
                          max_decompressed_bytes=settings.max_upload_expanded_bytes, max_pdf_pages=settings.max_pdf_pages)
    jobs = Jobs(corpus, limits) if corpus is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine.start()
        try:
            yield
        finally:
            await engine.stop()
            if jobs is not None:
                jobs.shutdown()
            if corpus is not None:
                corpus.close()  # the --vector-store client, after the last upload job wrote to it

    app = FastAPI(title="patscape", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.engine = engine
    app.state.corpus = corpus
    app.state.jobs = jobs
    install_error_handlers(app)

    protected = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(embeddings.router, dependencies=protected)
    app.include_router(ollama.router, dependencies=protected)
    app.include_router(search.router, dependencies=protected)
    app.include_router(runs.router, dependencies=protected)
    app.include_router(documents.router, dependencies=protected)
    app.include_router(uploads.router, dependencies=protected)
    app.include_router(web.router)
    app.mount("/static", web.static_files(), name="static")

    def body_limit(path: str) -> int:
        return settings.max_upload_bytes if path.rstrip("/") == "/corpus/uploads" else settings.max_body_bytes

    # Outermost last: metrics see every answer (refusals too), the Host and cross-site checks run
    # before anything else (CORS preflights included), the limit runs before any body is read.
    app.add_middleware(GZipMiddleware, minimum_size=4096)
    app.add_middleware(BodyLimit, limit_for=body_limit)
    if settings.allowed_origins:
        app.add_middleware(cors_middleware, allowed_origins=settings.allowed_origins)  # type: ignore[arg-type]
    app.add_middleware(RequestGuard, bind_host=settings.host, allowed_hosts=settings.allowed_hosts,
                       allowed_origins=settings.allowed_origins)
    app.add_middleware(metrics.middleware)  # type: ignore[arg-type]
    return app
