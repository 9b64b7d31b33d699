"""The web UI: static files from ``patscape/web``, plotly.js included.

Nothing is loaded from the internet: the Content-Security-Policy allows scripts, styles and
requests to this server only, and no ``eval``. plotly.js draws maps of more than 20,000 points
with WebGL, which works without ``eval`` only in plotly's "strict" build (its WebGL code is
precompiled): patscape ships that build (``patscape/web/plotly-strict.min.js``, MIT licensed) and
serves it as ``/static/plotly.min.js``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
CSP = "; ".join([  # noqa: FLY002 - one directive per line
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@functools.lru_cache(maxsize=1)
def plotly_js() -> bytes:
    return (WEB_DIR / "plotly-strict.min.js").read_bytes()


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/static/plotly.min.js")
async def plotly() -> Response:
    return Response(plotly_js(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR, html=False)
