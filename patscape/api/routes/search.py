"""``POST /corpus/search``: similar patents to a text or to a document (vector, keyword, hybrid)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ..deps import CorpusDep
from ..schemas.corpus import SearchCreate, SearchPublic

router = APIRouter(prefix="/corpus", tags=["corpus"])


@router.post("/search", response_model=SearchPublic, summary="Search the corpus")
async def search(body: SearchCreate, corpus: CorpusDep) -> SearchPublic:
    """Give ``query`` (text) or ``like`` (a document id). With a multilingual model a query in one
    language finds patents in others; ``lang`` keeps one language. Hits carry their topic."""
    return await run_in_threadpool(corpus.search, body)
