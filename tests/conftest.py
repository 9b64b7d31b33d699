"""Shared fixtures. Expensive ones (the real model, a mapped store) are session-scoped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PATSCAPE_NO_PROGRESS", "1")

REPO = Path(__file__).resolve().parents[1]
DEV_CORPUS = REPO.parent / "shared" / "data" / "patents-dev.jsonl"
SAMPLE = REPO / "patscape" / "data" / "sample-us-patents.jsonl"


def dev_records() -> list[dict]:
    if not DEV_CORPUS.exists():
        pytest.fail(
            f"the development corpus is missing: {DEV_CORPUS} must be beside the repository "
            "(../shared/data/patents-dev.jsonl); tests that need it fail rather than skip",
            pytrace=False,
        )
    with DEV_CORPUS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="session")
def dev_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real slice of the dev corpus: 240 English and 80 Chinese patents (JSONL)."""
    records = dev_records()
    english = [r for r in records if r["lang"] == "en"][::19][:240]
    chinese = [r for r in records if r["lang"] == "zh"][::17][:80]
    path = tmp_path_factory.mktemp("slice") / "slice.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for record in english + chinese:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def minilm():
    """The real embedded default model, loaded once."""
    from patscape.embed import load_embedder

    return load_embedder("minilm")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
