"""The served corpus: runs, topics, the map (with placed uploads), search and documents.

Every call opens its own :class:`~patscape.store.Store` connection on the calling thread
(SQLite connections stay on the thread that made them; WAL mode lets readers run beside the
upload writer). Views of a run that are costly to build (the map of every point) are cached
and rebuilt when the run's placements change.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..embed import Embedder, load_embedder, resolve_alias
from ..errors import InputError, NotFoundError, SpaceMismatchError
from ..filters import SearchFilter
from ..records import Hit
from ..search import search as run_search
from ..spaces import pick_space
from ..store import RunInfo, Space, Store, clean_name
from ..text import display_phrase
from ..vectors.milvus import open_vector_store  # imports pymilvus only when it opens one
from .engine import Engine, SharedEmbedder
from .schemas import corpus as schemas

log = logging.getLogger(__name__)

NEIGHBOURS = 10
#: The fields of a map point, in the order ``format=columns`` sends them.
MAP_FIELDS = ("id", "title", "cluster", "x", "y", "placed", "subtopic")
_MAP_CACHE_SIZE = 4


class Corpus:
    """Read access to one store, shaped for the API."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = Path(path)
        self.engine = engine
        with self.store():  # fails early (StoreError) when the path is not a store
            pass
        self._lock = threading.Lock()
        self._maps: OrderedDict[tuple[Any, ...], Any] = OrderedDict()  # map views by format, run, placements
        self._embedders: dict[str, SharedEmbedder] = {}
        #: ``serve --vector-store``: the document vectors are ranked there (a Milvus collection)
        self.vectors = _open_vectors(engine.settings.vector_store)

    def close(self) -> None:
        """Close the ``--vector-store`` client (the server is stopping)."""
        if self.vectors is not None:
            self.vectors.close()

    @contextmanager
    def store(self) -> Iterator[Store]:
        with Store(self.path, create=False) as store:
            yield store

    # -- models of the store's spaces ------------------------------------------------------------
    def embedder_for(self, space: Space) -> SharedEmbedder:
        """The model of ``space`` set up as the space was built: the served one when it is the
        same model with default options, else loaded once with the space's loader options."""
        served = self.engine.require()
        loader = dict(space.params.get("loader") or {})
        if not loader and (space.model == served.name or resolve_alias(space.model) == served.name):
            return served
        key = json.dumps([space.model, loader], sort_keys=True)
        with self._lock:
            if key not in self._embedders:
                log.info("loading %s for the store's space %s", space.model, space.key)
                model: Embedder = load_embedder(space.model, **loader)
                self._embedders[key] = SharedEmbedder(model)
            return self._embedders[key]

    def vectors_of(self, space: Space, store: Store) -> Any:
        """``serve --vector-store`` when it holds ``space`` (the collection's space, model and
        dims: :meth:`~patscape.vectors.milvus.MilvusVectors.check_space`), else None: the
        space's local vector files."""
        if self.vectors is None:
            return None
        try:
            self.vectors.check_space(space, _centring_digest(store, space))
        except SpaceMismatchError:
            return None
        return self.vectors

    # -- runs --------------------------------------------------------------------------------------
    @staticmethod
    def run_of(store: Store, run: str | int) -> RunInfo:
        """``latest`` (or ``newest``) or a run id."""
        if isinstance(run, str):
            if run.lower() in ("latest", "newest"):
                return store.get_run(None)
            if not run.isdigit():
                raise NotFoundError(f"no run {run!r}: give a run id or `latest`")
            run = int(run)
        return store.get_run(run)

    def overview(self) -> schemas.CorpusPublic:
        with self.store() as store:
            spaces = [
                {"key": s.key, "model": s.model, "dims": s.dims, "multilingual": bool(s.params.get("multilingual")),
                 "languages": s.params.get("languages"), **store.chunk_stats(s.key)}
                for s in store.spaces()
            ]
            runs = [self._run_public(store, r) for r in store.runs()]
            model = self.engine.embedder
            return schemas.CorpusPublic(
                store=str(self.path.resolve()), documents=store.count_documents(), languages=store.language_counts(),
                model=self.engine.model_id, model_multilingual=model.profile.multilingual if model else None,
                model_languages=list(model.profile.languages) if model else None,
                spaces=spaces, runs=runs,
            )

    def runs(self) -> list[schemas.RunPublic]:
        with self.store() as store:
            return [self._run_public(store, r) for r in store.runs()]

    def run(self, run: str | int) -> schemas.RunPublic:
        with self.store() as store:
            return self._run_public(store, self.run_of(store, run))

    @staticmethod
    def _run_public(store: Store, run: RunInfo) -> schemas.RunPublic:
        documents, topics = store.run_sizes(run.id)
        from ..flows import parent_of

        return schemas.RunPublic(
            id=run.id, name=run.data.get("name"), parent=parent_of(run), updated=run.params.get("updated_from") is not None,
            space=run.space, model=run.params.get("model"), created_at=run.created_at, seed=run.seed,
            documents=documents, placed=store.placement_version(run.id)[0], topics=topics,
            metrics=run.metrics, params=run.params,
        )

    # -- topics ------------------------------------------------------------------------------------
    def topics(self, run: str | int) -> schemas.TopicListPublic:
        with self.store() as store:
            info = self.run_of(store, run)
            placed = Counter(p.cluster for p in store.placements(info.id))
            topics = store.run_topics(info.id)
            return schemas.TopicListPublic(
                run=info.id, topics=[_topic_public(t, placed.get(t["cluster"], 0)) for t in topics],
                hierarchy=schemas.HierarchyPublic(**info.hierarchy(len(topics))),
                levels=[[_node_public(n) for n in level] for level in store.run_levels(info.id)],
                subtopics=[_node_public(n) for n in store.run_subtopics(info.id)],
            )

    def rename(self, run: str | int, level: int, node: int, name: str) -> schemas.NodeNamePublic:
        """An analyst's name for a topic, a node of a level above the topics or a sub-topic (the
        rules of ``patscape topic --rename``). Nothing cached here holds labels (the map views
        carry clusters, not names), so every later answer gives the new name."""
        cleaned = clean_name(name)
        with self.store() as store:
            info = self.run_of(store, run)
            found = store.find_node(info.id, level, node)
            store.rename_topic(info.id, level, node, cleaned)
            found = store.find_node(info.id, level, node)
            return schemas.NodeNamePublic(
                run=info.id, level=level, node=node, topic=found.kind == "topic", subtopic=found.kind == "subtopic",
                label=found.record["label"], keyword_label=found.record.get("keyword_label"),
                name_source=found.record.get("name_source"),
            )

    def emerging(self, run: str | int, by: str, since: int | None, by_month: bool) -> schemas.EmergingPublic:
        from ..emerging import emerging

        with self.store() as store:
            info = self.run_of(store, run)
            return schemas.EmergingPublic(**emerging(store, info.id, by, since, by_month))

    def owners(self, run: str | int, topic: int | None, level: int | None, top: int, by_family: bool,
               all_topics: bool = False, ids: bool = False) -> schemas.OwnersPublic:
        from ..owners import owner_view

        with self.store() as store:
            info = self.run_of(store, run)
            try:
                return schemas.OwnersPublic(**owner_view(store, info.id, topic, level, top, by_family, all_topics, ids))
            except InputError as exc:
                raise NotFoundError(str(exc)) from exc

    def lineage(self, run: str | int) -> schemas.LineagePublic:
        with self.store() as store:
            info = self.run_of(store, run)
            summary = info.data.get("lineage") or {}
            return schemas.LineagePublic(
                run=info.id, aligned_to=summary.get("aligned_to"), topics_kept=summary.get("topics_kept"),
                thresholds=summary.get("thresholds"),
                events=[schemas.LineageEventPublic(**{k: v for k, v in e.items() if k != "parent_run"})
                        for e in store.run_lineage(info.id)],
            )

    def flows(self, run: str | int, runs: int, level: int | None, min_documents: int,
              years: int | None = None) -> schemas.FlowsPublic:
        from ..flows import flows, node_labels

        with self.store() as store:
            info = self.run_of(store, run)
            if years is None:
                return schemas.FlowsPublic(**flows(store, info.id, runs, level, min_documents))
            view = self._windows(store, info.id, years, level)
            # the labels as they are now (a node renamed since the view was cached)
            labels = node_labels(store, info, view["columns"][0]["level"]) if view["columns"] else {}
        columns = [{**c, "nodes": [{**n, "label": labels.get(n["node"], n["label"])} for n in c["nodes"]]} for c in view["columns"]]
        return schemas.FlowsPublic(**_without_ids({**view, "columns": columns}, min_documents))

    def _windows(self, store: Store, run_id: int, years: int, level: int | None) -> dict[str, Any]:
        """A run's windows with every flow's members (computed once per run, years and level)."""
        from ..flows import window_flows

        return self._cached(("windows", run_id, years, level), lambda: window_flows(store, run_id, years, level, members=None))

    def flow_documents(self, run: str | int, before: int, source: int, target: int, level: int | None,
                       limit: int, years: int | None = None) -> schemas.FlowDocumentsPublic:
        from ..flows import flow_documents, window_flow_documents

        with self.store() as store:
            info = self.run_of(store, run)
            if years is None:
                found = flow_documents(store, before, info.id, source, target, level, limit)
            else:
                found = window_flow_documents(store, info.id, years, before + 1, source, target, level, limit,
                                              view=self._windows(store, info.id, years, level))
            return schemas.FlowDocumentsPublic(**found)

    def evolution(self, run: str | int) -> schemas.EvolutionPublic:
        with self.store() as store:
            info = self.run_of(store, run)
            topics = []
            for t in store.run_topics(info.id):
                evo = t.get("evolution") or {}
                topics.append(schemas.TopicYearsPublic(
                    cluster=t["cluster"], label=t["label"], per_year={str(k): int(v) for k, v in (evo.get("per_year") or {}).items()},
                    growth=evo.get("growth"), momentum=evo.get("momentum"),
                ))
            return schemas.EvolutionPublic(
                run=info.id, years=[int(y) for y in info.data.get("years") or []],
                recent_from=info.data.get("recent_from"), recent_to=info.data.get("recent_to"),
                partial_year=info.data.get("partial_year"), data_to=info.data.get("data_to"),
                corpus_growth=info.data.get("corpus_growth"), topics=topics,
            )

    def graph(self, run: str | int) -> schemas.GraphPublic:
        with self.store() as store:
            info = self.run_of(store, run)
            topics = store.run_topics(info.id)
            sums: dict[int, list[float]] = {}
            for _, cluster, _, x, y in store.run_points(info.id):
                acc = sums.setdefault(cluster, [0.0, 0.0, 0.0])
                acc[0] += x
                acc[1] += y
                acc[2] += 1
            nodes = []
            for t in topics:
                acc = sums.get(t["cluster"])
                nodes.append(schemas.GraphNodePublic(
                    id=t["cluster"], label=t["label"], size=t["size"],
                    x=acc[0] / acc[2] if acc else None, y=acc[1] / acc[2] if acc else None,
                ))
            links = [
                schemas.GraphLinkPublic(source=int(link["source"]), target=int(link["target"]),
                                        similarity=link.get("similarity"), citations=int(link.get("citations") or 0))
                for link in info.data.get("links") or []
            ]
            return schemas.GraphPublic(run=info.id, nodes=nodes, links=links)

    # -- the map -----------------------------------------------------------------------------------
    def _map_rows(self, store: Store, info: RunInfo) -> tuple[list[tuple[str, int, float, float, bool]], dict[str, str], int]:
        """(id, cluster, x, y, placed) of every point (uploads placed since last), titles, placements."""
        points_raw = store.run_points(info.id)
        placed = store.placements(info.id)
        titles = store.titles([p[0] for p in points_raw] + [p.doc_id for p in placed])
        rows = [(d, c, round(x, 5), round(y, 5), False) for d, c, _, x, y in points_raw]
        rows += [(p.doc_id, p.cluster, round(p.x, 5), round(p.y, 5), True) for p in placed if p.doc_id in titles]
        return rows, titles, len(placed)

    def _cached(self, key: tuple[Any, ...], build: Any) -> Any:
        with self._lock:
            cached = self._maps.get(key)
        if cached is not None:
            return cached
        view = build()
        with self._lock:
            self._maps[key] = view
            while len(self._maps) > _MAP_CACHE_SIZE:
                self._maps.popitem(last=False)
        return view

    def map(self, run: str | int) -> schemas.MapPublic:
        """Every point as an object (``format=points``)."""
        with self.store() as store:
            info = self.run_of(store, run)

            def build() -> schemas.MapPublic:
                rows, titles, placed = self._map_rows(store, info)
                points = [schemas.PointPublic(id=d, x=x, y=y, cluster=c, title=titles.get(d, ""), placed=p) for d, c, x, y, p in rows]
                return schemas.MapPublic(run=info.id, count=len(points), placed=placed, points=points)

            return self._cached(("points", info.id, store.placement_version(info.id)), build)

    def map_columns(self, run: str | int, fields: tuple[str, ...] = MAP_FIELDS) -> bytes:
        """The points column-wise (``format=columns``), ``fields`` only, as the JSON body of the response.

        200k points are serialised by ``json`` in C, once per run, placement version and fields:
        building a model object per point (as :meth:`map` does) would take seconds. The UI asks for
        the positions first and the titles (most of the bytes) once the map is drawn.
        """
        with self.store() as store:
            info = self.run_of(store, run)

            def build() -> bytes:
                rows, titles, placed = self._map_rows(store, info)
                column = {
                    "id": lambda: [r[0] for r in rows], "title": lambda: [titles.get(r[0], "") for r in rows],
                    "cluster": lambda: [r[1] for r in rows], "x": lambda: [r[2] for r in rows],
                    "y": lambda: [r[3] for r in rows], "placed": lambda: [int(r[4]) for r in rows],
                    # -1: none (its topic is not split, an outlier, or placed after the map)
                    "subtopic": lambda: [-1 if r[4] else sub_of.get(r[0], -1) for r in rows],
                }
                sub_of = store.run_point_subtopics(info.id) if "subtopic" in fields else {}
                columns = {name: column[name]() for name in MAP_FIELDS if name in fields}
                body = {"run": info.id, "count": len(rows), "placed": placed, "points": None, "columns": columns}
                return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")

            return self._cached(("columns", fields, info.id, store.placement_version(info.id)), build)

    # -- search and documents ---------------------------------------------------------------------
    def search(self, body: schemas.SearchCreate) -> schemas.SearchPublic:
        with self.store() as store:
            # (id, space): the run's JSON is not needed here
            head = store.newest_run_head() if body.run is None else (body.run, store.get_run(body.run).space)
            run_id = head[0] if head else None
            space = store.get_space(head[1]) if head else None
            if self.vectors is not None and body.mode != "keyword":  # the space exported there
                space = store.get_space(self.vectors.space_key)
                self.vectors.check_space(space, _centring_digest(store, space))
            embedder = None
            if body.mode != "keyword":
                if space is None:
                    space = pick_space(store, model=self.engine.model_id if _has_space_of(store, self.engine.model_id) else None)
                if body.query is not None:
                    embedder = self.embedder_for(space)
            where = SearchFilter.parse(lang=body.lang, years=body.years, cpc=body.cpc)
            hits = run_search(
                store, body.query, like=body.like, k=body.k, where=where, mode=body.mode, space=space,
                embedder=embedder, vectors=self.vectors, run=run_id, by_family=body.by_family,
            )
            return schemas.SearchPublic(
                mode=body.mode, query=body.query, like=body.like, run=run_id,
                hits=self._with_placed_topics(store, run_id, hits, body.by_family),
            )

    def locate(self, body: schemas.LocateCreate) -> schemas.LocatePublic:
        """Where a text lands (:func:`patscape.locate.locate`); the text is neither kept nor logged."""
        from ..locate import locate

        with self.store() as store:
            info = store.get_run(body.run)
            embedder = self.embedder_for(store.get_space(info.space))
            return schemas.LocatePublic(**locate(store, body.text, info.id, body.k, body.as_ == "document", embedder=embedder))

    def document(self, doc_id: str, run: str | int | None = None) -> schemas.DocumentPublic:
        with self.store() as store:
            doc = store.get_document(doc_id)
            info = store.newest_run() if run is None else self.run_of(store, run)
            cluster = label = x = y = subtopic = subtopic_label = None
            placed = False
            neighbours: list[Hit] = []
            if info is not None:
                row = store.run_point(info.id, doc_id)
                if row is None:
                    found = store.placements(info.id, doc_id)
                    if found:
                        row, placed = (found[0].cluster, found[0].x, found[0].y), True
                if row is not None:
                    cluster, x, y = row
                    label = store.run_topic_labels(info.id, [cluster]).get(cluster, "outlier")
                    found_sub = store.run_point_subtopics(info.id, [doc_id]).get(doc_id)
                    if found_sub is not None:
                        subtopic_label = next((s["label"] for s in store.run_subtopics(info.id) if s["node"] == found_sub), None)
                        subtopic = found_sub if subtopic_label is not None else None
                if store.has_vector(info.space, doc_id):
                    space = store.get_space(info.space)
                    neighbours = run_search(store, like=doc_id, k=NEIGHBOURS, mode="vector", space=space,
                                            vectors=self.vectors_of(space, store), run=info.id)
            return schemas.DocumentPublic(
                id=doc.id, title=doc.title, abstract=doc.abstract, text=doc.text, claims=doc.claims,
                description=doc.description, lang=doc.lang, date=doc.date,
                cpc=list(doc.cpc), ipc=list(doc.ipc), assignee=doc.assignee, source=doc.source,
                run=info.id if info else None, cluster=cluster, label=label, subtopic=subtopic,
                subtopic_label=subtopic_label, x=x, y=y, placed=placed,
                neighbours=self._with_placed_topics(store, info.id if info else None, neighbours),
            )

    @staticmethod
    def _with_placed_topics(store: Store, run_id: int | None, hits: list[Hit], by_family: bool = False) -> list[schemas.HitPublic]:
        """Hits as schemas; uploaded documents get the topic they were placed in."""
        placed: dict[str, int] = {}
        labels: dict[int, str] = {}
        unplaced = [h.id for h in hits if h.cluster is None]
        if run_id is not None and unplaced:
            placed = store.placed_clusters(run_id, unplaced)  # the hits' placements, not the run's
            labels = store.run_topic_labels(run_id, list(placed.values()))
        out = []
        for h in hits:
            cluster, label = h.cluster, h.label
            if cluster is None and h.id in placed:
                cluster = placed[h.id]
                label = labels.get(cluster, "outlier")
            passage = schemas.EvidencePublic(**dataclasses.asdict(h.passage)) if h.passage is not None else None
            out.append(schemas.HitPublic(id=h.id, score=h.score, title=h.title, lang=h.lang, date=h.date,
                                         cluster=cluster, label=label, passage=passage,
                                         family_members=list(h.family_members) if by_family else None))
        return out


