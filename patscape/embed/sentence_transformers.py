"""Backend ``st:``: a local sentence-transformers / Hugging Face model directory, on the CPU or GPU.

The profile (detected from ``config.json``'s ``model_type``, the directory's Pooling module and its
name, or given) is applied like in every backend: patscape formats the texts itself and never lets
sentence-transformers add a prompt (``prompt=""`` is always passed, which also defeats a
``default_prompt_name`` in the model's config). For a last-token-pooling profile (Qwen3-Embedding)
the tokenizer must end every sequence with the end-of-text token: if it does not (older tokenizer
files), a post-processor that appends it is installed, and the window accounting leaves room for
it; batches are padded on the left.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MissingDependencyError, ModelError
from .base import Embedder, digest_files
from .profiles import ModelProfile, Pooling, detect_profile

_SAMPLE = 1 << 16
_ST_POOLING: dict[str, Pooling] = {"mean": "mean", "cls": "cls", "lasttoken": "last"}
_PROFILE_POOLING = {"mean": "mean", "cls": "cls", "last": "lasttoken"}


def directory_fingerprint(directory: Path) -> str:
    """Names, sizes and head/tail bytes of every file: cheap even for multi-GB weights."""
    parts: list[tuple[str, bytes | int]] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and ".cache" not in p.parts):
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE)
            if size > 2 * _SAMPLE:
                handle.seek(-_SAMPLE, os.SEEK_END)
            tail = handle.read(_SAMPLE)
        parts.append((path.relative_to(directory).as_posix(), size))
        parts.append(("h", head + tail))
    return digest_files(parts)


def _untruncated(tokenizer: Any) -> Any:
    """A copy of a fast tokenizer that neither truncates nor pads, for counting and splitting."""
    if tokenizer is None:
        return None
    from tokenizers import Tokenizer

    clone = Tokenizer.from_str(tokenizer.to_str())
    clone.no_truncation()
    clone.no_padding()
    return clone


def _quiet_transformers() -> None:
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


def declared_pooling(directory: Path) -> Pooling | None:
    """The pooling of a sentence-transformers directory's Pooling module (None: not one, or other)."""
    modules = directory / "modules.json"
    if not modules.exists():
        return None
    try:
        for module in json.loads(modules.read_text(encoding="utf-8")):
            if str(module.get("type", "")).endswith("Pooling"):
                config = json.loads((directory / module.get("path", "") / "config.json").read_text(encoding="utf-8"))
                mode = config.get("pooling_mode")
                if isinstance(mode, str):
                    return _ST_POOLING.get(mode)
                for key, value in (("pooling_mode_lasttoken", "last"), ("pooling_mode_cls_token", "cls"),
                                   ("pooling_mode_mean_tokens", "mean")):
                    if config.get(key):
                        return value  # type: ignore[return-value]
                return None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{directory}: unreadable sentence-transformers configuration: {exc}") from exc
    return None


def special_token_layout(tokenizer: Any, text: str = "patent") -> tuple[int, bool]:
    """(tokens the tokenizer adds to a text, whether it ends the sequence with a special token)."""
    plain = tokenizer(text, add_special_tokens=False)["input_ids"]
    full = tokenizer(text)["input_ids"]
    added = len(full) - len(plain)
    ends_special = added > 0 and full[-1] in set(tokenizer.all_special_ids) and full[-1] != (plain[-1] if plain else None)
    return added, bool(ends_special)


def append_eos_post_processor(tokenizer: Any, eos: str) -> None:
    """Make a fast tokenizer end every sequence with ``eos`` (as Qwen3-Embedding's tokenizer does)."""
    from tokenizers.processors import TemplateProcessing

    eos_id = tokenizer.convert_tokens_to_ids(eos)
    if eos_id is None or eos_id == getattr(tokenizer, "unk_token_id", None):
        raise ModelError(f"the tokenizer has no {eos!r} token to end sequences with")
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"$A:0 {eos}:0", pair=f"$A:0 {eos}:0 $B:1 {eos}:1", special_tokens=[(eos, eos_id)]
    )


