"""Who may reach the server from a browser: the ``Host`` check and the cross-site check.

``patscape serve`` usually runs on loopback, often without an API key, and a browser will send
requests to it on behalf of any web page the user has open. Two checks, in one pure-ASGI
middleware (:class:`RequestGuard`), keep those pages out:

**Host** (every request, GET included): the ``Host`` header must be a loopback name or address
(``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``[::1]``; any port), the address or name the
server was bound to (for ``0.0.0.0``/``::``: any IP address, since a literal address cannot be
rebound), or a name in ``allowed_hosts`` (``*`` turns the check off). This defeats DNS
rebinding, where a page at ``http://evil.example:8000`` has its name re-pointed at 127.0.0.1 and
so becomes "same-origin" with patscape in the browser's eyes: its requests still carry
``Host: evil.example:8000``. A request without a ``Host`` header (HTTP/1.0; never a browser)
passes.

**Cross-site** (every request other than GET, HEAD and OPTIONS, and WebSocket handshakes), the
rule of Go's ``net/http.CrossOriginProtection``:

1. an ``Origin`` in ``allowed_origins`` passes;
2. else, when the browser sent ``Sec-Fetch-Site``, only ``same-origin`` and ``none`` (the user
   acted in the browser itself) pass; ``same-site`` and ``cross-site`` get 403;
3. else (older browsers, and every client that is not a browser) a request without ``Origin``
   passes, and one whose ``Origin`` names the host and port of its ``Host`` header passes;
   any other ``Origin`` (``null`` included) gets 403.

Browsers always send ``Sec-Fetch-Site`` or ``Origin`` with a cross-origin POST and page scripts
cannot forge either; programs (curl, the OpenAI and Ollama SDKs, LangChain, Open WebUI's
backend) send neither and pass. The embeddings routes (``POST /v1/embeddings``, ``/api/embed``,
``/api/embeddings``) follow the same rule: they write nothing, but a foreign page could still
spend the server's CPU and fill its queue, and their real clients are programs.

With ``allowed_origins`` set, :func:`cors_middleware` also answers CORS preflights for exactly
those origins, so that a web app there can call the JSON API (and read its answers).

Refusals are OpenAI-shaped errors (403, codes ``host_not_allowed`` and ``cross_site_request``)
whose one-line message names the ``patscape serve`` option that would let the request in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import InputError
from .errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``Sec-Fetch-Site`` values that mean the request comes from the server's own pages or the user.
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}


# -- parsing -------------------------------------------------------------------------------------
def split_host(value: str) -> tuple[str, int | None] | None:
    """``"Name:8000"`` -> ``("name", 8000)``; ``"[::1]:80"`` -> ``("::1", 80)``; None if malformed.

    Names are lower-cased and lose a trailing dot; IPv6 addresses must be bracketed.
    """
    value = value.strip()
    if not value or any(c in value for c in "/\\@?#% \t") or not value.isascii():
        return None
    port: int | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if not _is_ip(name) or ":" not in name:
            return None
        if rest:
            if not rest.startswith(":"):
                return None
            port = _port(rest[1:])
            if port is None:
                return None
    else:
        name, sep, rest = value.partition(":")
        if sep:
            port = _port(rest)
            if port is None:
                return None
    name = name.lower().rstrip(".")
    if not name:
        return None
    return name, port


def _port(text: str) -> int | None:
    if not text.isdigit() or len(text) > 5:
        return None
    port = int(text)
    return port if 0 < port <= 65535 else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(name: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761: always loopback in browsers), 127.0.0.0/8, ::1."""
    name = name.lower().strip("[]").rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard(name: str) -> bool:
    """``0.0.0.0`` and ``::`` (and an empty host): listening on every address of the machine."""
    name = name.strip("[]")
    if not name:
        return True
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


def normalize_origin(value: str) -> str | None:
    """``"HTTP://Example.com:80/"`` -> ``"http://example.com"``; None if not an http(s) origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query \
            or parts.fragment or parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


# -- settings checks (used by Settings.validate) ----------------------------------------------
def check_allowed_host(value: str) -> None:
    """Raise :class:`InputError` unless ``value`` is ``*``, a host name or address, or either with a port."""
    if not isinstance(value, str):
        raise InputError(f"an allowed host must be a string (got {value!r})")
    if value.strip() == "*":
        return
    if split_host(value) is None:
        raise InputError(f"--allow-host {value!r} is not a host name or address (e.g. patscape.lan, "
                         "192.168.1.20, [fd00::1] or patscape.lan:8000), nor *")


def check_allowed_origin(value: str) -> None:
    """Raise :class:`InputError` unless ``value`` is an origin such as ``http://localhost:3000``."""
    if not isinstance(value, str) or normalize_origin(value) is None:
        raise InputError(f"--allow-origin {value!r} is not a web origin: give scheme://host[:port], e.g. "
                         "http://localhost:3000 (a wildcard or 'null' is not accepted)")


