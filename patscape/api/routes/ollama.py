"""Ollama's embedding endpoints, so that ``OLLAMA_BASE_URL`` may point at patscape."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from fastapi import APIRouter

from ... import __version__
from ..deps import EngineDep
from ..schemas.ollama import (
    EmbedCreate,
    EmbeddingsCreate,
    EmbeddingsPublic,
    EmbedPublic,
    ModelDetailsPublic,
    TagPublic,
    TagsPublic,
    VersionPublic,
)

router = APIRouter(prefix="/api", tags=["ollama"])


@router.post("/embed", response_model=EmbedPublic, summary="Embed (Ollama)")
async def embed(body: EmbedCreate, engine: EngineDep) -> EmbedPublic:
    """One vector per input. ``truncate: false`` refuses inputs longer than the model's window;
    otherwise the server's policy applies (split and pool, or refuse). Nothing is cut silently."""
    started = time.perf_counter_ns()
    engine.require()
    choice = engine.choose(body.model)
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    result = await engine.embed(
        texts, task=body.task or choice.task or "document", dims=body.dimensions, instruction=body.instruction,
        api="ollama", reject_long=True if body.truncate is False else None,
    )
    return EmbedPublic(
        model=body.model, embeddings=result.vectors.tolist(), total_duration=time.perf_counter_ns() - started,
        load_duration=0, prompt_eval_count=int(sum(result.tokens)),
    )


@router.post("/embeddings", response_model=EmbeddingsPublic, summary="Embed one prompt (older Ollama API)")
async def embeddings(body: EmbeddingsCreate, engine: EngineDep) -> EmbeddingsPublic:
    engine.require()
    choice = engine.choose(body.model)
    result = await engine.embed(
        [body.prompt], task=body.task or choice.task or "document", instruction=body.instruction, api="ollama",
        param="prompt",
    )
    return EmbeddingsPublic(embedding=result.vectors[0].tolist())


@router.get("/tags", response_model=TagsPublic, summary="List models (Ollama)")
async def tags(engine: EngineDep) -> TagsPublic:
    """The served model as ``NAME:latest``, and its task variants."""
    model = engine.embedder
    family = model.profile.family if model is not None else "unknown"
    modified = datetime.fromtimestamp(engine.created, UTC).isoformat()
    out = []
    for tag in [f"{engine.model_id}:latest", *engine.model_ids()[1:]]:
        details = ModelDetailsPublic(format="patscape", family=family, families=[family], parameter_size="",
                                     quantization_level="")
        digest = hashlib.sha256(((model.fingerprint() if model else "") + tag).encode()).hexdigest()
        out.append(TagPublic(name=tag, model=tag, modified_at=modified, size=0, digest=digest, details=details))
    return TagsPublic(models=out)


@router.get("/version", response_model=VersionPublic, summary="Server version (Ollama)")
async def version() -> VersionPublic:
    return VersionPublic(version=__version__)
