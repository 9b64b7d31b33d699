"""Runs (maps) and what they hold: topics, map points, evolution per year, the topic graph.

``{run}`` is a run id or ``latest``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..corpus import MAP_FIELDS
from ..deps import CorpusDep
from ..schemas.corpus import (
    CorpusPublic,
    EmergingPublic,
    EvolutionPublic,
    FlowDocumentsPublic,
    FlowsPublic,
    GraphPublic,
    LineagePublic,
    MapPublic,
    NameUpdate,
    NodeNamePublic,
    OwnersPublic,
    RunPublic,
    TopicListPublic,
)

router = APIRouter(prefix="/corpus", tags=["corpus"])
MapFormat = Literal["points", "columns"]
_FIELD = "(?:" + "|".join(MAP_FIELDS) + ")"
_FIELDS = f"^{_FIELD}(?:,{_FIELD})*$"


@router.get("", response_model=CorpusPublic, summary="The corpus: counts, languages, spaces, runs")
async def overview(corpus: CorpusDep) -> CorpusPublic:
    return await run_in_threadpool(corpus.overview)


@router.get("/runs", response_model=list[RunPublic], summary="Every run (map) of the corpus")
async def runs(corpus: CorpusDep) -> list[RunPublic]:
    return await run_in_threadpool(corpus.runs)


@router.get("/runs/{run}", response_model=RunPublic, summary="One run, with its parameters and metrics")
async def run(run: str, corpus: CorpusDep) -> RunPublic:
    return await run_in_threadpool(corpus.run, run)


@router.get("/runs/{run}/topics", response_model=TopicListPublic, summary="Topics: labels, keywords, codes, sizes")
async def topics(run: str, corpus: CorpusDep) -> TopicListPublic:
    return await run_in_threadpool(corpus.topics, run)


@router.put("/runs/{run}/levels/{level}/nodes/{node}/name", response_model=NodeNamePublic,
            summary="Rename a topic, or a node of a level above the topics")
async def rename(
    run: str,
    level: Annotated[int, Path(description="0 is the top level; the topics are the last (`hierarchy.levels - 1`).")],
    node: Annotated[int, Path(description="The node's id at its level; a topic's cluster at the topics' level.")],
    body: Annotated[NameUpdate, Body()],
    corpus: CorpusDep,
) -> NodeNamePublic:
    """An analyst's name (one line, 1-200 characters, whitespace collapsed), kept by every later
    naming, as ``patscape topic --rename``. Every view then gives it as the node's ``label``
    (``keyword_label`` and ``name_source`` beside it). 404 for an unknown run, level or node; 400
    for a name that breaks the rules."""
    return await run_in_threadpool(corpus.rename, run, level, node, body.name)


@router.get("/runs/{run}/map", response_model=MapPublic, summary="Map points (with uploads placed since)")
async def map_points(
    run: str,
    corpus: CorpusDep,
    format: Annotated[MapFormat, Query(description="`points`: one object per point; `columns`: one list per field.")] = "points",
    fields: Annotated[str | None, Query(
        pattern=_FIELDS, description=f"`format=columns` only: the columns to send, comma-separated ({', '.join(MAP_FIELDS)}).",
    )] = None,
) -> MapPublic | Response:
    if format == "columns":  # serialised once per run, sent as is (validating 200k points would take seconds)
        wanted = tuple(sorted(set(fields.split(",")), key=MAP_FIELDS.index)) if fields else MAP_FIELDS
        return Response(await run_in_threadpool(corpus.map_columns, run, wanted), media_type="application/json")
    return await run_in_threadpool(corpus.map, run)


@router.get("/runs/{run}/emerging", response_model=EmergingPublic, summary="Bursts of topics, codes, owners or terms")
async def emerging(
    run: str,
    corpus: CorpusDep,
    by: Annotated[Literal["topic", "code", "assignee", "term"], Query(description="What bursts.")] = "topic",
    since: Annotated[int | None, Query(ge=1000, le=9999, description="Only bursts running in or after this year.")] = None,
    month: Annotated[bool, Query(description="Batches of a month instead of a year.")] = False,
) -> EmergingPublic:
    return await run_in_threadpool(corpus.emerging, run, by, since, month)


@router.get("/runs/{run}/owners", response_model=OwnersPublic, summary="Who holds what: organisations, patents, families, growth, topics")
async def owners(
    run: str,
    corpus: CorpusDep,
    topic: Annotated[int | None, Query(description="Only the patents of this node (of `level`).")] = None,
    level: Annotated[int | None, Query(ge=0, description="Level of `topic` and of the owners' topics (0 the top; default the topics).")] = None,
    top: Annotated[int, Query(ge=1, le=5000)] = 50,
    by_family: Annotated[bool, Query(description="Rank by families instead of patents.")] = False,
    all_topics: Annotated[bool, Query(description="Every topic of each owner (the owner x topic matrix), not its first five.")] = False,
    ids: Annotated[bool, Query(description="Each owner's patent ids (its portfolio on the map).")] = False,
) -> OwnersPublic:
    """Assignee names normalised into organisations (case, punctuation, legal forms, the store's
    aliases); a 404 for an unknown run, level or node."""
    return await run_in_threadpool(corpus.owners, run, topic, level, top, by_family, all_topics, ids)


@router.get("/runs/{run}/lineage", response_model=LineagePublic, summary="How the run's topics continue the run it was aligned to")
async def lineage(run: str, corpus: CorpusDep) -> LineagePublic:
    return await run_in_threadpool(corpus.lineage, run)


_YEARS = Query(ge=1, le=50, description="Instead of the runs before it: the run's own time windows of this many years "
                                       "(each patent flows from the topic its nearest patents of the window before are in).")


@router.get("/runs/{run}/flows", response_model=FlowsPublic,
            summary="The alluvial view: where each topic's documents went from run to run, or across the run's time windows")
async def flows(
    run: str,
    corpus: CorpusDep,
    runs: Annotated[int, Query(ge=1, le=12, description="The run and up to runs - 1 runs before it (its parents).")] = 4,
    years: Annotated[int | None, _YEARS] = None,
    level: Annotated[int | None, Query(ge=0, description="Level from the top (default: the topics).")] = None,
    min_documents: Annotated[int, Query(ge=1, description="Leave out smaller flows (counted in left_out).")] = 1,
) -> FlowsPublic:
    return await run_in_threadpool(corpus.flows, run, runs, level, min_documents, years)


@router.get("/runs/{run}/flows/documents", response_model=FlowDocumentsPublic,
            summary="The documents of one flow: from node source of the column before to node target of the next")
async def flow_documents(
    run: str,
    corpus: CorpusDep,
    before: Annotated[int, Query(ge=0, description="The earlier column's key: a run id (this run's ancestor), or with "
                                                    "`years` a window's index (the flow goes to the next window).")],
    source: Annotated[int, Query(ge=-2, description="Node of the earlier column (-1, -2: see the view's places).")],
    target: Annotated[int, Query(ge=-2, description="Node of the later column.")],
    years: Annotated[int | None, _YEARS] = None,
    level: Annotated[int | None, Query(ge=0, description="As for the flows.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> FlowDocumentsPublic:
    return await run_in_threadpool(corpus.flow_documents, run, before, source, target, level, limit, years)


@router.get("/runs/{run}/evolution", response_model=EvolutionPublic, summary="Topic sizes per year")
async def evolution(run: str, corpus: CorpusDep) -> EvolutionPublic:
    return await run_in_threadpool(corpus.evolution, run)


@router.get("/runs/{run}/graph", response_model=GraphPublic, summary="Topics as nodes, their links as edges")
async def graph(run: str, corpus: CorpusDep) -> GraphPublic:
    return await run_in_threadpool(corpus.graph, run)