class SentenceTransformerEmbedder(Embedder):
    """Runs a local model directory through ``sentence_transformers.SentenceTransformer``."""

    def __init__(
        self,
        name: str,
        directory: str | Path,
        profile: ModelProfile | None = None,
        device: str | None = None,
        *,
        max_tokens: int | None = None,
    ) -> None:
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise ModelError(f"model directory {directory} does not exist")
        if not (directory / "config.json").exists() and not (directory / "modules.json").exists():
            raise ModelError(f"{directory} is not a Hugging Face / sentence-transformers model directory (no config.json)")
        # Weights come from disk only, never from a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError("sentence-transformers", "st") from exc
        model_type = None
        config = directory / "config.json"
        if config.exists():
            try:
                model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
            except ValueError as exc:
                raise ModelError(f"{config} is not valid JSON: {exc}") from exc
        pooling = declared_pooling(directory)
        profile = profile or detect_profile(str(directory), model_type, pooling)
        _quiet_transformers()
        try:
            if (directory / "modules.json").exists():
                self.model = SentenceTransformer(str(directory), device=device or "cpu", local_files_only=True)
            else:
                # A plain Hugging Face directory: pool as the profile says, not with ST's default (mean).
                self.model = self._compose(directory, profile, device or "cpu")
        except ModelError:
            raise
        except Exception as exc:  # loading raises many types; the message is what matters
            raise ModelError(f"cannot load {directory} with sentence-transformers: {exc}") from exc
        self.directory = directory
        _text_only(self.model)
        tokenizer = self.model.tokenizer
        if profile.padding_side == "left":
            tokenizer.padding_side = "left"
        if profile.append_eos:
            _, ends_special = special_token_layout(tokenizer)
            if not ends_special:
                append_eos_post_processor(tokenizer, profile_eos(tokenizer))
        self.special_tokens, _ = special_token_layout(tokenizer)
        get_dims = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dims = int(get_dims() or 0)
        limit = int(self.model.max_seq_length or profile.max_tokens)
        window = min(limit, max_tokens or profile.max_tokens)
        if max_tokens is not None and max_tokens > limit:
            raise ModelError(f"max_tokens {max_tokens} is more than {directory.name} reads ({limit})")
        super().__init__(name, profile, dims, window)
        self.model.max_seq_length = window  # never cuts a window: each one fits by construction
        self._fast = _untruncated(getattr(tokenizer, "backend_tokenizer", None))
        self._fingerprint = directory_fingerprint(directory)

    @staticmethod
    def _compose(directory: Path, profile: ModelProfile, device: str) -> Any:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers import models as st_models

        transformer = st_models.Transformer(str(directory), max_seq_length=profile.max_tokens)
        dims = transformer.get_embedding_dimension() if hasattr(transformer, "get_embedding_dimension") else transformer.get_word_embedding_dimension()
        pooling = st_models.Pooling(dims, _PROFILE_POOLING[profile.pooling])
        modules = [transformer, pooling] + ([st_models.Normalize()] if profile.normalize else [])
        return SentenceTransformer(modules=modules, device=device)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        if self._fast is not None:
            return [tuple(span) for span in self._fast.encode(text, add_special_tokens=False).offsets]  # type: ignore[misc]
        encoded = self.model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(span) for span in encoded["offset_mapping"]]

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        # prompt="" : the text is formatted already; no prompt from the model's config is added.
        return np.asarray(
            self.model.encode(texts, prompt="", batch_size=len(texts), convert_to_numpy=True,
                              normalize_embeddings=False, show_progress_bar=False),
            dtype=np.float32,
        )

    def fingerprint(self) -> str:
        return self._fingerprint


def _text_only(model: Any) -> None:
    """Keep sentence-transformers from rendering texts through the tokenizer's chat template.

    Since sentence-transformers 6, a Transformer module whose tokenizer has a chat template also
    takes the "message" modality and then turns every plain string into a chat message (system
    prompt, role markers) before tokenising: our texts are already formatted by the profile, so
    that modality is removed.
    """
    for module in model:
        config = getattr(module, "modality_config", None)
        if isinstance(config, dict) and "message" in config and "text" in config:
            module.modality_config = {k: v for k, v in config.items() if k != "message"}


def profile_eos(tokenizer: Any) -> str:
    """The end-of-text token a last-token model reads: ``<|endoftext|>`` where the vocabulary has it
    (Qwen), else the tokenizer's EOS token."""
    vocab = tokenizer.get_vocab()
    if "<|endoftext|>" in vocab:
        return "<|endoftext|>"
    if tokenizer.eos_token:
        return str(tokenizer.eos_token)
    raise ModelError("the tokenizer has no end-of-text token, which last-token pooling needs")
