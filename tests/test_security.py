"""Who can reach what: the Host check (DNS rebinding), the cross-site check on writes, the API
key on every API route (``/metrics`` included), the warning of ``serve`` on open addresses, the
Content-Security-Policy without ``eval``, and the web UI used with a key in headless Chromium.

Most checks go through FastAPI's TestClient with the ``hash:256`` model (no real model loads);
the UI and CSP checks run a live server or the offline report in Debian's Chromium.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from click.testing import CliRunner
from fastapi.testclient import TestClient

from patscape.api import Settings, create_app
from patscape.api.routes.web import CSP as UI_CSP
from patscape.errors import InputError
from patscape.report import WEBGL_POINTS, render_report
from patscape.store import Store

from .api_helpers import HOSTILE, assert_openai_error, chromium, copy_store, live_server, mapped_store

EMBED = {"input": "a buoyancy engine for an underwater glider", "model": "hash:256"}
#: Every route that takes a write (or a POST) and a body that is valid for it.
WRITES = {
    "/v1/embeddings": EMBED,
    "/api/embed": {"model": "hash:256", "input": ["a buoyancy engine"]},
    "/api/embeddings": {"model": "hash:256", "prompt": "a buoyancy engine"},
    "/corpus/search": {"query": "buoyancy engine", "k": 3},
    "/corpus/locate": {"text": "a buoyancy engine for a glider", "k": 3},
    "/corpus/documents": {"records": [{"id": "SEC-1", "title": "A glider"}]},
    "/corpus/uploads": None,  # multipart
    "/corpus/runs/latest/levels/0/nodes/0/name": {"name": "A field renamed"},
}
#: The writes that are not a POST.
WRITE_METHODS = {"/corpus/runs/latest/levels/0/nodes/0/name": "PUT"}
#: Collects Content-Security-Policy violations (eval included) before any page script runs.
CSP_SPY = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
           "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def wait_ready(http: TestClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while http.get("/health").status_code != 200:
        assert time.monotonic() < deadline, "the hash model did not load"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def embed_only() -> Iterator[TestClient]:
    """A server without a store, as `patscape serve` runs it: loopback, no key."""
    with TestClient(create_app(Settings(model="hash:256")), base_url="http://127.0.0.1:8000",
                    raise_server_exceptions=False) as http:
        wait_ready(http)
        yield http


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = mapped_store(tmp_path_factory.mktemp("hash-store"), "hash:256", n=120)
    return copy_store(built, tmp_path_factory.mktemp("security-store"))


def post(http: TestClient, path: str, headers: dict[str, str] | None = None) -> Any:
    body = WRITES[path]
    if body is None:
        return http.post(path, files=[("files", ("x.jsonl", b'{"id": "SEC-U1", "title": "t"}\n', "application/json"))],
                         headers=headers)
    return http.request(WRITE_METHODS.get(path, "POST"), path, json=body, headers=headers)


# -- the Host check ------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "localhost.:8000", "[::1]:8000",
                                  "127.0.0.2:9", "ui.localhost:5173"])
def test_loopback_names_and_addresses_pass_with_any_port(embed_only: TestClient, host: str) -> None:
    assert embed_only.get("/v1/models", headers={"host": host}).status_code == 200
    assert embed_only.post("/v1/embeddings", json=EMBED, headers={"host": host}).status_code == 200


@pytest.mark.parametrize("path", ["/", "/health", "/static/app.js", "/v1/models", "/metrics", "/openapi.json"])
def test_a_rebound_name_is_refused_on_every_route(embed_only: TestClient, path: str) -> None:
    # DNS rebinding: evil.example now resolves to 127.0.0.1, so the page is "same-origin" with us.
    response = embed_only.get(path, headers={"host": "evil.example:8000", "sec-fetch-site": "same-origin"})
    error = assert_openai_error(response, 403, "host_not_allowed")
    assert error["message"] == ("refused the host name 'evil.example:8000': it is not this server's (DNS rebinding "
                                "protection); start `patscape serve` with --allow-host evil.example to serve that name")


def test_a_rebound_name_cannot_write(embed_only: TestClient) -> None:
    for path in WRITES:
        response = post(embed_only, path, {"host": "evil.example:8000", "origin": "http://evil.example:8000",
                                           "sec-fetch-site": "same-origin"})
        assert_openai_error(response, 403, "host_not_allowed")


@pytest.mark.parametrize(("settings", "host", "status"), [
    ({"host": "0.0.0.0"}, "192.168.1.20:8000", 200),       # all addresses: any literal IP (cannot be rebound)
    ({"host": "0.0.0.0"}, "[fd00::5]:8000", 200),
    ({"host": "0.0.0.0"}, "patscape.lan:8000", 403),       # a name still needs --allow-host
    ({"host": "::"}, "10.1.2.3", 200),
    ({"host": "192.168.1.20"}, "192.168.1.20:8000", 200),  # the bound address
    ({"host": "192.168.1.20"}, "10.0.0.1:8000", 403),
    ({"host": "192.168.1.20"}, "localhost:8000", 200),
    ({"host": "patscape.lan"}, "Patscape.LAN:8000", 200),  # bound to a name
    ({"allowed_hosts": ("patscape.lan", "box:9000")}, "patscape.lan:1234", 200),
    ({"allowed_hosts": ("patscape.lan", "box:9000")}, "box:9000", 200),
    ({"allowed_hosts": ("patscape.lan", "box:9000")}, "box:9001", 403),
    ({"allowed_hosts": ("patscape.lan",)}, "sub.patscape.lan", 403),
    ({"allowed_hosts": ("*",)}, "evil.example", 200),
    ({}, "evil.example@127.0.0.1", 403),                    # malformed Host headers
    ({}, "127.0.0.1:99999", 403),
    ({}, "", 403),
])
def test_host_rules(settings: dict[str, Any], host: str, status: int) -> None:
    http = TestClient(create_app(Settings(model="hash:256", **settings)), raise_server_exceptions=False)
    response = http.get("/", headers={"host": host})
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"]["code"] == "host_not_allowed"


# -- the cross-site check ------------------------------------------------------------------------
REFUSED = [
    ({"sec-fetch-site": "cross-site", "origin": "https://evil.example"}, "a cross-site request from 'https://evil.example'"),
    ({"sec-fetch-site": "same-site", "origin": "http://localhost:3000"}, "a same-site request from 'http://localhost:3000'"),
    ({"sec-fetch-site": "cross-site"}, "a cross-site request from another site"),
    ({"origin": "https://evil.example"}, "a cross-origin request from 'https://evil.example'"),  # browsers without Sec-Fetch
    ({"origin": "http://127.0.0.1:9999"}, "a cross-origin request from 'http://127.0.0.1:9999'"),  # another port
    ({"origin": "null"}, "a cross-origin request from 'null'"),  # sandboxed frames, file:// pages
]


@pytest.mark.parametrize("path", list(WRITES))
@pytest.mark.parametrize(("headers", "what"), REFUSED)
def test_cross_site_writes_are_refused(embed_only: TestClient, path: str, headers: dict[str, str], what: str) -> None:
    error = assert_openai_error(post(embed_only, path, headers), 403, "cross_site_request")
    assert error["message"].startswith(f"refused {what}: web pages of other sites may not change this server; ")
    origin = headers.get("origin")
    if origin and origin != "null":
        assert error["message"].endswith(f"start `patscape serve` with --allow-origin {origin} to let that page in")


@pytest.mark.parametrize("headers", [
    {},                                                            # curl, the OpenAI/Ollama SDKs, LangChain, Open WebUI
    {"user-agent": "OpenAI/Python 1.0", "authorization": "Bearer anything"},
    {"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:8000"},  # the UI itself
    {"sec-fetch-site": "none"},                                    # typed by the user
    {"origin": "http://127.0.0.1:8000"},                           # the UI in a browser without Sec-Fetch
])
@pytest.mark.parametrize("path", ["/v1/embeddings", "/api/embed", "/api/embeddings"])
def test_same_origin_and_non_browser_clients_pass(embed_only: TestClient, path: str, headers: dict[str, str]) -> None:
    response = post(embed_only, path, headers)
    assert response.status_code == 200, response.text


def test_reads_are_not_refused_but_not_shared_cross_site(embed_only: TestClient) -> None:
    response = embed_only.get("/v1/models", headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers  # the browser keeps the answer from the page


def test_an_allowed_origin_may_write_and_read_with_cors() -> None:
    settings = Settings(model="hash:256", allowed_origins=("http://localhost:3000",))
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as http:
        wait_ready(http)
        page = {"origin": "http://localhost:3000", "sec-fetch-site": "same-site"}
        response = http.post("/v1/embeddings", json=EMBED, headers=page)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        preflight = http.options("/corpus/search", headers={
            "origin": "http://localhost:3000", "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in preflight.headers
        other = http.options("/corpus/search", headers={"origin": "http://localhost:3001",
                                                        "access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in other.headers
        assert_openai_error(http.post("/v1/embeddings", json=EMBED, headers={"origin": "http://localhost:3001",
                                                                             "sec-fetch-site": "same-site"}),
                            403, "cross_site_request")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("allowed_origins", ("*",), "--allow-origin '*' is not a web origin"),
    ("allowed_origins", ("null",), "--allow-origin 'null' is not a web origin"),
    ("allowed_origins", ("localhost:3000",), "--allow-origin 'localhost:3000' is not a web origin"),
    ("allowed_origins", ("http://localhost:3000/app",), "is not a web origin"),
    ("allowed_hosts", ("evil.example/x",), "--allow-host 'evil.example/x' is not a host name or address"),
    ("allowed_hosts", "patscape.lan", "lists of strings, not one string"),
])
def test_bad_allow_lists_are_refused(field: str, value: Any, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        Settings(**{field: value}).validate()


# -- the API key ---------------------------------------------------------------------------------
#: Routes anyone may load: probes, the UI's page and files, and the API's description.
OPEN = {("GET", "/health"), ("GET", "/"), ("GET", "/static/plotly.min.js"), ("GET", "/openapi.json"),
        ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "latest" if m.group(0) == "{run}" else "x-1", path)


@pytest.fixture(scope="module")
def keyed(store: Path) -> Iterator[TestClient]:
    settings = Settings(store=store, model="hash:256", api_key="k-secret")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as http:
        wait_ready(http)
        yield http


def every_route(http: TestClient) -> set[tuple[str, str]]:
    """(method, path template) of every route: the OpenAPI description's and the hidden ones."""
    routes = {(method.upper(), path) for path, item in http.app.openapi()["paths"].items()  # type: ignore[attr-defined]
              for method in item if method in ("get", "post", "put", "patch", "delete")}
    hidden = {("GET", "/"), ("GET", "/static/plotly.min.js"), ("GET", "/openapi.json"), ("GET", "/docs"),
              ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}
    return routes | hidden


