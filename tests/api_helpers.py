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

import html
import json
import math
import re
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


def open_page(browser: Any, url: str, ready: str = "document.body.dataset.ready === 'yes'") -> Page:
    """A new page of ``browser`` at ``url``, once ``ready`` holds."""
    page = Page(browser.new_page())
    page.page.goto(url)
    wait_for(page.page, ready)
    return page


@contextmanager
def checked_page(browser: Any, url: str, no_images_in: str) -> Iterator[Page]:
    """:func:`open_page`, then, when the test is done: no name ran as a script, the page logged
    no error and no ``img`` appeared in ``no_images_in`` (a CSS selector list)."""
    page = open_page(browser, url)
    yield page
    try:
        assert page.page.evaluate("window.__pwned") is None, "a name ran as a script"
        assert not page.errors, page.errors
        assert page.page.locator(no_images_in).count() == 0
    finally:
        page.page.close()


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


# -- the map's topic labels ------------------------------------------------------------------------
#: The placement rule of the map's topic labels (patscape/web/map.js, "topic labels"): the labels
#: of the MAX_LABELS largest topics whose centre is in view (clipped to LABEL_CHARS characters),
#: in order of size, each at its topic's centre, else just above, else just below, wherever its box
#: covers neither a label placed before nor the legend; the others are left out.
MAX_LABELS, LABEL_CHARS, LABEL_FONT = 30, 30, 11
#: map.js estimates a label's box: wide characters take the font size, others 0.6 of it
_WIDE = re.compile("[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
                   "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]")
#: What the labels were placed against: the plot area in pixels, the data ranges it shows, the
#: legend's box (relative to the plot area); and what the map drew: its annotations.
_MAP_STATE = """() => {
  const gd = document.getElementById('map'), fl = gd._fullLayout, box = gd.getBoundingClientRect();
  const legend = gd.querySelector('.legend'), ox = box.left + fl._size.l, oy = box.top + fl._size.t;
  const lb = legend && legend.getBoundingClientRect();
  return {w: fl._size.w, h: fl._size.h, x: fl.xaxis.range.slice(), y: fl.yaxis.range.slice(),
          legend: lb ? {l: lb.left - ox, r: lb.right - ox, t: lb.top - oy, b: lb.bottom - oy} : null,
          active: window.patscape.state.activeTopic,
          drawn: (gd.layout.annotations || []).map(a => ({x: a.x, y: a.y, yshift: a.yshift, text: a.text}))};
}"""


def _median(values: list[float]) -> float:
    v, m = sorted(values), len(values) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2


def _clip(text: str, n: int) -> str:
    assert all(ord(ch) <= 0xFFFF for ch in text), text  # JavaScript's length counts UTF-16 units
    return text[: n - 1] + "\u2026" if len(text) > n else text


def expected_map_labels(state: dict[str, Any], points: list[tuple[float, float, int, bool]],
                        labels: dict[int, str]) -> list[dict[str, Any]]:
    """The annotations the map should draw by the placement rule (see :data:`MAX_LABELS`), worked
    out here from ``points`` (x, y, cluster, placed: the map's data), the topics' ``labels`` and
    the geometry in ``state`` (read with :data:`_MAP_STATE`). A topic's centre is the median of
    its points that were not placed since the map was built (map.js takes the median of at most
    4,000 of them, so every topic here must have fewer); its size is their number."""
    assert state["active"] is None  # the rule puts an active topic's label first; not modelled here
    members: dict[int, tuple[list[float], list[float]]] = {}
    for x, y, cluster, placed in points:
        if cluster >= 0 and not placed and math.isfinite(x) and math.isfinite(y):
            xs, ys = members.setdefault(cluster, ([], []))
            xs.append(x)
            ys.append(y)
    assert all(len(xs) <= 4000 for xs, _ in members.values())
    centres = {c: (_median(xs), _median(ys)) for c, (xs, ys) in members.items()}
    (x0, x1), (y0, y1) = sorted(state["x"]), sorted(state["y"])
    sx, sy = state["w"] / ((x1 - x0) or 1), state["h"] / ((y1 - y0) or 1)
    in_view = sorted((c for c, (cx, cy) in centres.items() if x0 <= cx <= x1 and y0 <= cy <= y1),
                     key=lambda c: (-len(members[c][0]), c))
    taken = [state["legend"]] if state["legend"] else []
    out: list[dict[str, Any]] = []
    for c in in_view:
        if len(out) == MAX_LABELS:
            break
        text = _clip(labels.get(c) or f"topic {c}", LABEL_CHARS)
        width = 0.0
        for ch in text:
            width += LABEL_FONT if _WIDE.match(ch) else LABEL_FONT * 0.6
        w, h = width + 12, LABEL_FONT + 10
        px, py = (centres[c][0] - x0) * sx, (y1 - centres[c][1]) * sy
        for shift in (0, -(h + 2), h + 2):
            r = {"l": px - w / 2, "r": px + w / 2, "t": py + shift - h / 2, "b": py + shift + h / 2}
            if not any(r["l"] < o["r"] and o["l"] < r["r"] and r["t"] < o["b"] and o["t"] < r["b"] for o in taken):
                taken.append(r)
                out.append({"x": centres[c][0], "y": centres[c][1], "yshift": -shift,
                            "text": html.escape(text, quote=False)})
                break
    return out


def assert_map_labels(page: Any, points: list[tuple[float, float, int, bool]], labels: dict[int, str]) -> list[str]:
    """The map draws exactly the labels of :func:`expected_map_labels`, in that order and place,
    none covering another or the legend (:func:`map_labels`); returns their texts."""
    state = page.evaluate(_MAP_STATE)
    expected = expected_map_labels(state, points, labels)
    assert state["drawn"] == expected, (state["drawn"], expected)
    shown = map_labels(page)
    assert shown == [html.unescape(a["text"]) for a in expected]
    return shown

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