# -- the policies --------------------------------------------------------------------------------
class HostPolicy:
    """Which ``Host`` headers a server bound to ``bind_host`` answers (see the module doc)."""

    def __init__(self, bind_host: str, allowed_hosts: Iterable[str] = ()) -> None:
        allowed = [h.strip() for h in allowed_hosts]
        self.any_host = "*" in allowed
        self.any_ip = is_wildcard(bind_host)
        self.names: set[str] = set()
        self.name_ports: set[tuple[str, int]] = set()
        bound = split_host(f"[{bind_host}]" if ":" in bind_host and not bind_host.startswith("[") else bind_host)
        if bound is not None:
            self.names.add(bound[0])
        for entry in allowed:
            if entry == "*":
                continue
            parsed = split_host(entry)
            if parsed is None:
                continue  # Settings.validate refuses these
            name, port = parsed
            if port is None:
                self.names.add(name)
            else:
                self.name_ports.add((name, port))

    def allows(self, host_header: str | None) -> bool:
        if self.any_host or host_header is None:
            return True
        parsed = split_host(host_header)
        if parsed is None:
            return False
        name, port = parsed
        if is_loopback(name) or name in self.names:
            return True
        if port is not None and (name, port) in self.name_ports:
            return True
        return self.any_ip and _is_ip(name)


class OriginPolicy:
    """Which state-changing browser requests pass the cross-site check (see the module doc)."""

    def __init__(self, allowed_origins: Iterable[str] = ()) -> None:
        self.allowed = {o for o in (normalize_origin(v) for v in allowed_origins) if o is not None}

    def refusal(self, method: str, headers: dict[str, str]) -> str | None:
        """None when the request may pass, else the one-line reason it may not."""
        if method in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and normalize_origin(origin) in self.allowed:
            return None
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            if fetch_site.strip().lower() in TRUSTED_FETCH_SITES:
                return None
            return _cross_site_message(origin, f"a {fetch_site.strip().lower() or 'cross-site'} request")
        if origin is None:
            return None
        host = headers.get("host")
        if host is not None and _authority(origin) == host.strip().lower().rstrip("."):
            return None
        return _cross_site_message(origin, "a cross-origin request")


def _authority(origin: str) -> str | None:
    """The ``host[:port]`` of an origin as the browser wrote it (what its ``Host`` header holds)."""
    scheme, sep, rest = origin.strip().partition("://")
    if not sep or scheme.lower() not in DEFAULT_PORTS or not rest or "/" in rest:
        return None
    return rest.lower().rstrip(".")


def _cross_site_message(origin: str | None, what: str) -> str:
    shown = _printable(origin) if origin is not None else "another site"
    normal = normalize_origin(origin) if origin is not None else None
    hint = (f"start `patscape serve` with --allow-origin {normal} to let that page in" if normal
            else "only pages served by patscape itself may send it")
    return f"refused {what} from {shown}: web pages of other sites may not change this server; {hint}"


def _host_message(host: str) -> str:
    parsed = split_host(host)
    name = f"[{parsed[0]}]" if parsed and ":" in parsed[0] else (parsed[0] if parsed else None)
    hint = (f"start `patscape serve` with --allow-host {name} to serve that name" if name
            else "send the address or name the server listens on")
    return (f"refused the host name {_printable(host)}: it is not this server's (DNS rebinding protection); {hint}")


def _printable(text: str, limit: int = 100) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return repr(clean[:limit] + ("..." if len(clean) > limit else ""))


# -- the middleware ----------------------------------------------------------------------------
class RequestGuard:
    """ASGI middleware: the ``Host`` check on every request, the cross-site check on writes."""

    def __init__(self, app: ASGIApp, *, bind_host: str, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.hosts = HostPolicy(bind_host, allowed_hosts)
        self.origins = OriginPolicy(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        host = headers.get("host")
        if not self.hosts.allows(host):
            await self._refuse(scope, receive, send, _host_message(host or ""), "host_not_allowed")
            return
        method = "WEBSOCKET" if scope["type"] == "websocket" else str(scope.get("method", "")).upper()
        reason = self.origins.refusal(method, headers)
        if reason is not None:
            await self._refuse(scope, receive, send, reason, "cross_site_request")
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: str, code: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        await error_response(403, message, code=code)(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers (first of each name wins), decoded as latin-1 like Starlette does."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def cors_middleware(app: ASGIApp, allowed_origins: Iterable[str]) -> ASGIApp:
    """CORS for exactly ``allowed_origins``: preflights answered, answers readable, no cookies."""
    origins = sorted({o for o in (normalize_origin(v) for v in allowed_origins) if o is not None})
    return CORSMiddleware(app, allow_origins=origins, allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                          allow_headers=["authorization", "content-type"], allow_credentials=False, max_age=600)
