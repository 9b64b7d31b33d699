"""The OpenAI embeddings API, as OpenAI defines it, plus two documented extensions.

Extensions (ignored by every OpenAI client, used when given): ``task`` picks the kind of
embedding (``query``, ``document``, ``cluster``) for instruction-aware models, and
``instruction`` replaces the task instruction of the model's profile.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["query", "document", "cluster"]
TASK_DESCRIPTION = (
    "patscape extension: the kind of embedding for instruction-aware models (e.g. Qwen3-Embedding): "
    "`query` for search queries, `document` for passages, `cluster` for clustering. Default: `document`, "
    "or what the model name's suffix says (`NAME:query`)."
)
INSTRUCTION_DESCRIPTION = (
    "patscape extension: a task instruction replacing the profile's (instruction-aware models only; "
    "others answer 400)."
)


class EmbeddingCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="A text, a list of texts, a list of token ids (one input) or a list of lists of token ids."
    )
    model: str = Field(description="The served model, or `NAME:query` / `NAME:document` / `NAME:cluster`.")
    dimensions: int | None = Field(None, description="Matryoshka truncation; only for models trained for it.")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="`base64`: little-endian float32 bytes, base64-encoded."
    )
    user: str | None = None
    task: Task | None = Field(None, description=TASK_DESCRIPTION)
    instruction: str | None = Field(None, description=INSTRUCTION_DESCRIPTION)


class EmbeddingPublic(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class UsagePublic(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingListPublic(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingPublic]
    model: str
    usage: UsagePublic


class ModelPublic(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "patscape"


class ModelListPublic(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]