def _without_ids(view: dict[str, Any], min_documents: int) -> dict[str, Any]:
    """A view of flows with every member listed, as sent: flows under ``min_documents`` counted
    in ``left_out``, no ids."""
    pairs = []
    for pair in view["pairs"]:
        kept = [f for f in pair["flows"] if f["documents"] >= min_documents]
        under = [f for f in pair["flows"] if f["documents"] < min_documents]
        pairs.append({**pair, "flows": [{k: v for k, v in f.items() if k != "ids"} for f in kept],
                      "left_out": {"flows": pair["left_out"]["flows"] + len(under),
                                   "documents": pair["left_out"]["documents"] + sum(f["documents"] for f in under)}})
    return {**view, "pairs": pairs, "min_documents": min_documents}


def _centring_digest(store: Store, space: Space) -> str:
    """Which language means the space's vectors are centred with ('' for none): a vector store
    must hold them centred alike."""
    centring = store.space_centring(space.key)
    return "" if centring is None else centring.digest


def _has_space_of(store: Store, model: str) -> bool:
    return any(s.model == model and s.complete for s in store.spaces())


def _open_vectors(uri: str | None) -> Any:
    """The vector store of ``serve --vector-store`` (opened once: a client per server), or None."""
    if not uri:
        return None
    return open_vector_store(uri)


