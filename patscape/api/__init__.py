"""patscape's HTTP server: embeddings (OpenAI and Ollama APIs), the corpus API and the web UI.

``create_app(settings)`` builds the FastAPI app; ``patscape serve`` runs it with uvicorn. The
server needs the ``serve`` extra (FastAPI, uvicorn, python-multipart, prometheus-client);
importing this package does not, so the command line stays fast and can name what is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError
from .settings import LONG_INPUTS, LongInputs, Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["LONG_INPUTS", "LongInputs", "Settings", "check_serve_extra", "create_app"]
#: What ``patscape serve`` imports of the ``serve`` extra, in the order it checks them.
SERVE_IMPORTS = ("fastapi", "starlette", "uvicorn", "multipart", "prometheus_client")
#: Import names of the ``serve`` extra's packages (python-multipart's newer name too).
SERVE_PACKAGES = frozenset({*SERVE_IMPORTS, "python_multipart"})


def check_serve_extra() -> None:
    """Raise :class:`MissingDependencyError` naming the first package of the ``serve`` extra that
    cannot be imported (``patscape serve`` calls it before anything else)."""
    for name in SERVE_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise MissingDependencyError(name, "serve") from exc


def create_app(settings: Settings, **kwargs: Any) -> FastAPI:
    """Build the app (see :func:`patscape.api.app.create_app`); names the extra when it is missing."""
    try:
        from .app import create_app as build
    except ImportError as exc:
        if exc.name not in SERVE_PACKAGES:
            raise
        raise MissingDependencyError(exc.name, "serve") from exc
    return build(settings, **kwargs)
