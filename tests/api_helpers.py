"""Helpers of the server tests: a mapped test store (built once per session) and live servers.

Servers run in the test process (uvicorn in a background thread, on a free loopback port) so
that tests can hand the app a model loader of their own; :func:`live_server` starts one,
waits for it to answer, and stops it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from patscape.api import Settings, create_app

REPO = Path(__file__).resolve().parents[1]
DEV_CORPUS = REPO.parent / "shared" / "data" / "patents-dev.jsonl"
#: A patent whose title and abstract try to run a script in the UI.
HOSTILE = {
    "id": "XSS-1",
    "title": "<script>window.__pwned = 1</script> Antenna <img src=x onerror=\"window.__pwned = 2\">",
    "abstract": "A phased array antenna <b>with</b> <script>window.__pwned = 3</script> beam steering "
                "for satellite communication terminals, with a radome and a feed network.",
    "lang": "en",
    "date": "2015-03-03",
    "cpc": ["H01Q3/26"],
    "ipc": ["H01Q3/26"],
    "assignee": "<i>Mallory</i> Corp",
}
_STORES: dict[str, Path] = {}


def slice_records(n: int = 200) -> list[dict[str, Any]]:
    """``n`` English patents spread evenly over the dev corpus."""
    with DEV_CORPUS.open(encoding="utf-8") as handle:
        english = [r for r in (json.loads(line) for line in handle) if r.get("lang") == "en"]
    step = max(1, len(english) // n)
    return english[::step][:n]


def mapped_store(root: Path, model: str = "minilm", n: int = 200) -> Path:
    """A store of ``n`` dev patents plus :data:`HOSTILE`, embedded with ``model`` and mapped.

    Built once per process and model (``root`` is a session temp dir), never inside the repo.
    """
    key = f"{model}:{n}"
    if key in _STORES:
        return _STORES[key]
    from patscape.landscape import MapParams
    from patscape.pipeline import build_map, embed, ingest
    from patscape.store import Store

    path = root / f"store-{model.replace(':', '-')}-{n}"
    source = root / f"slice-{n}.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for record in slice_records(n) + [HOSTILE]:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    with Store(path, create=True) as store:
        ingest(store, [source])
        embed(store, model)
        build_map(store, params=MapParams(min_cluster_size=8), seed=7)
    _STORES[key] = path
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    app: Any
    settings: Settings

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)


@contextmanager
def live_server(settings: Settings, *, loader: Any = None, wait_ready: bool = True, timeout: float = 300) -> Iterator[LiveServer]:
    """Run the app for ``settings`` on a free loopback port until the block ends."""
    port = free_port()
    settings = Settings(**{**_fields(settings), "host": "127.0.0.1", "port": port})
    app = create_app(settings, loader=loader)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while not server.started:  # bounded readiness polling
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server on port {port} did not start")
            time.sleep(0.05)
        if wait_ready:
            with httpx.Client(base_url=url, timeout=10) as http:
                while http.get("/health").status_code != 200:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the test server's model did not load in time")
                    time.sleep(0.1)
        yield LiveServer(url, app, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has ``status`` and an OpenAI-shaped error body; returns the error object."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code, error
    return error


def wait_for(page: Any, expression: str, arg: Any = None, timeout: float = 60_000) -> None:
    """Poll ``expression`` (a JS expression, or a function of ``arg``) until it is truthy.

    Playwright's ``page.wait_for_function`` evaluates its predicate with the page's ``eval``, which
    the UI's Content-Security-Policy forbids; ``page.evaluate`` runs outside the page's CSP.
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout / 1000:.0f} s waiting for {expression}")
        time.sleep(0.05)


def copy_store(source: Path, root: Path) -> Path:
    """A private copy of a built store, so that a test module's uploads stay its own."""
    import shutil

    target = root / source.name
    shutil.copytree(source, target)
    return target


def map_labels(page: Any) -> list[str]:
    """The texts of the topic labels drawn on the map (``#map``), after checking that there are
    some and that none covers another or the legend by more than a pixel each way (boxes on the page: a label's
    background, the legend's whole group)."""
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll('#map g.annotation, #map .legend')).map(g => {
              const legend = g.classList.contains('legend');
              const r = (legend ? g : g.querySelector('rect.bg')).getBoundingClientRect();
              return {text: legend ? 'legend' : g.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom};
            })"""
    )
    covered = [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
               if min(a["r"], b["r"]) - max(a["l"], b["l"]) > 1 and min(a["b"], b["b"]) - max(a["t"], b["t"]) > 1]
    assert not covered, covered
    labels = [b["text"] for b in boxes if b["text"] != "legend"]
    assert labels and len(boxes) == len(labels) + 1  # and the legend
    return labels
