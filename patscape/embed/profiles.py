"""Model profiles: what a model family needs to be used as its authors intended.

A profile is applied identically by every backend (``st:``, ``gguf:``, ``openai:``): prompt
templates and instructions per task, pooling, EOS handling, padding side, normalisation, the
token limit, and whether Matryoshka (MRL) truncation is allowed.

The profile is detected from the model's metadata -- a Hugging Face ``config.json``
``model_type`` and sentence-transformers pooling, a GGUF's ``general.architecture``,
``<arch>.pooling_type`` and ``general.name`` -- or from its name, and can always be overridden
(``load_embedder(name, profile="qwen3")``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from ..errors import ModelError
from .languages import ANY_LANGUAGE, E5_LANGUAGES, ENGLISH, is_multilingual

Task = Literal["query", "document", "cluster", "classify"]
#: The tasks a corpus is embedded for (and that the server exposes as model-name suffixes).
TASKS: tuple[Task, ...] = ("query", "document", "cluster")
#: Every task a profile can format for (``classify`` too).
ALL_TASKS: tuple[Task, ...] = ("query", "document", "cluster", "classify")
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

    ``pooling`` is what the family expects; the model's own metadata (sentence-transformers
    Pooling module, GGUF ``pooling_type``) wins where it has one, and the profile's value is
    used where it has none. ``append_eos``: the sequence must end with the end-of-text token
    (last-token pooling reads its hidden state); a backend whose tokenizer does not add it adds
    it. ``padding_side``: where a backend pads a batch. ``languages``: the ISO 639-1 codes of
    the languages the model reads, or :data:`~patscape.embed.languages.ANY_LANGUAGE` (``many``)
    when patscape does not know them (see :mod:`patscape.embed.languages`).
    """

    family: str
    pooling: Pooling = "mean"
    normalize: bool = True
    templates: dict[str, str] = field(default_factory=lambda: {t: "{text}" for t in ALL_TASKS})
    instructions: dict[str, str] = field(default_factory=dict)
    max_tokens: int = 512
    matryoshka: bool = False
    min_dims: int = 1
    append_eos: bool = False
    padding_side: Literal["left", "right"] = "right"
    languages: tuple[str, ...] = ANY_LANGUAGE
    #: The ``multilingual`` entry of an embedding space's key, as detection set it before profiles
    #: declared languages: kept so that keys stay what they were, and never changed by
    #: :meth:`with_languages` (declaring languages does not change the vectors). Nothing else reads it.
    key_multilingual: bool = False

    @property
    def multilingual(self) -> bool:
        """Reads more than one language (or any): derived from :attr:`languages`."""
        return is_multilingual(self.languages)

    def with_languages(self, languages: tuple[str, ...] | list[str]) -> ModelProfile:
        return replace(self, languages=tuple(languages))

    def format(self, text: str, task: Task) -> str:
        template = self.templates.get(task, "{text}")
        return template.format(text=text, instruction=self.instructions.get(task, ""))

    def with_instructions(self, **overrides: str | None) -> ModelProfile:
        unknown = sorted(set(overrides) - set(ALL_TASKS))
        if unknown:
            raise ModelError(f"no such task {', '.join(map(repr, unknown))} for an instruction; tasks: {', '.join(ALL_TASKS)}")
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
        "classify": "Instruct: {instruction}\nQuery:{text}",
    },
    instructions={t: PATENT_INSTRUCTIONS[t] for t in ("query", "cluster", "classify")},
    # The model reads 32k tokens; 8192 is the length its authors use, and what fits a CPU or a
    # small GPU. Raise it with load_embedder(..., max_tokens=...).
    max_tokens=8192,
    matryoshka=True,
    min_dims=32,
    append_eos=True,
    padding_side="left",
    languages=ANY_LANGUAGE,
    key_multilingual=True,
)

E5 = ModelProfile(
    family="e5",
    templates={"query": "query: {text}", "document": "passage: {text}", "cluster": "query: {text}", "classify": "query: {text}"},
    max_tokens=512,
    languages=ENGLISH,  # e5-*-v2; detect_profile gives multilingual-e5 the languages of its model card
)

BGE = ModelProfile(
    family="bge",
    pooling="cls",
    templates={
        "query": "Represent this sentence for searching relevant passages: {text}",
        "document": "{text}",
        "cluster": "{text}",
        "classify": "{text}",
    },
    max_tokens=512,
    languages=ENGLISH,
)

MINILM = replace(PLAIN, family="sentence-transformers", max_tokens=256, languages=ENGLISH)

#: Names accepted by ``load_embedder(..., profile=NAME)``.
FAMILIES: dict[str, ModelProfile] = {
    "plain": PLAIN,
    "qwen3": QWEN3_EMBEDDING,
    "qwen3-embedding": QWEN3_EMBEDDING,
    "e5": E5,
    "bge": BGE,
    "minilm": MINILM,
    "sentence-transformers": MINILM,
}


def profile_by_family(family: str) -> ModelProfile:
    key = family.strip().lower()
    if key not in FAMILIES:
        raise ModelError(f"unknown profile {family!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[key]


def detect_profile(name: str, model_type: str | None = None, pooling: Pooling | None = None) -> ModelProfile:
    """Profile from a model's name or path and, when known, its architecture and pooling.

    ``model_type`` is the Hugging Face ``model_type`` or the GGUF ``general.architecture``;
    ``pooling`` the pooling the model's own metadata declares. A Qwen3 architecture is taken
    for Qwen3-Embedding when its pooling is last-token or its name says "embed" (a Qwen3 chat
    model has neither).
    """
    lowered = name.lower()
    arch = (model_type or "").lower()
    if arch == "qwen3" and (pooling == "last" or "embed" in lowered):
        return QWEN3_EMBEDDING
    if "qwen3" in lowered and "embed" in lowered:
        return QWEN3_EMBEDDING
    words = lowered.replace("-", " ").replace("_", " ").replace("/", " ").split()
    if "e5" in words or "/e5-" in lowered or "multilingual-e5" in lowered or lowered.startswith("e5-"):
        multilingual = "multilingual" in lowered
        return replace(E5, languages=E5_LANGUAGES if multilingual else ENGLISH, key_multilingual=multilingual)
    if "bge" in lowered and "m3" not in lowered:
        return BGE
    if "minilm" in lowered:
        multilingual = "multilingual" in lowered
        return replace(MINILM, languages=ANY_LANGUAGE if multilingual else ENGLISH, key_multilingual=multilingual)
    if "multilingual" in lowered or "labse" in lowered or "bge-m3" in lowered:
        return replace(PLAIN, key_multilingual=True)
    return PLAIN  # languages not known: any (``--languages`` declares them)


def apply_overrides(profile: ModelProfile, instructions: Mapping[str, str] | None) -> ModelProfile:
    """``profile`` with the user's instructions (task -> text) in place of the defaults."""
    if not instructions:
        return profile
    if not profile.uses_instructions():
        raise ModelError(
            f"the profile {profile.family!r} takes no instructions (its templates have no {{instruction}}); "
            "choose an instruction-aware profile, e.g. profile='qwen3'"
        )
    return profile.with_instructions(**dict(instructions))