def test_every_route_but_the_open_ones_wants_the_key(keyed: TestClient) -> None:
    routes = every_route(keyed)
    # the writes and /metrics are among the routes checked
    assert {("POST", "/corpus/uploads"), ("POST", "/corpus/documents"), ("POST", "/corpus/search"),
            ("POST", "/v1/embeddings"), ("POST", "/api/embed"), ("POST", "/api/embeddings"), ("GET", "/metrics"),
            ("GET", "/corpus/jobs/{job_id}"), ("GET", "/corpus/documents/{doc_id}"),
            ("PUT", "/corpus/runs/{run}/levels/{level}/nodes/{node}/name")} <= routes
    for method, template in sorted(routes):
        path = concrete(template)
        body = {} if method in ("POST", "PUT") else None
        response = keyed.request(method, path, json=body)
        if (method, template) in OPEN:
            assert response.status_code == 200, (method, path, response.status_code)
            continue
        error = assert_openai_error(response, 401, "invalid_api_key")
        assert response.headers["www-authenticate"] == "Bearer"
        assert error["message"] == "this server needs an API key: send `Authorization: Bearer <key>`"
        wrong = keyed.request(method, path, json=body, headers={"authorization": "Bearer k-secreT"})
        assert_openai_error(wrong, 401, "invalid_api_key")
    assert keyed.get("/static/app.js").status_code == 200  # the UI's files load without a key


