"""The corpus API: search, documents, runs, topics, the map, evolution, the topic graph, uploads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SearchMode = Literal["vector", "keyword", "hybrid"]
JobState = Literal["queued", "running", "done", "failed"]


# -- in ------------------------------------------------------------------------------------------
class LocateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=200_000, description="The idea, a draft claim or a disclosure; neither stored nor logged.")
    as_: Literal["query", "document"] = Field("query", alias="as", description="Search with it embedded as a query or as a document "
                                                                                "(where it lands is read as a document).")
    k: int = Field(10, ge=1, le=200, description="Nearest patents listed.")
    run: int | None = Field(None, ge=1, description="The run (map) to place it on (default: the newest).")


class SearchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, description="Text to search for (any language with a multilingual model).")
    like: str | None = Field(None, description="A document id: find the patents most similar to it.")
    k: int = Field(10, ge=1, le=500, description="Number of hits.")
    mode: SearchMode = Field("vector", description="`vector`, `keyword` (BM25) or `hybrid` (rank fusion).")
    lang: str | None = Field(None, description="Only documents in this language (ISO 639-1).")
    years: str | None = Field(None, max_length=20, description="Only documents dated in these years: `2018-2023`, `2018-`, `-2015` or `2020`.")
    cpc: str | None = Field(None, max_length=40, description="Only documents with a CPC or IPC code starting so (`H01M`, `H01M10/052`).")
    run: int | None = Field(None, ge=1, description="The run whose topics the hits carry, searched in its embedding space "
                                                   "(default: the newest run).")
    by_family: bool = Field(False, description="One hit per patent family (its best-ranked publication; the others in "
                                               "`family_members`).")


class NameUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=2000, description=(
        "The analyst's name: one line, 1 to 200 characters once runs of whitespace are collapsed. "
        "No namer overwrites it."))


class RecordCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=300)
    title: str = ""
    abstract: str = ""
    text: str = ""
    claims: str | list[str] = Field("", description="The claims: a list, or one claim per line.")
    description: str = Field("", description="The description, one paragraph per line.")
    lang: str | None = None
    date: str | None = None
    cpc: list[str] = Field(default_factory=list)
    ipc: list[str] = Field(default_factory=list)
    assignee: str | None = None


class RecordsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[RecordCreate] = Field(min_length=1, max_length=10_000)


# -- out -----------------------------------------------------------------------------------------
class EvidencePublic(BaseModel):
    field: str = Field(description="The field the passage is taken from: claims, description or text.")
    start: int = Field(description="Character offset of the passage in that field.")
    end: int = Field(description="Character offset just past the passage.")
    text: str = Field(description="The passage itself.")
    score: float = Field(description="Cosine similarity of the passage to the query.")


class HitPublic(BaseModel):
    id: str
    score: float
    title: str
    lang: str | None = None
    date: str | None = None
    cluster: int | None = None
    label: str | None = None
    passage: EvidencePublic | None = Field(
        None, description="The best-matching passage of the patent's full text (query searches of a space with passages)."
    )
    family_members: list[str] | None = Field(
        None, description="With `by_family`: the other publications of the hit's family among the results."
    )


class SearchPublic(BaseModel):
    mode: SearchMode
    query: str | None
    like: str | None
    run: int | None = Field(description="The run whose topics the hits carry.")
    hits: list[HitPublic]


class DocumentPublic(BaseModel):
    id: str
    title: str
    abstract: str
    text: str = Field(description="Body text of unknown structure (e.g. a plain-text file).")
    claims: str = Field(description="One claim per line.")
    description: str = Field(description="The description, one paragraph per line.")
    lang: str | None
    date: str | None
    cpc: list[str]
    ipc: list[str]
    assignee: str | None
    source: str | None
    run: int | None
    cluster: int | None = Field(description="Topic in the run (-1: outlier; None: not on the map).")
    label: str | None
    subtopic: int | None = Field(None, description="Sub-topic in the run (None: its topic has none, or not on the map).")
    subtopic_label: str | None = None
    x: float | None
    y: float | None
    placed: bool = Field(description="Uploaded after the map was built and placed among its neighbours.")
    neighbours: list[HitPublic]


class RunPublic(BaseModel):
    id: int
    name: str | None = Field(None, description="The run's name, where it was given one (`patscape runs --name`).")
    parent: int | None = Field(None, description="The run it was updated from or aligned to (None: numbered afresh).")
    updated: bool = Field(False, description="Made by `patscape map --update` from its parent.")
    space: str
    model: str | None
    created_at: float
    seed: int
    documents: int
    placed: int
    topics: int
    metrics: dict[str, Any]
    params: dict[str, Any]


class CorpusPublic(BaseModel):
    store: str
    documents: int
    languages: dict[str, int]
    model: str
    model_multilingual: bool | None
    #: The languages the served model reads (ISO 639-1 codes, or ["many"]: any); None: no model.
    model_languages: list[str] | None = None
    spaces: list[dict[str, Any]]
    runs: list[RunPublic]


class CodeSharePublic(BaseModel):
    scheme: str = Field(description="cpc or ipc (subclasses), cpc_main or ipc_main (main groups).")
    code: str
    share: float
    title: str | None = Field(None, description="The IPC title of a main group, where one ships.")


class RepresentativePublic(BaseModel):
    id: str
    title: str


class TopicPublic(BaseModel):
    cluster: int
    label: str
    size: int
    placed: int = Field(0, description="Uploaded documents placed in this topic since the map was built.")
    keywords: list[str]
    keywords_by_language: dict[str, list[str]]
    codes: list[CodeSharePublic]
    representatives: list[RepresentativePublic]
    languages: dict[str, int]
    growth: float | None
    momentum: float | None
    recent: int | None = Field(None, description="The topic's patents in the window of growth and momentum.")
    corpus_growth: float | None = Field(None, description="Annual growth of the whole corpus over that window.")
    first_year: int | None
    peak_year: int | None
    median_year: int | None
    parent: int | None = Field(None, description="The topic's node at the level above it (None: no level above).")
    children: list[int] = Field(default_factory=list, description="Its sub-topics (empty: the topic is not split).")
    keyword_label: str | None = Field(None, description="The label made of the topic's keywords (`label` is its name where it has one).")
    name_source: str | None = Field(None, description="Where `label` comes from: namer, fallback or analyst (None: the keyword label).")


class LevelNodePublic(BaseModel):
    level: int = Field(description="0 is the top (coarsest) level.")
    node: int = Field(description="Unique within its level.")
    parent: int | None = Field(description="Its node at the level above (None at the top).")
    children: list[int] = Field(description="Its nodes at the level below (topics, below the last level).")
    label: str
    keyword_label: str | None = Field(None, description="The label made of the node's keywords.")
    name_source: str | None = Field(None, description="Where `label` comes from: namer, fallback or analyst (None: the keyword label).")
    size: int
    keywords: list[str]
    keywords_by_language: dict[str, list[str]]
    codes: list[CodeSharePublic]
    representatives: list[RepresentativePublic]
    languages: dict[str, int]
    growth: float | None = None
    momentum: float | None = None
    recent: int | None = Field(None, description="The node's patents in the window of growth and momentum.")
    corpus_growth: float | None = None
    first_year: int | None = None
    peak_year: int | None = None
    median_year: int | None = None


class NodeNamePublic(BaseModel):
    """A topic or a node of a level above the topics, as renamed."""

    run: int
    level: int = Field(description="0 is the top level; the topics are the level numbered by the levels above them, their sub-topics one below.")
    node: int = Field(description="The node, or the topic's cluster at the topics' level.")
    topic: bool = Field(description="True when the node is a topic.")
    subtopic: bool = Field(False, description="True when the node is a sub-topic (the level below the topics).")
    label: str = Field(description="The name now shown for it.")
    keyword_label: str | None
    name_source: str | None


class HierarchyPublic(BaseModel):
    levels: int = Field(description="Levels including the topics (1: a flat run, or one made before hierarchies).")
    counts: list[int] = Field(description="Nodes per level, top first; the last is the topics.")
    method: str | None = None
    notice: str | None = None
    subtopics: dict[str, Any] | None = Field(
        None, description="The level below the topics: count, topics_split, min_size (of a core), method.")


class TopicListPublic(BaseModel):
    run: int
    topics: list[TopicPublic]
    hierarchy: HierarchyPublic
    levels: list[list[LevelNodePublic]] = Field(description="The levels above the topics, top first.")
    subtopics: list[LevelNodePublic] = Field(
        default_factory=list, description="The level below the topics: sub-topics of the topics that hold them (parent: the topic).")


class PointPublic(BaseModel):
    id: str
    x: float
    y: float
    cluster: int
    title: str
    placed: bool = False


class PointColumnsPublic(BaseModel):
    """The map's points column-wise: entry ``i`` of every list is point ``i`` (only the fields asked for)."""

    id: list[str] | None = None
    title: list[str] | None = None
    cluster: list[int] | None = Field(None, description="Topic (-1: outlier).")
    x: list[float] | None = None
    y: list[float] | None = None
    placed: list[int] | None = Field(None, description="1: uploaded after the map was built and placed among its neighbours.")


