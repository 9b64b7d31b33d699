"""``POST /corpus/search``: similar patents to a text or to a document (vector, keyword, hybrid)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ..deps import CorpusDep
from ..schemas.corpus import LocateCreate, LocatePublic, SearchCreate, SearchPublic

router = APIRouter(prefix="/corpus", tags=["corpus"])


@router.post("/search", response_model=SearchPublic, summary="Search the corpus")
async def search(body: SearchCreate, corpus: CorpusDep) -> SearchPublic:
    """Give ``query`` (text) or ``like`` (a document id). With a multilingual model a query in one
    language finds patents in others; ``lang`` keeps one language. Hits carry their topic."""
    return await run_in_threadpool(corpus.search, body)


@router.post("/locate", response_model=LocatePublic, response_model_by_alias=True, summary="Drop an idea on the map")
async def locate(body: LocateCreate, corpus: CorpusDep) -> LocatePublic:
    """Where ``text`` lands on a run's map: its topic and place, its nearest topics and patents
    (with the passages that match), the owners active there, and how crowded its neighbourhood is
    against the landscape's own (``density_percentile``). The text is neither stored nor logged."""
    return await run_in_threadpool(corpus.locate, body)
