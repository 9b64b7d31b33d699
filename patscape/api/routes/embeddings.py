"""``POST /v1/embeddings`` and ``GET /v1/models``, as OpenAI defines them."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import EngineDep
from ..schemas.openai import (
    EmbeddingCreate,
    EmbeddingListPublic,
    ModelListPublic,
    ModelPublic,
)

router = APIRouter(prefix="/v1", tags=["openai"])


@router.post("/embeddings", response_model=EmbeddingListPublic, summary="Create embeddings (OpenAI)")
async def create_embeddings(body: EmbeddingCreate, engine: EngineDep) -> JSONResponse:
    """Embed a text, a list of texts, or token ids (decoded with the model's own tokenizer).

    The model name may carry a task (``minilm:query``), as may the ``task`` field; ``dimensions``
    works for Matryoshka models only; ``encoding_format=base64`` returns little-endian float32.
    """
    engine.require()
    choice = engine.choose(body.model)
    task = body.task or choice.task or "document"
    raw = body.input
    if isinstance(raw, str):
        texts = [raw]
    elif raw and all(isinstance(item, int) for item in raw):
        texts = engine.decode_tokens([raw])  # type: ignore[list-item]
    elif raw and all(isinstance(item, list) for item in raw):
        texts = engine.decode_tokens(raw)  # type: ignore[arg-type]
    else:
        texts = list(raw)  # type: ignore[arg-type]
    result = await engine.embed(texts, task=task, dims=body.dimensions, instruction=body.instruction, api="openai")
    data: list[dict[str, Any]] = []
    for i, vector in enumerate(result.vectors):
        if body.encoding_format == "base64":
            embedding: Any = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
        else:
            embedding = vector.tolist()
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    total = int(sum(result.tokens))
    name = body.model.strip() or choice.name
    return JSONResponse({"object": "list", "data": data, "model": name,
                         "usage": {"prompt_tokens": total, "total_tokens": total}})


@router.get("/models", response_model=ModelListPublic, summary="List models (OpenAI)")
async def list_models(engine: EngineDep) -> ModelListPublic:
    """The served model, and the same model with a task suffix (``:query``, ``:document``, ``:cluster``)."""
    return ModelListPublic(data=[ModelPublic(id=i, created=engine.created) for i in engine.model_ids()])


@router.get("/models/{model_id:path}", response_model=ModelPublic, summary="Retrieve a model (OpenAI)")
async def get_model(model_id: str, engine: EngineDep) -> ModelPublic:
    engine.choose(model_id, param="model_id")
    return ModelPublic(id=model_id, created=engine.created)
