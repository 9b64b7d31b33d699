"""Settings of the server: one frozen, keyword-only dataclass, built at the edge (the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError

LongInputs = Literal["chunk", "reject"]
LONG_INPUTS: tuple[LongInputs, ...] = ("chunk", "reject")


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Everything ``patscape serve`` can be told.

    store: the corpus directory (``None``: embeddings only, no corpus API and no map).
    model: the embedding model served on ``/v1/embeddings`` and ``/api/embed`` and used for
        queries and uploads (``minilm``, ``st:DIR``, ``hash:DIMS``, ...).
    api_key: when set, every API route wants ``Authorization: Bearer <api_key>``.
    max_batch: texts per model call; requests waiting in the queue are merged up to this.
    max_batch_tokens: tokens per model call, at most (a longer text still goes alone). On a CPU,
        batches of long texts are slower per text than small ones, so the budget keeps batches
        of abstracts small while short queries are merged up to ``max_batch``.
    queue_size: texts that may wait for the model; past it a request is refused with 429.
    max_inputs: inputs per request (OpenAI allows 2048).
    max_tokens_per_input: tokens one input may have, whatever the policy (a hard limit).
    long_inputs: an input longer than the model's window is split into windows whose vectors
        are pooled (``chunk``) or refused with 400 (``reject``); it is never silently cut.
    max_body_bytes: largest JSON request body (413 above it).
    max_upload_bytes: largest document upload (multipart) body.
    host, port: where ``patscape serve`` listens (loopback by default).
    allowed_hosts: extra names the server may be reached under (the ``Host`` header), besides
        loopback names and addresses and ``host``; ``"*"`` turns the check off. The check
        defeats DNS rebinding: a web page whose name resolves to this machine is refused.
    allowed_origins: web origins (``scheme://host[:port]``) whose pages may send state-changing
        requests to the API from a browser, and read its answers (CORS); other cross-site
        browser requests are refused with 403. Clients that are not browsers send no
        ``Origin`` and are not affected.
    public_metrics: ``/metrics`` without the API key (for a Prometheus that has none).
    max_jobs: upload jobs that may wait or run at once (429 beyond).
    max_upload_files: files in one upload (413 beyond).
    max_upload_expanded_bytes: bytes one compressed upload file may expand to (the rest is refused).
    max_pdf_pages: pages read from one uploaded PDF (the rest is cut, with a problem).
    vector_store: where corpus searches rank document vectors instead of the store, as a
        ``milvus:`` URI (see :mod:`patscape.vectors.milvus`); None: the store's own vectors.
    """

    store: Path | None = None
    model: str = "minilm"
    api_key: str | None = None
    max_batch: int = 32
    max_batch_tokens: int = 1024
    queue_size: int = 4096
    max_inputs: int = 2048
    max_tokens_per_input: int = 8192
    long_inputs: LongInputs = "chunk"
    max_body_bytes: int = 16 * 1024 * 1024
    max_upload_bytes: int = 256 * 1024 * 1024
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    public_metrics: bool = False
    max_jobs: int = 8
    max_upload_files: int = 1000
    max_upload_expanded_bytes: int = 2 * 1024**3
    max_pdf_pages: int = 500
    vector_store: str | None = None

    def validate(self) -> Settings:
        """Return self, or raise :class:`InputError` naming the first impossible value."""
        positive = {
            "max_batch": self.max_batch, "max_batch_tokens": self.max_batch_tokens, "queue_size": self.queue_size, "max_inputs": self.max_inputs,
            "max_tokens_per_input": self.max_tokens_per_input, "max_body_bytes": self.max_body_bytes,
            "max_upload_bytes": self.max_upload_bytes, "max_jobs": self.max_jobs, "max_upload_files": self.max_upload_files,
            "max_upload_expanded_bytes": self.max_upload_expanded_bytes, "max_pdf_pages": self.max_pdf_pages,
        }
        for name, value in positive.items():
            if value < 1:
                raise InputError(f"{name} must be at least 1 (got {value})")
        if self.max_inputs > self.queue_size:
            raise InputError(f"max_inputs ({self.max_inputs}) cannot exceed queue_size ({self.queue_size})")
        if self.long_inputs not in LONG_INPUTS:
            raise InputError(f"long_inputs must be one of {', '.join(LONG_INPUTS)} (got {self.long_inputs!r})")
        if not 0 <= self.port <= 65535:
            raise InputError(f"port must be between 0 and 65535 (got {self.port})")
        if self.api_key is not None and not self.api_key.strip():
            raise InputError("the API key is empty")
        from .security import check_allowed_host, check_allowed_origin

        if isinstance(self.allowed_hosts, str) or isinstance(self.allowed_origins, str):
            raise InputError("allowed_hosts and allowed_origins are lists of strings, not one string")
        for host in self.allowed_hosts:
            check_allowed_host(host)
        for origin in self.allowed_origins:
            check_allowed_origin(origin)
        return self
