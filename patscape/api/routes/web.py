"""The web UI: static files from ``patscape/web`` and plotly.js from the installed ``plotly``.

Nothing is loaded from the internet: the Content-Security-Policy allows scripts, styles and
requests to this server only ('unsafe-eval' is for plotly's WebGL code generation).
"""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from plotly.offline import get_plotlyjs

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
CSP = "; ".join([  # noqa: FLY002 - one directive per line
    "default-src 'self'",
    "script-src 'self' 'unsafe-eval'",
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
    return get_plotlyjs().encode("utf-8")


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/static/plotly.min.js")
async def plotly() -> Response:
    return Response(plotly_js(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR, html=False)
