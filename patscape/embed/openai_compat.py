"""Backend ``openai:MODEL@URL``: any OpenAI-compatible ``/v1/embeddings`` server.

vLLM, llama.cpp's ``llama-server``, ``python -m llama_cpp.server``, Hugging Face TEI, infinity,
Ollama's ``/v1`` and another patscape all speak it. ``URL`` is the server's base URL; the endpoint
is ``URL/embeddings`` when URL ends in ``/v1``, URL itself when it ends in ``/embeddings``, and
``URL/v1/embeddings`` otherwise.

* **Key**: the ``api_key`` argument, else ``PATSCAPE_OPENAI_API_KEY``, else ``OPENAI_API_KEY``
  (sent as ``Authorization: Bearer``; none is sent when none is set).
* **Profile** (instructions, EOS, MRL): formatting is done here, identically to the local
  backends; the server only embeds. Pooling and the end-of-text token are the server's: run a
  Qwen3-Embedding server whose tokenizer appends ``<|endoftext|>`` (vLLM with the HF model does;
  a GGUF converted from the current tokenizer has ``tokenizer.ggml.add_eos_token``). Vectors are
  normalised here (llama.cpp's servers do not normalise).
* **Tokens**: windows are cut with the model's own tokenizer when patscape has it
  (``tokenizer=`` a ``tokenizer.json``, or a model directory, or ``st:DIR``); otherwise with a
  conservative approximation -- one token per run of up to 3 ASCII letters, per digit, per other
  non-space character and per run of whitespace, times a margin of 1.25 -- which over-counts
  patent text about 2.2x (English) and 1.1-1.5x (Chinese), so that a window does not exceed the
  server's limit; a text made mostly of rare characters that a byte-level vocabulary splits into
  several tokens each could still exceed it (the server's error then says so). ``max_tokens`` (default: the profile's, at most
  512, llama-server's default micro-batch) must not exceed what the server accepts per input.
* **Requests**: batched by count and by a token budget (``max_batch_tokens``), ``concurrency``
  requests at once, retried with exponential backoff on connection errors, timeouts, 429 and 5xx
  (honouring ``Retry-After``); a wrong number or size of vectors is a :class:`ModelError`.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MissingDependencyError, ModelError
from .base import Embedder, RetryableError
from .profiles import ModelProfile, detect_profile
from .sentence_transformers import declared_pooling

#: The approximation of a token when the server's tokenizer is not known (see the module doc).
APPROX_TOKEN = re.compile(r"[A-Za-z]{1,3}|\d|\s{2,}|\n|[^\sA-Za-z\d]")
#: ... and a margin on top: a window is cut so that (approximate tokens x margin) fits.
APPROX_MARGIN = 1.25
DEFAULT_MAX_TOKENS = 512
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_TOO_LONG = re.compile(r"too (large|long)|context length|maximum.*(length|tokens)|exceed|physical batch", re.IGNORECASE)
_URL_NAME = re.compile(r"^(?P<model>.+?)@(?P<url>https?://\S+)$")


def parse_name(rest: str) -> tuple[str, str]:
    """``MODEL@URL`` -> (model, url); the URL may come from PATSCAPE_OPENAI_BASE_URL instead."""
    match = _URL_NAME.match(rest.strip())
    if match:
        return match["model"], match["url"]
    url = os.environ.get("PATSCAPE_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
    if rest and "@" not in rest and url:
        return rest, url
    raise ModelError(
        f"bad openai model {rest!r}: write openai:MODEL@URL, e.g. openai:Qwen/Qwen3-Embedding-0.6B@http://127.0.0.1:8000/v1 "
        "(or set PATSCAPE_OPENAI_BASE_URL)"
    )


def endpoint(url: str, resource: str = "embeddings") -> str:
    """The URL of ``resource`` on an OpenAI-compatible server given as its base (``http://h:8080``
    or ``.../v1``) or as the resource's own URL."""
    url = url.rstrip("/")
    if url.endswith(f"/{resource}"):
        return url
    if url.endswith("/v1"):
        return f"{url}/{resource}"
    return f"{url}/v1/{resource}"


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def load_tokenizer(spec: str | Path) -> Any:
    """A ``tokenizers.Tokenizer`` from a tokenizer.json, a model directory or ``st:DIR``."""
    from tokenizers import Tokenizer

    text = str(spec)
    text = text.removeprefix("st:")
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"no tokenizer at {spec} (give a tokenizer.json, a model directory or st:DIR)")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ModelError(f"cannot read the tokenizer {path}: {exc}") from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class OpenAIEmbedder(Embedder):
    """Embeddings from an OpenAI-compatible HTTP server."""

    def __init__(
        self,
        name: str,
        model: str,
        url: str,
        profile: ModelProfile | None = None,
        *,
        api_key: str | None = None,
        tokenizer: str | Path | None = None,
        max_tokens: int | None = None,
        concurrency: int = 4,
        max_batch_tokens: int = 8192,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        transport: Any = None,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise MissingDependencyError("httpx", "openai") from exc
        self._httpx = httpx
        if not url.startswith(("http://", "https://")):
            raise ModelError(f"the server URL {url!r} must start with http:// or https://")
        if concurrency < 1 or max_batch_tokens < 1 or timeout <= 0 or max_retries < 0:
            raise ModelError("concurrency, max_batch_tokens and timeout must be positive, max_retries not negative")
        self.model = model
        self.url = endpoint(url)
        self.timeout = timeout
        key = api_key or os.environ.get("PATSCAPE_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), transport=transport,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._tokenizer = load_tokenizer(tokenizer) if tokenizer is not None else None
        profile = profile or _detect(model, tokenizer)
        limit = max_tokens or min(profile.max_tokens, DEFAULT_MAX_TOKENS)
        super().__init__(name, profile, 0, limit)
        self.concurrency = concurrency
        self.max_batch_tokens = max_batch_tokens
        self.max_retries = max_retries
        self.backoff = backoff
        if self._tokenizer is not None:
            probe = "patent"
            self.special_tokens = len(self._tokenizer.encode(probe).ids) - len(self._tokenizer.encode(probe, add_special_tokens=False).ids)
            self._tokens_id = hashlib.sha256(self._tokenizer.to_str().encode()).hexdigest()[:12]
        else:
            self.special_tokens = 2
            self._tokens_id = "approx-v1"
        # One small request: the server is up, the model exists, and its size is known.
        first = self.retrying(lambda: self._request(["patent landscape"]))
        self.native_dims = int(first.shape[1])
        if self.native_dims < 1:
            raise ModelError(f"{self.url} returned an empty vector for model {model!r}")

    def close(self) -> None:
        self.client.close()

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        if self._tokenizer is not None:
            return [tuple(span) for span in self._tokenizer.encode(text, add_special_tokens=False).offsets]  # type: ignore[misc]
        return [m.span() for m in APPROX_TOKEN.finditer(text)]

    def count(self, formatted: str) -> int:
        n = len(self.token_spans(formatted))
        if self._tokenizer is None:
            n = math.ceil(n * APPROX_MARGIN)
        return n + self.special_tokens

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self._request(texts)
        if vectors.shape[1] != self.native_dims:
            raise ModelError(
                f"{self.url} returned vectors of {vectors.shape[1]} dimensions for {self.model!r}, but this model gave "
                f"{self.native_dims} before: is another model behind the same name now?"
            )
        return vectors

    def fingerprint(self) -> str:
        return f"openai-{hashlib.sha256(f'{self.model}|{self.native_dims}|{self._tokens_id}'.encode()).hexdigest()[:16]}"

    # -- the HTTP exchange -----------------------------------------------------------------------
    def _request(self, texts: list[str]) -> NDArray[np.float32]:
        httpx = self._httpx
        payload = {"model": self.model, "input": texts, "encoding_format": "float"}
        try:
            response = self.client.post(self.url, json=payload)
        except httpx.ConnectError as exc:
            raise RetryableError(f"cannot connect to the embedding server at {self.url} ({exc}); is it running?") from exc
        except httpx.TimeoutException as exc:
            raise RetryableError(f"the embedding server at {self.url} did not answer within {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise RetryableError(f"the request to {self.url} failed: {exc}") from exc
        if response.status_code != 200:
            self._refuse(response, len(texts))
        try:
            body = response.json()
            items = body["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{self.url} did not answer with an OpenAI embeddings response: {response.text[:200]!r}") from exc
        if not isinstance(items, list) or len(items) != len(texts):
            got = len(items) if isinstance(items, list) else "no"
            raise ModelError(f"{self.url} returned {got} vectors for {len(texts)} texts")
        rows: list[Any] = [None] * len(texts)
        for position, item in enumerate(items):
            index = item.get("index", position) if isinstance(item, dict) else None
            if not isinstance(index, int) or not 0 <= index < len(texts) or rows[index] is not None:
                raise ModelError(f"{self.url} returned a vector with a bad index {index!r}")
            rows[index] = _vector(item.get("embedding"), self.url)
        sizes = {len(r) for r in rows}
        if len(sizes) != 1:
            raise ModelError(f"{self.url} returned vectors of different sizes {sorted(sizes)} in one answer")
        return np.vstack(rows).astype(np.float32)

    def _refuse(self, response: Any, n_texts: int) -> None:
        status = response.status_code
        message = error_message(response)
        where = f"{self.url} answered {status} for model {self.model!r}: {message}"
        if _TOO_LONG.search(message) and status in (400, 413, 422, 500):
            raise ModelError(
                f"{where}. The server reads fewer tokens per input than patscape sent (max_tokens={self.max_tokens}); "
                "lower max_tokens to the server's limit, or pass the model's tokenizer for exact windows"
            )
        if status in RETRY_STATUS:
            raise RetryableError(where, retry_after(response.headers.get("retry-after")))
        if status in (401, 403):
            raise ModelError(f"{where}. Set the key with PATSCAPE_OPENAI_API_KEY (or OPENAI_API_KEY)")
        if status == 404:
            raise ModelError(f"{where}. Is the URL the server's /v1 base and the model name one it serves?")
        raise ModelError(where)


def _detect(model: str, tokenizer: str | Path | None) -> ModelProfile:
    """The profile from the served model's name and, when it is a model directory, the tokenizer's."""
    if tokenizer is None:
        return detect_profile(model)
    directory = Path(str(tokenizer).removeprefix("st:")).expanduser()
    if not directory.is_dir():
        directory = directory.parent
    model_type = None
    config = directory / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except ValueError:
            model_type = None
    return detect_profile(f"{model} {directory}", model_type, declared_pooling(directory))


def error_message(response: Any, collapse_spaces: bool = False) -> str:
    """The message of an error answer (OpenAI's ``error.message``, FastAPI's ``detail`` ...),
    at most 300 characters; ``collapse_spaces`` puts it on one line."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    error = body
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message", body)))
        if isinstance(error, dict):
            error = error.get("message", error)
    text = str(error)
    return (" ".join(text.split()) if collapse_spaces else text)[:300]


def _vector(value: Any, url: str) -> NDArray[np.float32]:
    if isinstance(value, str):  # base64 float32, for servers that send it regardless
        try:
            return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)
        except ValueError as exc:
            raise ModelError(f"{url} returned an undecodable base64 vector") from exc
    if not isinstance(value, list) or not value or isinstance(value[0], list):
        shape = "a list of lists (one vector per token: the server has no pooling)" if value and isinstance(value, list) else repr(value)[:60]
        raise ModelError(f"{url} returned {shape} instead of one vector per text")
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{url} returned a vector that is not numbers") from exc
