"""A small client for OpenAI-compatible chat servers: ``openai:MODEL@URL``.

Any server with ``/v1/chat/completions`` will do: llama.cpp's ``llama-server``,
``python -m llama_cpp.server``, vLLM, Ollama's ``/v1``, OpenAI. ``URL`` is the server's base
(``http://127.0.0.1:8080/v1``); the endpoint is ``URL/chat/completions`` when URL ends in
``/v1``, URL itself when it ends in ``/chat/completions``, and ``URL/v1/chat/completions``
otherwise.

* **Key**: the ``api_key`` argument, else ``PATSCAPE_NAMER_API_KEY``, else ``OPENAI_API_KEY``
  (``Authorization: Bearer``; none is sent when none is set, as local servers want).
* **Requests**: at most ``concurrency`` at once (threads share one client), each with a
  ``timeout``; connection errors, 408, 429 and 5xx are retried with exponential back-off
  (``Retry-After`` honoured, capped at ``max_backoff``); other 4xx and a read timeout are not
  (a generation that took too long takes too long again): they are a :class:`ChatError`.
* **Constrained decoding**: the answer's JSON schema goes as ``response_format``, first in
  OpenAI's ``json_schema`` form; a server that rejects that form (llama-cpp-python's server
  answers it with a validation error) is asked with ``{"type": "json_object", "schema": ...}``,
  and then without any; the form that worked is kept for the client's later requests.
* **Privacy**: :func:`remote_notice` says, in one line, when the URL's host is not this machine
  -- the topic texts then leave it. The library never prints; callers pass ``notice=``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..embed.openai_compat import endpoint, error_message, retry_after
from ..errors import MissingDependencyError, ModelError
from .prompts import response_format

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
STYLES = ("json_schema", "json_object", "none")
_SPEC = re.compile(r"^(?:openai:)?(?P<model>[^@\s]+)@(?P<url>https?://\S+)$")
_FORMAT_REFUSED = re.compile(r"response_format|json_schema", re.IGNORECASE)


class ChatError(ModelError):
    """A chat request that failed for good; ``reason`` is short and stored with the fallback."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    """The text of one answer and the token counts of the server's ``usage`` (None: not given)."""

    content: str
    prompt_tokens: int | None
    completion_tokens: int | None


def parse_spec(spec: str) -> tuple[str, str]:
    """``openai:MODEL@URL`` -> (model, url)."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise ModelError(f"bad namer {spec!r}: write openai:MODEL@URL, e.g. openai:qwen3-8b@http://127.0.0.1:8080/v1")
    return match["model"], match["url"]


def is_local(url: str) -> bool:
    """Whether the URL's host is this machine (loopback, ``localhost``, this host's name). Looks
    nothing up on the network."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == socket.gethostname().lower()
    return address.is_loopback or address.is_unspecified


def remote_notice(url: str) -> str | None:
    """One line to show when ``url`` is not on this machine (None when it is)."""
    if is_local(url):
        return None
    host = urlsplit(url).hostname or url
    return f"namer: topic keyphrases, codes and patent titles are sent to {host}, which is not this machine"


class ChatClient:
    """Chat completions from one model on one OpenAI-compatible server (thread-safe)."""

    def __init__(
        self,
        model: str,
        url: str,
        *,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        temperature: float = 0.2,
        style: str = "json_schema",
        notice: Callable[[str], None] | None = None,
        transport: Any = None,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise MissingDependencyError("httpx", "openai") from exc
        if not url.startswith(("http://", "https://")):
            raise ModelError(f"the namer URL {url!r} must start with http:// or https://")
        if concurrency < 1 or timeout <= 0 or max_retries < 0 or style not in STYLES:
            raise ModelError(f"concurrency and timeout must be positive, max_retries not negative, style one of {STYLES}")
        self._httpx = httpx
        self.model = model
        self.url = endpoint(url, "chat/completions")
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.temperature = temperature
        self.style = style
        self._style_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency)
        key = api_key or os.environ.get("PATSCAPE_NAMER_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), transport=transport,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        message = remote_notice(url)
        if message and notice is not None:
            notice(message)

    @classmethod
    def from_spec(cls, spec: str, **options: Any) -> ChatClient:
        """A client for ``openai:MODEL@URL``."""
        model, url = parse_spec(spec)
        return cls(model, url, **options)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> ChatAnswer:
        """One answer to ``messages``, constrained to ``schema`` where the server can; retried as
        the module doc says, at most ``concurrency`` at once across threads."""
        with self._slots:
            attempt = 0
            while True:
                style = self.style
                try:
                    return self._post(messages, schema, max_tokens, style)
                except _FormatRefused as exc:
                    with self._style_lock:
                        if self.style == style:
                            following = STYLES.index(style) + 1
                            if following >= len(STYLES):
                                raise ChatError(str(exc), "refused") from exc
                            self.style = STYLES[following]
                    continue
                except _Retryable as exc:
                    if attempt >= self.max_retries:
                        raise ChatError(f"{exc} (after {attempt + 1} attempts)", exc.reason) from exc
                    wait = min(self.max_backoff, self.backoff * 2**attempt)
                    if exc.retry_after is not None:
                        wait = min(self.max_backoff, max(wait, exc.retry_after))
                    attempt += 1
                    time.sleep(wait)  # back-off between retries, bounded by max_backoff

    def _post(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int, style: str) -> ChatAnswer:
        httpx = self._httpx
        payload: dict[str, Any] = {
            "model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": self.temperature,
            "stream": False,
        }
        constraint = response_format(schema, style)
        if constraint is not None:
            payload["response_format"] = constraint
        try:
            response = self.client.post(self.url, json=payload)
        except httpx.ConnectError as exc:
            raise _Retryable(f"cannot connect to the namer at {self.url} ({exc})", "connection failed") from exc
        except httpx.ConnectTimeout as exc:
            raise _Retryable(f"cannot connect to the namer at {self.url} within the timeout", "connection failed") from exc
        except httpx.TimeoutException as exc:
            raise ChatError(f"the namer at {self.url} did not answer within {self.timeout:g}s", "timeout") from exc
        except httpx.HTTPError as exc:
            raise _Retryable(f"the request to {self.url} failed: {exc}", "connection failed") from exc
        status = response.status_code
        if status != 200:
            message = error_message(response, collapse_spaces=True)
            where = f"{self.url} answered {status} for model {self.model!r}: {message}"
            if status in (400, 415, 422, 500) and constraint is not None and _FORMAT_REFUSED.search(message):
                raise _FormatRefused(where)
            if status in RETRY_STATUS:
                raise _Retryable(where, f"HTTP {status}", retry_after(response.headers.get("retry-after")))
            raise ChatError(where, f"HTTP {status}")
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ChatError(f"{self.url} did not answer with a chat completion: {response.text[:200]!r}", "bad response") from exc
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return ChatAnswer(content if isinstance(content, str) else "", _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")))


class _Retryable(Exception):
    def __init__(self, message: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class _FormatRefused(Exception):
    """The server refused the ``response_format`` form (not the request as a whole)."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
