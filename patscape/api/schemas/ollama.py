"""Ollama's embedding API: ``/api/embed``, the older ``/api/embeddings`` and ``/api/tags``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .openai import INSTRUCTION_DESCRIPTION, TASK_DESCRIPTION, Task


class EmbedCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    input: str | list[str]
    truncate: bool | None = Field(
        None,
        description="`false`: refuse inputs longer than the model's window (400). Otherwise the server's "
        "policy applies: long inputs are split and pooled, or refused; patscape never cuts them silently.",
    )
    dimensions: int | None = None
    options: dict[str, Any] | None = None
    keep_alive: float | str | None = None
    task: Task | None = Field(None, description=TASK_DESCRIPTION)
    instruction: str | None = Field(None, description=INSTRUCTION_DESCRIPTION)


class EmbedPublic(BaseModel):
    model: str
    embeddings: list[list[float]]
    total_duration: int = Field(description="nanoseconds")
    load_duration: int = Field(description="nanoseconds")
    prompt_eval_count: int


class EmbeddingsCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    prompt: str
    options: dict[str, Any] | None = None
    keep_alive: float | str | None = None
    task: Task | None = Field(None, description=TASK_DESCRIPTION)
    instruction: str | None = Field(None, description=INSTRUCTION_DESCRIPTION)


class EmbeddingsPublic(BaseModel):
    embedding: list[float]


class ModelDetailsPublic(BaseModel):
    parent_model: str = ""
    format: str
    family: str
    families: list[str]
    parameter_size: str
    quantization_level: str


class TagPublic(BaseModel):
    name: str
    model: str
    modified_at: str
    size: int
    digest: str
    details: ModelDetailsPublic


class TagsPublic(BaseModel):
    models: list[TagPublic]


class VersionPublic(BaseModel):
    version: str