def _described(topic: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, int], str | None, list[schemas.CodeSharePublic]]:
    """Keywords by language, languages, main language and codes of a topic or a level's node."""
    by_language = {
        lang: [display_phrase(str(k[0] if isinstance(k, (list, tuple)) else k)) for k in words]
        for lang, words in (topic.get("keywords") or {}).items()
    }
    languages = {str(k): int(v) for k, v in (topic.get("languages") or {}).items()}
    main = max(languages, key=lambda lang: languages[lang]) if languages else next(iter(by_language), None)
    codes = [
        schemas.CodeSharePublic(scheme=scheme, code=str(entry[0]), share=float(entry[1]),
                                title=entry[2] if len(entry) > 2 else None)
        for scheme, entries in (topic.get("codes") or {}).items() for entry in entries
    ]
    return by_language, languages, main, codes


def _node_public(node: dict[str, Any]) -> schemas.LevelNodePublic:
    by_language, languages, main, codes = _described(node)
    return schemas.LevelNodePublic(
        level=node["level"], node=node["node"], parent=node.get("parent"), children=list(node.get("children") or []),
        label=node["label"], keyword_label=node.get("keyword_label"), name_source=node.get("name_source"),
        size=node["size"], keywords=by_language.get(main, []) if main else [],
        keywords_by_language=by_language, codes=codes,
        representatives=[schemas.RepresentativePublic(id=r["id"], title=r.get("title", "")) for r in node.get("representatives") or []],
        languages=languages, **_years(node),
    )


def _years(record: dict[str, Any]) -> dict[str, Any]:
    """The evolution fields of a topic or node record (empty for a run made before they were kept)."""
    evo = record.get("evolution") or {}
    return {key: evo.get(key) for key in ("growth", "momentum", "recent", "corpus_growth", "first_year", "peak_year",
                                         "median_year")}


def _topic_public(topic: dict[str, Any], placed: int) -> schemas.TopicPublic:
    by_language, languages, main, codes = _described(topic)
    return schemas.TopicPublic(
        cluster=topic["cluster"], label=topic["label"], size=topic["size"], placed=placed,
        keywords=by_language.get(main, []) if main else [], keywords_by_language=by_language, codes=codes,
        representatives=[schemas.RepresentativePublic(id=r["id"], title=r.get("title", "")) for r in topic.get("representatives") or []],
        languages=languages, **_years(topic), parent=topic.get("parent"),
        children=list(topic.get("children") or []),
        keyword_label=topic.get("keyword_label"), name_source=topic.get("name_source"),
    )