class MapPublic(BaseModel):
    run: int
    count: int
    placed: int
    points: list[PointPublic] | None = Field(None, description="One object per point (`format=points`, the default).")
    columns: PointColumnsPublic | None = Field(
        None, description="The points column-wise (`format=columns`): some 40% smaller, and quick to read into arrays."
    )


class TopicYearsPublic(BaseModel):
    cluster: int
    label: str
    per_year: dict[str, int]
    growth: float | None
    momentum: float | None


class LineageEventPublic(BaseModel):
    level: int = Field(description="The level in the run's numbering (0 the top; the topics', then their sub-topics').")
    event: str = Field(description="continued, grown, shrank, split, merged, faded or born (MONIC's transitions).")
    old: list[int] = Field(description="Nodes of the run aligned to.")
    new: list[int] = Field(description="Nodes of this run.")
    counts: dict[str, Any] = Field(description="Sizes and shared documents behind the event.")


class LineagePublic(BaseModel):
    run: int
    aligned_to: int | None = Field(description="The run whose ids this run kept where its topics continue them (None: numbered afresh).")
    topics_kept: int | None = None
    thresholds: dict[str, float] | None = None
    events: list[LineageEventPublic]


class FlowColumnPublic(BaseModel):
    key: int = Field(description="The run's id (across runs) or the window's index from 0 (across windows).")
    title: str = Field(description="`run 5 · name`, or the window's years (`2011–2015`, `to 1990`).")
    level: int = Field(description="The level shown (0 the top; a run's topics' level where it has fewer than asked).")
    nodes: list[dict[str, Any]] = Field(description="node, label, size (across windows: the node's patents in the window).")
    outliers: int = Field(description="Documents outside every topic (place -1).")
    documents: int
    run: int | None = Field(None, description="Across runs: the run.")
    name: str | None = None
    created_at: float | None = None
    first: int | None = Field(None, description="Across windows: the window's first year.")
    last: int | None = None
    sampled: bool | None = Field(None, description="Across windows: the window's patents are a seeded sample.")


