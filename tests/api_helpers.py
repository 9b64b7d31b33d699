"""Helpers of the server tests: a mapped test store (built once per session), live servers and
the browser of the web UI tests.

Servers run in the test process (uvicorn in a background thread, on a free loopback port) so
that tests can hand the app a model loader of their own; :func:`live_server` starts one,
waits for it to answer, and stops it.

The browser is Debian's Chromium (``/usr/bin/chromium``, which ``scripts/test.sh`` installs),
driven by Playwright (in the ``dev`` extra); :func:`chromium` fails the test, naming the install
command, when it is missing: never a skip. The served UI's tests (``test_web*.py``) share the
:func:`browser` and :func:`ui` fixtures and :class:`Page` from here.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
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


# -- the browser -----------------------------------------------------------------------------------
#: Debian's Chromium: scripts/test.sh installs it; never a browser downloaded by a test tool.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_executable() -> str:
    """:data:`CHROMIUM`; a missing one fails the calling test (setup) with the command that installs it."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium with `sudo apt-get install chromium` "
                    "(scripts/test.sh does; never `playwright install`)", pytrace=False)
    return CHROMIUM


@contextmanager
def chromium(profile: Path | None = None, **context_options: Any) -> Iterator[Any]:
    """Headless :data:`CHROMIUM` through Playwright until the block ends: a Browser, or with
    ``profile`` a persistent BrowserContext of that profile directory (``context_options`` such as
    ``viewport`` are its pages' defaults)."""
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright  # the dev extra: a missing Playwright is an error

    with sync_playwright() as playwright:
        if profile is None:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        else:
            browser = playwright.chromium.launch_persistent_context(
                str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS, **context_options)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The served UI's browser (test_web*.py): a persistent context whose pages are 1400 x 1000."""
    with chromium(tmp_path_factory.mktemp("chromium-profile"), viewport={"width": 1400, "height": 1000}) as context:
        yield context


class Page:
    """A loaded UI page and what it did: console errors, page errors, requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("request", lambda request: self.requests.append(request.url))

    def points(self) -> list[dict[str, Any]]:
        """Every point of the map's point traces: id, trace name, pixel position on the page."""
        return self.page.evaluate(
            """() => {
              const gd = document.getElementById('map');
              const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
              const out = [];
              gd.data.forEach(t => {
                if (t.meta !== 'points') return;
                t.customdata.forEach((id, i) => out.push({
                  id: id, trace: t.name, hover: t.hovertext[i],
                  px: box.left + xa._offset + xa.l2p(t.x[i]), py: box.top + ya._offset + ya.l2p(t.y[i])}));
              });
              return out;
            }"""
        )

    def overlay(self, name: str) -> list[str]:
        return self.page.evaluate(
            "(name) => (document.getElementById('map').data.find(t => t.meta === 'overlay:' + name) || {customdata: []}).customdata",
            name,
        )

    def click_point(self, point_id: str) -> None:
        point = next(p for p in self.points() if p["id"] == point_id)
        self.page.mouse.move(point["px"], point["py"])
        self.page.mouse.click(point["px"], point["py"])
        wait_for(self.page, "(id) => document.body.dataset.selected === id", arg=point_id, timeout=30_000)


@pytest.fixture
def ui(browser: Any, server: LiveServer) -> Iterator[Page]:
    """The UI of the module's ``server`` fixture, loaded; afterwards: nothing ran from a patent's
    text, no script error, no request left the server."""
    page = Page(browser.new_page())
    page.page.goto(server.url + "/")
    page.page.wait_for_selector("body[data-ready=yes]", timeout=60_000)
    yield page
    try:
        assert page.page.evaluate("window.__pwned") is None, "a patent's text ran as a script"
        assert not page.errors, page.errors
        outside = [url for url in page.requests if not url.startswith(server.url) and not url.startswith("data:")]
        assert not outside, outside  # nothing from the internet
    finally:
        page.page.close()
