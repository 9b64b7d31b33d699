"""Model profiles: what a model family needs to be used as its authors intended.

A profile is applied identically by every backend: prompt templates per task, pooling,
normalisation, the token limit, and whether Matryoshka (MRL) truncation is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Task = Literal["query", "document", "cluster"]
TASKS: tuple[Task, ...] = ("query", "document", "cluster")
Pooling = Literal["mean", "cls", "last"]

#: Default task instructions for patents, used by instruction-aware models.
PATENT_INSTRUCTIONS: dict[str, str] = {
    "query": "Given a description of a technology or an invention, retrieve patents that disclose it or constitute prior art",
    "cluster": "Identify the technical field and the main technical subject of the patent",
    "classify": "Classify the patent by its technical field",
}


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """How to format, pool and normalise for one model family.

    Templates use ``{text}`` and ``{instruction}``; an empty instruction leaves the text as is
    only where the template says so (plain models use ``{text}`` everywhere).
    """

    family: str
    pooling: Pooling = "mean"
    normalize: bool = True
    templates: dict[str, str] = field(default_factory=lambda: {t: "{text}" for t in TASKS})
    instructions: dict[str, str] = field(default_factory=dict)
    max_tokens: int = 512
    matryoshka: bool = False
    min_dims: int = 1
    append_eos: bool = False
    padding_side: Literal["left", "right"] = "right"
    multilingual: bool = False

    def format(self, text: str, task: Task) -> str:
        template = self.templates.get(task, "{text}")
        return template.format(text=text, instruction=self.instructions.get(task, ""))

    def with_instructions(self, **overrides: str) -> ModelProfile:
        merged = dict(self.instructions)
        merged.update({k: v for k, v in overrides.items() if v is not None})
        return replace(self, instructions=merged)

    def uses_instructions(self) -> bool:
        return any("{instruction}" in t for t in self.templates.values())


PLAIN = ModelProfile(family="plain")

QWEN3_EMBEDDING = ModelProfile(
    family="qwen3-embedding",
    pooling="last",
    templates={
        "query": "Instruct: {instruction}\nQuery:{text}",
        "document": "{text}",
        "cluster": "Instruct: {instruction}\nQuery:{text}",
    },
    instructions={"query": PATENT_INSTRUCTIONS["query"], "cluster": PATENT_INSTRUCTIONS["cluster"]},
    max_tokens=32768,
    matryoshka=True,
    min_dims=32,
    append_eos=True,
    padding_side="left",
    multilingual=True,
)

E5 = ModelProfile(
    family="e5",
    templates={"query": "query: {text}", "document": "passage: {text}", "cluster": "query: {text}"},
    max_tokens=512,
)

BGE = ModelProfile(
    family="bge",
    pooling="cls",
    templates={
        "query": "Represent this sentence for searching relevant passages: {text}",
        "document": "{text}",
        "cluster": "{text}",
    },
    max_tokens=512,
)

MINILM = replace(PLAIN, family="sentence-transformers", max_tokens=256)


def detect_profile(name: str, model_type: str | None = None) -> ModelProfile:
    """Profile from a model's name or path and, when known, its architecture (``model_type``)."""
    lowered = name.lower()
    if "qwen3" in lowered and "embed" in lowered or (model_type or "").lower() == "qwen3":
        return QWEN3_EMBEDDING
    if "e5" in lowered.replace("-", " ").split() or "/e5-" in lowered or "multilingual-e5" in lowered or lowered.startswith("e5-"):
        family = replace(E5, multilingual="multilingual" in lowered)
        return family
    if "bge" in lowered and "m3" not in lowered:
        return BGE
    if "multilingual" in lowered or "labse" in lowered or "bge-m3" in lowered:
        return replace(PLAIN, multilingual=True)
    return PLAIN