class FlowPairPublic(BaseModel):
    before: int = Field(description="Key of the earlier column.")
    after: int = Field(description="Key of the later column.")
    flows: list[dict[str, Any]] = Field(description="source (a node of the earlier column), target (of the later), documents; "
                                                    "-1 and -2: see places. Largest first.")
    left_out: dict[str, int] = Field(description="Flows (and their documents) under min_documents.")
    kept: int = Field(description="Documents whose source and target are the same node id.")


class FlowsPublic(BaseModel):
    kind: Literal["runs", "windows"]
    run: int
    level: int | None = Field(description="As asked: None for the topics.")
    columns: list[FlowColumnPublic] = Field(description="Oldest first: the run and the runs before it, or the run's time windows.")
    pairs: list[FlowPairPublic]
    min_documents: int
    places: dict[str, str] = Field(description="What the places -1 and -2 hold.")
    years: int | None = Field(None, description="Across windows: the years of a window.")
    dates: dict[str, int] | None = Field(None, description="Across windows: patents dated by priority, filing or publication date (or not).")
    empty: list[str] | None = Field(None, description="Across windows: windows without patents, left out.")
    sampled: list[str] | None = None
    neighbours: int | None = Field(None, description="Across windows: the nearest earlier patents that vote for a patent's source.")