def test_writes_work_with_the_key(keyed: TestClient) -> None:
    key = {"authorization": "Bearer k-secret"}
    for path in WRITES:
        response = post(keyed, path, key)
        assert response.status_code in (200, 202), (path, response.text)
    for path in WRITES:
        assert_openai_error(post(keyed, path), 401, "invalid_api_key")


def test_metrics_follow_the_key_unless_public(keyed: TestClient) -> None:
    assert_openai_error(keyed.get("/metrics"), 401, "invalid_api_key")
    assert_openai_error(keyed.get("/metrics", headers={"authorization": "Bearer nope"}), 401, "invalid_api_key")
    shown = keyed.get("/metrics", headers={"authorization": "Bearer k-secret"})
    assert shown.status_code == 200 and "patscape_requests_total" in shown.text
    assert keyed.get("/health").status_code == 200  # probes need no key
    public = Settings(model="hash:256", api_key="k-secret", public_metrics=True)
    with TestClient(create_app(public), base_url="http://127.0.0.1:8000") as http:
        assert http.get("/metrics").status_code == 200
        assert_openai_error(http.get("/v1/models"), 401, "invalid_api_key")


# -- serve: the warning and the options ----------------------------------------------------------
@pytest.fixture
def serve_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import uvicorn

    from patscape.api.cli import serve

    with Store(tmp_path / "store", create=True):
        pass
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))

    def run(*args: str) -> tuple[Any, list[dict[str, Any]]]:
        calls.clear()
        result = CliRunner().invoke(serve, [str(tmp_path / "store"), "--model", "hash:256", *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result, list(calls)

    return run


@pytest.mark.parametrize(("host", "warning"), [
    ("0.0.0.0", "warning: listening on every address of this machine (0.0.0.0) without --api-key: anyone on your "
                "network can read the corpus, add documents and use the model; set --api-key"),
    ("::", "warning: listening on every address of this machine (::) without --api-key: anyone on your network can "
           "read the corpus, add documents and use the model; set --api-key"),
    ("192.168.1.20", "warning: listening on 192.168.1.20, which is not a loopback address, without --api-key: anyone "
                     "who reaches it can read the corpus, add documents and use the model; set --api-key"),
    ("127.0.0.1", None), ("localhost", None), ("::1", None), ("127.0.0.2", None),
])
def test_serve_warns_on_an_open_address_without_a_key(serve_cli: Any, host: str, warning: str | None) -> None:
    result, calls = serve_cli("--host", host)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ([warning] if warning else [])
    assert calls[0]["host"] == host and calls[0]["app"].state.settings.host == host
    keyed, _ = serve_cli("--host", host, "--api-key", "k")
    assert "warning:" not in keyed.stderr


def test_serve_passes_the_security_options(serve_cli: Any) -> None:
    result, calls = serve_cli("--allow-host", "patscape.lan", "--allow-host", "box:9000",
                              "--allow-origin", "http://localhost:3000", "--public-metrics")
    settings = calls[0]["app"].state.settings
    assert settings.allowed_hosts == ("patscape.lan", "box:9000")
    assert settings.allowed_origins == ("http://localhost:3000",)
    assert settings.public_metrics is True and "warning:" not in result.stderr
    _, calls = serve_cli()
    defaults = calls[0]["app"].state.settings
    assert (defaults.allowed_hosts, defaults.allowed_origins, defaults.public_metrics) == ((), (), False)
    off, _ = serve_cli("--allow-host", "*")
    assert off.stderr.splitlines()[0].startswith("warning: --allow-host * turns the DNS-rebinding check off")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--allow-origin", "*", "--allow-origin '*' is not a web origin: give scheme://host[:port], e.g. "
                            "http://localhost:3000 (a wildcard or 'null' is not accepted)"),
    ("--allow-host", "evil.example/x", "--allow-host 'evil.example/x' is not a host name or address (e.g. patscape.lan, "
                                       "192.168.1.20, [fd00::1] or patscape.lan:8000), nor *"),
])
def test_serve_refuses_a_bad_allow_list_with_one_line_and_exit_code_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        option: str, value: str, message: str) -> None:
    """`patscape serve` (the installed command: patscape.cli.main) refuses a bad --allow-origin or
    --allow-host before it listens: one line on stderr, exit code 2 (InputError), no traceback."""
    import uvicorn

    from patscape.cli import main
    from patscape.errors import InputError

    with Store(tmp_path / "store", create=True):
        pass
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    code = main(["serve", str(tmp_path / "store"), "--model", "hash:256", option, value])
    out, err = capsys.readouterr()
    assert (code, out, served) == (InputError.exit_code, "", []) and InputError.exit_code == 2
    assert err == f"patscape: error: {message}\n"


