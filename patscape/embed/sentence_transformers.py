"""Backend ``st:``: a local sentence-transformers / Hugging Face model directory, on the CPU or GPU."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MissingDependencyError, ModelError
from .base import Embedder, digest_files
from .profiles import ModelProfile, detect_profile

_SAMPLE = 1 << 16


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


class SentenceTransformerEmbedder(Embedder):
    """Runs a local model directory through ``sentence_transformers.SentenceTransformer``."""

    def __init__(self, name: str, directory: str | Path, profile: ModelProfile | None = None, device: str | None = None) -> None:
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
            model_type = json.loads(config.read_text()).get("model_type")
        profile = profile or detect_profile(str(directory), model_type)
        _quiet_transformers()
        try:
            self.model = SentenceTransformer(str(directory), device=device or "cpu", local_files_only=True)
        except Exception as exc:  # loading raises many types; the message is what matters
            raise ModelError(f"cannot load {directory} with sentence-transformers: {exc}") from exc
        self.directory = directory
        self.model.tokenizer.padding_side = profile.padding_side
        get_dims = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        dims = int(get_dims() or 0)
        limit = int(self.model.max_seq_length or profile.max_tokens)
        super().__init__(name, profile, dims, min(limit, profile.max_tokens))
        self._fast = _untruncated(getattr(self.model.tokenizer, "backend_tokenizer", None))
        self._fingerprint = directory_fingerprint(directory)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        if self._fast is not None:
            return [tuple(span) for span in self._fast.encode(text, add_special_tokens=False).offsets]  # type: ignore[misc]
        encoded = self.model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(span) for span in encoded["offset_mapping"]]

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        return np.asarray(
            self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=False, show_progress_bar=False),
            dtype=np.float32,
        )

    def fingerprint(self) -> str:
        return self._fingerprint