class FlowDocumentsPublic(BaseModel):
    before: int
    after: int
    source: int
    target: int
    count: int = Field(description="Documents in the flow (the first `limit` are listed, by id).")
    documents: list[dict[str, str]] = Field(description="id, title.")


class LocatePublic(BaseModel):
    run: int
    space: str
    as_: str = Field(alias="as", description="How the nearest patents were searched: query or document.")
    k: int
    topic: dict[str, Any] = Field(description="cluster (-1: none) and label: the topic the text lands in.")
    x: float | None
    y: float | None
    density_percentile: float | None = Field(description="Its neighbourhood is denser than this share (%) of the landscape's own.")
    density: dict[str, Any]
    nearest_cosine: float | None
    topics: list[dict[str, Any]] = Field(description="cluster, label, share, patents: the topics of its nearest patents, nearest first.")
    patents: list[dict[str, Any]] = Field(description="id, title, score, date, lang, cluster, label, passage.")
    owners: list[dict[str, Any]] = Field(description="name, patents: the organisations active around it.")
    neighbourhood: int

    model_config = ConfigDict(populate_by_name=True)


class OwnersPublic(BaseModel):
    run: int
    level: int = Field(description="The level of `topic` and of each owner's topics (0 the top).")
    topic: int | None = Field(description="The node whose patents are counted (None: the whole run).")
    topic_label: str | None
    counted: Literal["patents", "families"] = Field(description="What the owners are ranked by.")
    documents: int = Field(description="Patents counted (the node's, or the run's).")
    families: int = Field(description="Their families (a patent without a family id is its own).")
    with_owner: int
    recent_years: list[int] | None = Field(description="The years of the growth fit (first, last).")
    names: int = Field(description="Distinct owner names as written.")
    organisations: int = Field(description="Organisations they were normalised into.")
    aliases: int = Field(description="Aliases in the store (`patscape owners --aliases`).")
    owners: list[dict[str, Any]] = Field(description="name, key, variants [{name, patents}], patents, families, share, "
                                                     "family_share, first_year, last_year, per_year, growth, recent, "
                                                     "topics [{node, label, patents}].")


class EmergingPublic(BaseModel):
    run: int
    by: str = Field(description="topic, code, assignee or term.")
    batches: str = Field(description="year or month.")
    first: str
    last: str
    dates: dict[str, int] = Field(description="How many patents were dated by priority, filing or publication date (or not at all).")
    parameters: dict[str, float]
    bursts: list[dict[str, Any]] = Field(description="Strongest first: item, begin, end, strength, running, counts, totals "
                                                     "(topics: level and label; codes: scheme).")


class EvolutionPublic(BaseModel):
    run: int
    years: list[int]
    recent_from: int | None
    recent_to: int | None = Field(None, description="Last year of the window of growth and momentum.")
    partial_year: int | None = Field(
        None, description="The last year when the data covers it only in part; growth and momentum leave it out."
    )
    data_to: str | None = Field(None, description="The newest date of the partial year, when known.")
    corpus_growth: float | None = Field(None, description="Annual growth of the whole corpus over the window.")
    topics: list[TopicYearsPublic]


class GraphNodePublic(BaseModel):
    id: int
    label: str
    size: int
    x: float | None
    y: float | None


class GraphLinkPublic(BaseModel):
    source: int
    target: int
    similarity: float | None
    citations: int


class GraphPublic(BaseModel):
    run: int
    nodes: list[GraphNodePublic]
    links: list[GraphLinkPublic]


class JobPublic(BaseModel):
    id: str
    state: JobState
    stage: str
    done: int
    total: int
    added: int
    unchanged: int
    duplicates: int
    skipped: int
    embedded: int
    placed: int
    run: int | None
    documents: list[str] = Field(description="Ids of the documents of this upload (added, replaced or already stored).")
    problems: list[str]
    message: str | None
    created_at: float
    finished_at: float | None
