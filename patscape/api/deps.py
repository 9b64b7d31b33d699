"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from .corpus import Corpus
from .engine import Engine
from .errors import ApiError
from .jobs import Jobs
from .settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def get_corpus(request: Request) -> Corpus:
    corpus = request.app.state.corpus
    if corpus is None:
        raise ApiError(404, "this server was started without a store; the corpus API is off", code="no_store")
    return corpus  # type: ignore[no-any-return]


def get_jobs(request: Request) -> Jobs:
    get_corpus(request)
    return request.app.state.jobs  # type: ignore[no-any-return]


def require_api_key(request: Request) -> None:
    """With an API key set, want ``Authorization: Bearer <key>`` (401 otherwise)."""
    key = request.app.state.settings.api_key
    if key is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not header:
        raise ApiError(401, "this server needs an API key: send `Authorization: Bearer <key>`",
                       code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
        raise ApiError(401, "incorrect API key", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def require_metrics_key(request: Request) -> None:
    """``/metrics`` wants the API key like the API does, unless the server has ``public_metrics``."""
    if not request.app.state.settings.public_metrics:
        require_api_key(request)


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
CorpusDep = Annotated[Corpus, Depends(get_corpus)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]
