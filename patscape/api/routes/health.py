"""``/health`` (ready once the model is loaded; always open, for probes) and Prometheus ``/metrics``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from ... import __version__
from ..deps import EngineDep, require_metrics_key

router = APIRouter(tags=["operations"])


class HealthPublic(BaseModel):
    status: Literal["ok", "loading", "failed"]
    model: str
    version: str
    queue: int
    error: str | None = None


@router.get("/health", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
async def health(engine: EngineDep) -> JSONResponse:
    """200 once the model is loaded; 503 while it loads or if it failed to."""
    status = {"ready": "ok", "loading": "loading", "failed": "failed"}[engine.state]
    body = HealthPublic(status=status, model=engine.model_id, version=__version__,  # type: ignore[arg-type]
                        queue=engine.batcher.depth if engine.batcher else 0, error=engine.error)
    headers = {} if status == "ok" else {"Retry-After": "2"}
    return JSONResponse(body.model_dump(), status_code=200 if status == "ok" else 503, headers=headers)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            dependencies=[Depends(require_metrics_key)])
async def metrics(request: Request) -> Response:
    """Wants the API key when the server has one, unless it runs with ``--public-metrics``."""
    return request.app.state.metrics.render()  # type: ignore[no-any-return]