# -- Content-Security-Policy without eval ----------------------------------------------------------
def script_src(policy: str) -> str:
    return next(d.strip() for d in policy.split(";") if d.strip().startswith("script-src"))


def test_the_csp_of_the_ui_and_the_report_forbids_eval(embed_only: TestClient) -> None:
    page = embed_only.get("/")
    assert page.headers["content-security-policy"] == UI_CSP
    assert script_src(UI_CSP) == "script-src 'self'"
    report = render_report({"points": [{"id": "A", "title": "t", "cluster": 0, "x": 0.0, "y": 0.0}]})
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', report).group(1)  # type: ignore[union-attr]
    assert "unsafe-eval" not in csp and "unsafe-inline" not in script_src(csp)
    assert re.fullmatch(r"script-src 'sha256-[A-Za-z0-9+/=]+' 'sha256-[A-Za-z0-9+/=]+'", script_src(csp))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def wait_until(page: Any, expression: str, arg: Any = None, timeout: float = 60.0) -> None:
    """Poll ``expression`` (a JS expression or function of ``arg``) until it is truthy.

    Not ``page.wait_for_function``: Playwright evaluates its predicate with the page's ``eval``,
    which the pages' CSP (rightly) forbids; ``page.evaluate`` runs outside the page's CSP.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.add_init_script(CSP_SPY)
    page.goto(url)
    return page, errors


def map_points(n: int) -> list[dict[str, Any]]:
    return [{"id": f"P{i}", "title": f"patent {i}", "cluster": i % 7 - 1, "x": (i * 7919 % 1009) / 10.0,
             "y": (i * 104729 % 997) / 10.0, "date": "2015-01-01", "lang": "en"} for i in range(n)]


@pytest.mark.parametrize(("n", "trace"), [(60, "scatter"), (WEBGL_POINTS + 1, "scattergl")])
def test_the_report_draws_its_map_without_eval(browser: Any, tmp_path: Path, n: int, trace: str) -> None:
    path = tmp_path / "report.html"
    path.write_text(render_report({"points": map_points(n), "topics": [
        {"cluster": c, "label": f"topic {c}", "size": n // 7, "keywords": {}, "codes": {}} for c in range(6)]}),
        encoding="utf-8")
    page, errors = open_page(browser, path.as_uri())
    try:
        wait_until(page, "document.querySelector('#map .main-svg') !== null", timeout=120)
        page.wait_for_timeout(300)
        assert page.evaluate("document.getElementById('map').data.map(t => t.type)") == [trace] * 3
        assert page.evaluate("window.__csp") == []  # plotly needed no eval, nothing was blocked
        assert "WebGL is not supported" not in (page.text_content("#map") or "")
        if trace == "scattergl":
            assert page.evaluate("document.querySelectorAll('#map canvas').length") >= 1
        # the installed plotly's bundle draws SVG; the strict build (WebGL without eval) is inlined for big maps
        assert ("plotly.js (strict - minified) v" in path.read_text(encoding="utf-8")) == (trace == "scattergl")
        assert not [e for e in errors if "GPU stall" not in e], errors
    finally:
        page.close()


# -- the web UI with an API key ------------------------------------------------------------------
@pytest.fixture(scope="module")
def keyed_server(store: Path) -> Iterator[Any]:
    with live_server(Settings(store=store, model="hash:256", api_key="ui-secret-key")) as live:
        yield live


def test_the_ui_draws_webgl_without_eval(browser: Any, keyed_server: Any) -> None:
    page, _ = open_page(browser, keyed_server.url + "/")
    try:
        page.wait_for_selector("body[data-ready=auth]", timeout=60_000)
        # a map of more than 20,000 points is drawn as scattergl: draw one under the page's CSP
        page.evaluate("""() => { const d = document.createElement('div'); d.id = 'gl-probe';
            d.style.width = '400px'; d.style.height = '300px'; document.body.appendChild(d);
            return window.Plotly.newPlot(d, [{type: 'scattergl', mode: 'markers', x: [1, 2, 3], y: [3, 1, 2]}]); }""")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__csp") == []
        assert "WebGL is not supported" not in (page.text_content("#gl-probe") or "")
        assert page.evaluate("document.querySelectorAll('#gl-probe canvas').length") >= 1
    finally:
        page.close()


def test_the_ui_asks_for_the_key_once_and_uses_it(browser: Any, keyed_server: Any) -> None:
    page, errors = open_page(browser, keyed_server.url + "/")
    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda r: "/corpus" in r.url and sent.append((r.url, r.headers.get("authorization"))))
    try:
        page.wait_for_selector("body[data-ready=auth]", timeout=60_000)
        assert page.is_visible("#auth") and page.is_visible("#api-key")
        assert page.get_attribute("#errors", "hidden") is not None  # asked for, not reported as a failure
        page.fill("#api-key", "not-the-key")
        page.click("#auth button[type=submit]")
        wait_until(page, "document.getElementById('auth-message').textContent === 'incorrect API key'")
        assert page.is_visible("#auth")
        page.fill("#api-key", "ui-secret-key")
        page.click("#auth button[type=submit]")
        page.wait_for_selector("body[data-ready=yes]", timeout=60_000)
        with keyed_server.client(headers={"authorization": "Bearer ui-secret-key"}) as http:
            count = http.get("/corpus/runs/latest/map").json()["count"]
        assert page.is_hidden("#auth") and page.get_attribute("body", "data-points") == str(count) and count >= 121
        # the document panel and search (a POST) use the key too
        page.evaluate("(id) => document.getElementById('map').emit('plotly_click', {points: [{customdata: id}]})",
                      HOSTILE["id"])
        wait_until(page, "(id) => document.body.dataset.selected === id", HOSTILE["id"])
        assert page.text_content("#doc-title") == HOSTILE["title"]
        page.fill("#search-input", "antenna")
        page.click("#search-form button[type=submit]")
        wait_until(page, "Number(document.body.dataset.hits) > 0")
        after = [auth for _url, auth in sent[sent.index(next(s for s in sent if s[1] == "Bearer ui-secret-key")):]]
        assert after and set(after) == {"Bearer ui-secret-key"}
        # kept for the tab: a reload needs no key; a new tab asks again
        page.reload()
        page.wait_for_selector("body[data-ready=yes]", timeout=60_000)
        assert page.is_hidden("#auth")
        assert page.evaluate("window.__pwned") is None
        unexpected = [e for e in errors if "401" not in e and "GPU stall" not in e]
        assert not unexpected, unexpected
    finally:
        page.close()
    other, _ = open_page(browser, keyed_server.url + "/")
    try:
        other.wait_for_selector("body[data-ready=auth]", timeout=60_000)
        assert other.text_content("#auth-message") == ""
    finally:
        other.close()
