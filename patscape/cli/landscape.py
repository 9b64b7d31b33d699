"""The commands that build and write a landscape: ``map`` and ``export``."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import click

from ..errors import InputError, NotFoundError
from ..export import export_run
from ..landscape import MapParams
from ..pipeline import build_map
from ..spaces import pick_space
from ..store import Store
from ..vectors.milvus import export_to_milvus  # imports pymilvus only when it exports
from .present import echo_json_lines, event_counts, levels_summary, lineage_summary, note, progress, run_summary


# -- map ---------------------------------------------------------------------------------------
@click.command("map")
@click.argument("store", type=click.Path())
@click.option("--space", default=None,
              help="Embedding space key (default: the newest complete one; see `patscape info`). An incomplete "
                   "space is used only when named here, on the documents it has.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed: same inputs and seed, same map.")
@click.option("--min-cluster-size", type=int, default=None, help="Smallest topic (default: grows with the corpus).")
@click.option("--min-samples", type=int, default=5, show_default=True, help="HDBSCAN density smoothing.")
@click.option("--max-cluster-share", type=float, default=0.1, show_default=True,
              help="A branch larger than this share of the corpus is split into its sub-topics where it has any.")
@click.option("--components", type=int, default=5, show_default=True, help="UMAP dimensions that are clustered.")
@click.option("--neighbors", type=int, default=30, show_default=True, help="UMAP neighbourhood size.")
@click.option("--max-outliers", type=float, default=0.15, show_default=True,
              help="Reassign outliers by neighbour vote until at most this share is left.")
@click.option("--no-reassign", is_flag=True, help="Keep every HDBSCAN outlier as an outlier.")
@click.option("--label-lang", default=None,
              help="Label topics in this language (ISO 639-1, e.g. zh) wherever a topic has documents in it; "
                   "other topics keep their main language. Default: each topic's main language.")
@click.option("--sample-above", type=int, default=None,
              help="Above this many documents, fit on a random sample and place the rest by their nearest sample "
                   "documents (default 60000; the run records it).")
@click.option("--sample-size", type=int, default=None, help="Documents in that sample (default 30000).")
@click.option("--levels", type=click.IntRange(0, 3), default=None,
              help="Levels above the topics (fields, technologies): 0-3 (default: from the number of topics).")
@click.option("--top-topics", type=click.IntRange(2, None), default=None,
              help="Nodes of the top level (default: about the square root of the topics, 2-12). Wins over "
                   "--levels where they disagree; the run says so.")
@click.option("--subtopics/--no-subtopics", default=True, show_default=True,
              help="Look for sub-topics inside the topics (the level below them).")
@click.option("--align-to", "align_to", type=int, default=None,
              help="Keep the topic ids of this run where the new topics continue its topics (default: the newest "
                   "run of the same space). Changes ids only, never the topics.")
@click.option("--no-align", is_flag=True, help="Number the topics afresh (the largest 0), as if no run came before.")
@click.option("--update", is_flag=True,
              help="Update the newest run with the documents embedded, changed or deleted since, keeping its topics, "
                   "ids and positions; new topics where new documents fit none.")
@click.option("--relayout", is_flag=True,
              help="With --update: draw the 2-D map afresh (every document moves; topics and ids stay as the update makes them).")
@click.option("--namer", default=None,
              help="Name the topics and levels with an OpenAI-compatible chat model, openai:MODEL@URL (see `patscape name`).")
def map_(store: str, space: str | None, seed: int, min_cluster_size: int | None, min_samples: int,
         max_cluster_share: float, components: int, neighbors: int, max_outliers: float,
         no_reassign: bool, label_lang: str | None, sample_above: int | None, sample_size: int | None,
         levels: int | None, top_topics: int | None, subtopics: bool, align_to: int | None, no_align: bool,
         update: bool, relayout: bool, namer: str | None) -> None:
    """Build a landscape: reduce (UMAP), cluster (HDBSCAN), label topics, measure; stored as a run.

    \b
    Examples:
      patscape map corpus/
      patscape map corpus/ --seed 7 --min-cluster-size 40
      patscape map corpus/ --label-lang zh          # Chinese labels where a topic has Chinese patents
      patscape map corpus/ --levels 2 --top-topics 6 # 6 fields, technologies below them, then the topics
      patscape map corpus/ --seed 7                  # topics that continue the last run's keep its ids
      patscape map corpus/ --no-align                # ids afresh, the largest topic 0
      patscape map corpus/ --update                  # new patents into the newest run's topics
    """
    if relayout and not update:
        raise InputError("--relayout goes with --update (a full map draws a new layout anyway)")
    if no_align and align_to is not None:
        raise InputError("--align-to and --no-align exclude each other")
    if update and (no_align or align_to is not None):
        raise InputError("--update keeps the newest run's ids: it takes neither --align-to nor --no-align")
    params = MapParams(
        n_components=components, n_neighbors=neighbors, min_cluster_size=min_cluster_size, min_samples=min_samples,
        max_cluster_share=max_cluster_share, reassign=not no_reassign, max_outlier_share=max_outliers,
        label_lang=label_lang.lower() if label_lang else None, levels=levels, top_topics=top_topics,
        subtopics=subtopics,
    )
    sampling = {"sample_above": sample_above, "sample_size": sample_size}
    params = dataclasses.replace(params, **{k: v for k, v in sampling.items() if v is not None})
    try:
        params.validate()
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if namer is not None:
        from ..naming import parse_spec

        parse_spec(namer)  # a malformed spec fails before the map, not after
    started = time.perf_counter()
    with Store(store, create=False) as db:
        run_id = build_map(db, space, params, seed, on_stage=lambda s: click.echo(f"  {s} ...", err=True) if s != "done" else None,
                           on_notice=note, align_to=False if no_align else align_to if align_to is not None else True,
                           update=update, relayout=relayout)
        named = None
        if namer is not None:
            from ..pipeline.name_stage import name_run

            click.echo("  name ...", err=True)
            named = name_run(db, run_id, namer, label_lang, notice=note)
        run = db.get_run(run_id)
        levels_of_run = db.run_levels(run_id)
    click.echo(f"run {run_id} built in {time.perf_counter() - started:.1f}s")
    click.echo(run_summary(run.metrics))
    click.echo(levels_summary(run.data, run.metrics, levels_of_run))
    if run.data.get("update"):
        u = run.data["update"]
        click.echo(f"update     of run {u['updated_from']}: {u['kept']:,} documents kept their topic"
                   f"{'' if u.get('relayout') else ' and place'}; "
                   f"{u['new']:,} new and {u['changed']:,} changed placed ({u['placed_in_topics']:,} in existing topics), "
                   f"{u['deleted']:,} deleted; {len(u['new_topics'])} new topics, {len(u['split'])} split"
                   + ("; the map drawn afresh" if u.get("relayout") else ""))
    if run.data.get("lineage"):
        click.echo(lineage_summary(run.data["lineage"], run.metrics.get("topics", 0)))
    if named is not None:
        click.echo(naming_summary(run_id, named))


# -- lineage -----------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the newest).")
@click.option("--level", type=int, default=None, help="One level only (0 the top; default: every level).")
@click.option("--flows", is_flag=True,
              help="Instead of the events: where each topic's documents went, run to run (the alluvial view's flows; "
                   "-1 outside every topic, -2 not in that run).")
@click.option("--runs", type=click.IntRange(2, 12), default=4, show_default=True,
              help="--flows: the run and up to RUNS - 1 runs before it.")
@click.option("--windows", "years", type=click.IntRange(1, 50), default=None, metavar="YEARS",
              help="--flows across the run's own time windows of YEARS years instead of the runs before it: each patent "
                   "flows from the topic its nearest patents of the window before are in to its own.")
@click.option("--min", "min_documents", type=click.IntRange(1), default=1, show_default=True,
              help="--flows: leave out flows of fewer documents.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event (or flow), one per line.")
def lineage(store: str, run_id: int | None, level: int | None, flows: bool, runs: int, years: int | None,
            min_documents: int, as_json: bool) -> None:
    """How a run's topics relate to the run it was aligned to: continued, grown, shrank, split,
    merged, faded, born (MONIC's transitions), with the counts behind each; with --flows, the
    documents each topic passed to each topic of the next run, along the chain of runs.

    \b
    Examples:
      patscape lineage corpus/
      patscape lineage corpus/ --run 3 --json
      patscape lineage corpus/ --flows --runs 3 --min 5
      patscape lineage corpus/ --flows --windows 5 --min 10
    """
    import json

    if years is not None and not flows:
        raise click.UsageError("--windows goes with --flows")
    if flows:
        _print_flows(store, run_id, level, runs, years, min_documents, as_json)
        return
    with Store(store, create=False) as db:
        run = db.get_run(run_id)
        events = [e for e in db.run_lineage(run.id) if level is None or e["level"] == level]
        depth = len(db.run_levels(run.id))
    if as_json:
        for event in events:
            click.echo(json.dumps({"run": run.id, **event}, ensure_ascii=False))
        return
    info = run.data.get("lineage")
    if not info:
        click.echo(f"run {run.id} was not aligned to an earlier run (its topics are numbered afresh)")
        return
    click.echo(lineage_summary(info, run.metrics.get("topics", 0)))
    names = {depth: "topic", depth + 1: "sub-topic"}
    for event in events:
        what = names.get(event["level"], "node")
        old = ", ".join(str(n) for n in event["old"]) or "-"
        new = ", ".join(str(n) for n in event["new"]) or "-"
        counts = ", ".join(f"{k} {v}" for k, v in event["counts"].items() if not isinstance(v, dict))
        parts = event["counts"].get("parts")
        if parts:
            counts += (", " if counts else "") + "shared " + ", ".join(f"{k}: {v}" for k, v in parts.items())
        click.echo(f"  L{event['level']} {what:<9} {event['event']:<9} {old:>12} -> {new:<12} {counts}")


def _print_flows(store: str, run_id: int | None, level: int | None, runs: int, years: int | None, min_documents: int,
                 as_json: bool) -> None:
    import json

    from ..flows import flows as run_flows
    from ..flows import window_flows

    with Store(store, create=False) as db:
        run = db.get_run(run_id)
        view = (run_flows(db, run.id, runs, level, min_documents) if years is None
                else window_flows(db, run.id, years, level, min_documents))
    if as_json:
        for pair in view["pairs"]:
            for flow in pair["flows"]:
                click.echo(json.dumps({"kind": view["kind"], "before": pair["before"], "after": pair["after"], **flow}))
        return
    if len(view["columns"]) < 2:
        click.echo(f"run {view['run']} has no earlier run stored (it was numbered afresh, or its parent was deleted)"
                   if years is None else f"the patents of run {view['run']} fall in one window of {years} years")
        return
    titles = {c["key"]: c["title"] for c in view["columns"]}
    labels = {(c["key"], n["node"]): n["label"] for c in view["columns"] for n in c["nodes"]}
    if years is not None:
        click.echo(f"run {view['run']} in windows of {years} years: a patent flows from the topic its "
                   f"{view['neighbours']} nearest patents of the window before are in to its own"
                   + (f"; no patents in {', '.join(view['empty'])}" if view["empty"] else ""))
    for pair in view["pairs"]:
        a, b = pair["before"], pair["after"]
        total = sum(f["documents"] for f in pair["flows"]) + pair["left_out"]["documents"]
        what = "stayed in a node with the same id" if years is None else "are in the topic their nearest earlier patents are in"
        click.echo(f"{titles[a]} -> {titles[b]}: {pair['kept']:,} of {total:,} documents {what}"
                   + (f"; {pair['left_out']['flows']} flows under {min_documents} left out" if pair["left_out"]["flows"] else ""))
        for f in pair["flows"]:
            s, t = f["source"], f["target"]
            left = view["places"].get(str(s)) or f"{s} {labels.get((a, s), '')}"
            right = view["places"].get(str(t)) or f"{t} {labels.get((b, t), '')}"
            click.echo(f"  {f['documents']:>7,}  {left[:44]:<44} -> {right[:44]}")


# -- export ------------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the newest).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json", "graphml", "html", "milvus"]), required=True)
@click.option("--out", default=None, type=click.Path(), help="File to write (every format but milvus).")
@click.option("--uri", default=None, help="milvus: where to write: PATH.db (Milvus Lite), milvus://HOST:PORT (a server).")
@click.option("--collection", default=None, help="milvus: the collection (default: patscape_ and the space key).")
@click.option("--space", default=None, help="milvus: the space to export (default: --run's if given, else the newest complete).")
@click.option("--replace", is_flag=True, help="milvus: overwrite the collection if it exists.")
@click.option("--by-family", is_flag=True, help="csv, parquet: one row per family (family, family_size, members, then its "
                                                "earliest member's row) instead of one per patent.")
def export(store: str, run_id: int | None, fmt: str, out: str | None, uri: str | None, collection: str | None,
           space: str | None, replace: bool, by_family: bool) -> None:
    """Write a run as CSV/Parquet (id, cluster, label, x, y, ...), JSON, GraphML or an HTML report,
    or a space's document vectors to Milvus (for `search --vector-store`).

    The HTML report is one self-contained file that works offline: the map, the topic table and
    the evolution of topics per year.

    \b
    Examples:
      patscape export corpus/ --format html --out landscape.html
      patscape export corpus/ --run 2 --format parquet --out topics.parquet
      patscape export corpus/ --format milvus --uri out/landscape.db
      patscape export corpus/ --format milvus --uri milvus://milvus.internal:19530 --replace
    """
    if fmt == "milvus":
        _export_milvus(store, run_id, uri, collection, space, replace)
        return
    if out is None:
        raise InputError(f"--format {fmt} needs --out FILE")
    with Store(store, create=False) as db:
        path = export_run(db, fmt, out, run_id, by_family)
    click.echo(f"wrote {path.resolve()}")


def _export_milvus(store: str, run_id: int | None, uri: str | None, collection: str | None, space: str | None,
                   replace: bool) -> None:
    if not uri:
        raise InputError("--format milvus needs --uri (PATH.db for Milvus Lite, milvus://HOST:PORT for a server)")
    with Store(store, create=False) as db:
        if space is None and run_id is not None:
            space = db.get_run(run_id).space
        chosen = pick_space(db, space)
        update, close = progress(db.count_vectors(chosen.key), "vec", "export")
        try:
            report = export_to_milvus(db, chosen, uri, collection, replace=replace, progress=update)
        finally:
            close()
    click.echo(f"exported {report.vectors} vectors ({report.dims} dims, {report.space}) to {report.target}, collection "
               f"{report.collection} ({report.rows} rows, {report.index} index{', replaced' if report.replaced else ''}) "
               f"in {report.seconds:.1f} s")
    if report.prefixes_cut:
        note(f"{report.prefixes_cut} documents have more than 4096 code prefixes; the longest were left out")


# -- name, topic -------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the newest).")
@click.option("--namer", required=True,
              help="An OpenAI-compatible chat model: openai:MODEL@URL (e.g. openai:qwen3-4b@http://127.0.0.1:8080/v1); "
                   "its key, if it needs one, in PATSCAPE_NAMER_API_KEY (or OPENAI_API_KEY).")
@click.option("--label-lang", default=None,
              help="Language of the names: a code (zh, de) or any language the model writes (default: the topics' main language).")
def name(store: str, run_id: int | None, namer: str, label_lang: str | None) -> None:
    """Name a run's topics and levels with a chat model, without mapping again.

    Bottom-up: the topics from their keyphrases, codes and representative titles, then each
    level from its children's names; siblings with near-duplicate names are renamed together;
    names are unique within a level. An answer that is unusable, or a failed request, keeps the
    keyword label (counted below). Cached by membership: naming the same run again sends no
    request. A name set with `patscape topic --rename` is never overwritten.

    \b
    Examples:
      patscape name corpus/ --namer openai:qwen3-4b@http://127.0.0.1:8080/v1
      patscape name corpus/ --run 3 --namer openai:gpt-4o-mini@https://api.openai.com/v1 --label-lang de
    """
    from ..pipeline.name_stage import name_run

    with Store(store, create=False) as db:
        run = db.get_run(run_id)
        summary = name_run(db, run.id, namer, label_lang, notice=note)
    click.echo(naming_summary(run.id, summary))


def naming_summary(run_id: int, summary: Any) -> str:
    return (f"named run {run_id}: {summary.topics} topics and nodes with {summary.model} (prompt v{summary.prompt_version}, "
            f"{summary.language}): {summary.requests} requests (+{summary.disambiguation_requests} to tell siblings apart), "
            f"{summary.cache_hits} from the cache, {summary.fallbacks} kept their keyword label; "
            f"{summary.prompt_tokens + summary.completion_tokens} tokens, {summary.seconds:.1f} s")


@click.command()
@click.argument("store", type=click.Path())
@click.argument("topic", type=int)
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the newest).")
@click.option("--level", type=int, default=None,
              help="The level of TOPIC (0 the top; default: the topics; one more: their sub-topics).")
@click.option("--rename", default=None, help="Set this name (no namer overwrites it).")
def topic(store: str, topic: int, run_id: int | None, level: int | None, rename: str | None) -> None:
    """Show a topic (or a node of a level above the topics, or a sub-topic), or rename it.

    \b
    Examples:
      patscape topic corpus/ 12
      patscape topic corpus/ 12 --rename "Solid-state battery electrolytes"
      patscape topic corpus/ 2 --level 0 --rename "Energy storage"
      patscape topic corpus/ 7 --level 3         # sub-topic 7, when the topics are level 2
    """
    with Store(store, create=False) as db:
        run = db.get_run(run_id)
        level = len(db.run_levels(run.id)) if level is None else level
        try:
            found = db.find_node(run.id, level, topic).record
        except NotFoundError as exc:
            raise InputError(str(exc)) from exc
        if rename is not None:
            cleaned = db.rename_topic(run.id, level, topic, rename)
            click.echo(f"run {run.id}, level {level}, topic {topic}: named {cleaned!r} (was {found['label']!r})")
            return
    click.echo(f"run {run.id}, level {level}, topic {topic}: {found['label']}"
               + (f"  [{found.get('name_source')}; keywords: {found['keyword_label']}]" if found.get("name_source") else ""))
    click.echo(f"  {found['size']:,} documents; languages {found.get('languages')}")
    for lang, words in (found.get("keywords") or {}).items():
        click.echo(f"  keywords ({lang}): " + ", ".join(str(w[0] if isinstance(w, (list, tuple)) else w) for w in words))
    for kind in ("ipc_main", "cpc_main", "ipc", "cpc"):
        entries = (found.get("codes") or {}).get(kind) or []
        if entries:
            click.echo(f"  {kind}: " + "; ".join(f"{e[0]} {e[1]:.0%}" + (f" ({e[2]})" if len(e) > 2 and e[2] else "") for e in entries[:3]))
    children = found.get("children")
    if children:
        click.echo(f"  children at level {level + 1}: {', '.join(str(c) for c in children)}")


# -- emerging ----------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the newest).")
@click.option("--by", type=click.Choice(["topic", "code", "assignee", "term"]), default="topic", show_default=True,
              help="What bursts: topics (every level and the sub-topics), IPC/CPC main groups, owners (as written), "
                   "or the run's label keyphrases.")
@click.option("--since", type=int, default=None, help="Only bursts still running in or after this year.")
@click.option("--month", "by_month", is_flag=True, help="Batches of a month instead of a year (patents without a month are left out).")
@click.option("--top", type=click.IntRange(1, None), default=20, show_default=True, help="Bursts shown (the text view).")
@click.option("--s", "sensitivity", type=click.FloatRange(1.0, None, min_open=True), default=2.0, show_default=True,
              help="Kleinberg's s: how many times its usual share an item has while it bursts.")
@click.option("--gamma", type=click.FloatRange(0.0, None), default=1.0, show_default=True,
              help="Kleinberg's gamma: the cost of entering a burst (higher: fewer, stronger bursts).")
@click.option("--json", "as_json", is_flag=True, help="Every burst as a JSON line.")
def emerging(store: str, run_id: int | None, by: str, since: int | None, by_month: bool, top: int,
             sensitivity: float, gamma: float, as_json: bool) -> None:
    """What is emerging: bursts of topics, codes, owners or terms (Kleinberg's burst detection over
    the years, or months, of the patents' priority, filing or publication dates), strongest first.

    \b
    Examples:
      patscape emerging corpus/
      patscape emerging corpus/ --by code --since 2020
      patscape emerging corpus/ --by term --json
    """
    from ..emerging import emerging as find

    with Store(store, create=False) as db:
        result = find(db, run_id, by, since, by_month, sensitivity, gamma)
    if as_json:
        echo_json_lines({"run": result["run"], "by": by, **b} for b in result["bursts"])
        return
    dates = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(result["dates"].items(), key=lambda kv: (-kv[1], kv[0])))
    click.echo(f"run {result['run']}: {len(result['bursts'])} bursts of {by}s over {result['batches']}s "
               f"{result['first']}-{result['last']} (dates: {dates}; s {sensitivity:g}, gamma {gamma:g})")
    for b in result["bursts"][:top]:
        what = (f"L{b['level']} #{b['item']} {b['label']}" if by == "topic" else
                f"{b['scheme'].upper()} {b['item']}" if by == "code" else
                f"{b['item']} ({b['lang']})" if by == "term" else str(b["item"]))
        span = (b["begin"] if b["begin"] == b["end"] else f"{b['begin']}-{b['end']}") + (" (running)" if b["running"] else "")
        click.echo(f"  {b['strength']:>8.2f}  {span:<22} {sum(b['counts']):>6,} of {sum(b['totals']):>7,}  {what}")


# -- runs --------------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--name", "naming", nargs=2, type=(int, str), default=None, metavar="RUN NAME",
              help='Name a run ("" clears its name).')
@click.option("--delete", "delete", type=int, multiple=True, metavar="RUN", help="Delete this run (repeatable).")
@click.option("--keep", type=click.IntRange(1, None), default=None, metavar="N", help="Delete all but the newest N runs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
def runs(store: str, naming: tuple[int, str] | None, delete: tuple[int, ...], keep: int | None, as_json: bool) -> None:
    """List a store's runs (maps): when, of which model, their topics and levels, the run each
    was aligned to and what became of its topics; name or delete runs.

    \b
    Examples:
      patscape runs corpus/
      patscape runs corpus/ --name 3 "Q3 2026 refresh"
      patscape runs corpus/ --keep 5          # the newest 5 stay
    """
    import datetime
    import json

    if delete and keep is not None:
        raise InputError("--delete and --keep exclude each other")
    with Store(store, create=False) as db:
        if naming is not None:
            run_id, text = naming
            named = db.name_run(run_id, text if text.strip() else None)
            click.echo(f"run {run_id}: " + (f"named {named!r}" if named else "name cleared"))
        doomed = list(delete)
        if keep is not None:
            doomed = [r.id for r in db.runs()][:-keep]
        if doomed:
            gone = db.delete_runs(doomed)
            click.echo(f"deleted run{'s' if len(gone) > 1 else ''} {', '.join(map(str, gone))}")
        if naming is not None or delete or keep is not None:
            return
        listed = []
        for run in db.runs():
            documents, topics = db.run_sizes(run.id)
            hierarchy = run.hierarchy(topics)
            listed.append({
                "id": run.id, "name": run.data.get("name"), "created_at": run.created_at, "space": run.space,
                "model": run.params.get("model"), "seed": run.seed, "documents": documents, "topics": topics,
                "levels": hierarchy.get("counts"), "subtopics": (hierarchy.get("subtopics") or {}).get("count"),
                "aligned_to": run.params.get("aligned_to"), "lineage": (run.data.get("lineage") or {}).get("events"),
                "topics_kept": (run.data.get("lineage") or {}).get("topics_kept"),
            })
    if as_json:
        for entry in listed:
            click.echo(json.dumps(entry, ensure_ascii=False))
        return
    if not listed:
        click.echo("no runs yet; `patscape map` makes one")
        return
    for entry in listed:
        when = datetime.datetime.fromtimestamp(entry["created_at"]).strftime("%Y-%m-%d %H:%M")
        levels = " > ".join(map(str, entry["levels"] or [entry["topics"]]))
        sub = f" > {entry['subtopics']} sub-topics" if entry["subtopics"] else ""
        name = f" \"{entry['name']}\"" if entry["name"] else ""
        click.echo(f"run {entry['id']}{name}  {when}  {entry['model']}, seed {entry['seed']}: "
                   f"{entry['documents']:,} documents, levels {levels}{sub}")
        if entry["aligned_to"] is not None:
            click.echo(f"           aligned to run {entry['aligned_to']}: {entry['topics_kept']} topics kept their ids; "
                       f"{event_counts(entry['lineage'])}")


# -- owners ------------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the newest).")
@click.option("--topic", type=int, default=None, help="Only the patents of this topic (or node of --level).")
@click.option("--level", type=int, default=None, help="The level of --topic and of each owner's topics (0 the top; default: the topics).")
@click.option("--top", type=click.IntRange(1, None), default=20, show_default=True, help="Organisations shown (the text view).")
@click.option("--by-family", is_flag=True, help="Rank by families (inventions) instead of patents (publications).")
@click.option("--aliases", "aliases_path", type=click.Path(), default=None,
              help="A CSV of name,organisation rows that merge or split owners; kept in the store for every later view "
                   "(replaces the aliases given before).")
@click.option("--clear-aliases", is_flag=True, help="Forget the aliases given before.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per organisation, one per line.")
def owners(store: str, run_id: int | None, topic: int | None, level: int | None, top: int, by_family: bool,
           aliases_path: str | None, clear_aliases: bool, as_json: bool) -> None:
    """Who holds what: assignees normalised into organisations (case, punctuation, legal forms in
    many languages, several owners per patent), with their patents, families, share, growth and
    topics; --aliases merges or splits what the normalisation cannot know.

    \b
    Examples:
      patscape owners corpus/
      patscape owners corpus/ --topic 12 --json
      patscape owners corpus/ --level 0 --by-family
      patscape owners corpus/ --aliases owners.csv   # e.g. "TORAY FIBERS & TEXTILES RES LAB CHINA CO LTD,Toray"
    """
    from ..owners import owner_view, read_aliases

    if aliases_path and clear_aliases:
        raise InputError("--aliases and --clear-aliases exclude each other")
    with Store(store, create=False) as db:
        if aliases_path:
            aliases = read_aliases(aliases_path)
            db.set_owner_aliases(aliases)
            note(f"{len(aliases)} aliases kept in the store for every owner view")
        elif clear_aliases:
            db.set_owner_aliases({})
            note("the aliases are forgotten")
        view = owner_view(db, run_id, topic, level, None, by_family)
    if as_json:
        echo_json_lines({"run": view["run"], "level": view["level"], "counted": view["counted"], **row}
                        for row in view["owners"])
        return
    scope = (f"node {view['topic']} ({view['topic_label']}) at level {view['level']}" if view["topic"] is not None
             else f"run {view['run']}")
    click.echo(f"{scope}: {view['documents']:,} patents ({view['families']:,} families), {view['with_owner']:,} with an owner; "
               f"{view['names']:,} owner names -> {view['organisations']:,} organisations"
               + (f" ({view['aliases']} aliases)" if view["aliases"] else "") + f"; ranked by {view['counted']}")
    if not view["owners"]:
        click.echo("no owners: the patents of this run have no assignee")
        return
    window = view["recent_years"]
    click.echo(f"{'':>4} {'organisation':<44} {'patents':>8} {'families':>8} {'share':>6} "
               f"{'growth' + (f' {window[0]}-{window[1]}' if window else ''):>16}  topics")
    for rank, row in enumerate(view["owners"][:top], start=1):
        growth = f"{row['growth']:+.0%}" if row["growth"] is not None else "-"
        topics = ", ".join(f"{t['node']} ({t['patents']})" for t in row["topics"][:3])
        more = f" +{len(row['variants']) - 1} variants" if len(row["variants"]) > 1 else ""
        click.echo(f"{rank:>4} {(row['name'] + more)[:44]:<44} {row['patents']:>8,} {row['families']:>8,} "
                   f"{row['share']:>6.1%} {growth:>16}  {topics}")


# -- families ----------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--infer", is_flag=True,
              help="Group the publications the data gives no family by identical title and abstract (case and whitespace "
                   "folded), marked as inferred; replaces the families inferred before.")
@click.option("--clear", is_flag=True, help="Forget the inferred families.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
def families(store: str, infer: bool, clear: bool, as_json: bool) -> None:
    """Publications and inventions: the patent families of a corpus, as its data gives them
    (extra.family_id, a family column) or inferred (--infer).

    \b
    Examples:
      patscape families corpus/
      patscape families corpus/ --infer
    """
    import json

    from ..families import family_summary, infer_families

    if infer and clear:
        raise InputError("--infer and --clear exclude each other")
    with Store(store, create=False) as db:
        docs = list(db.iter_documents(texts=infer))
        if infer:
            inferred = infer_families(docs)
            db.set_inferred_families(inferred)
            note(f"{len(set(inferred.values())):,} families of {len(inferred):,} publications inferred and kept in the store")
        elif clear:
            db.set_inferred_families({})
            note("the inferred families are forgotten")
        summary = family_summary(docs, db.inferred_families())
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"{summary['publications']:,} publications, {summary['families']:,} families "
               f"({summary['given']:,} given by the data, {summary['inferred']:,} inferred, {summary['single']:,} of one); "
               f"{summary['with_several']:,} families hold {summary['in_families_of_several']:,} publications, "
               f"the largest {summary['largest']}")
