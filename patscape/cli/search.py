"""``patscape search``: similar patents to a text or to a document."""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack

import click

from ..errors import InputError
from ..filters import SearchFilter
from ..search import search as run_search
from ..spaces import pick_space, space_notice
from ..store import Store
from ..vectors.milvus import open_vector_store  # imports pymilvus only when it opens one
from .present import echo_json_lines, note


@click.command()
@click.argument("store", type=click.Path())
@click.argument("query", required=False)
@click.option("--like", default=None, help="Find patents similar to this document id instead.")
@click.option("-k", "--k", "k", type=int, default=10, show_default=True, help="Number of results.")
@click.option("--lang", default=None, help="Only documents in this language (e.g. en, zh).")
@click.option("--years", default=None, help="Only documents dated in these years: 2018-2023, 2018-, -2015 or 2020.")
@click.option("--cpc", default=None, help="Only documents with a CPC or IPC code starting so (H01M, H01M10, H01M10/052).")
@click.option("--mode", type=click.Choice(["vector", "keyword", "hybrid"]), default="vector", show_default=True)
@click.option("--space", default=None,
              help="Embedding space key (default: the newest complete one); an incomplete space only when named.")
@click.option("--run", "run_id", type=int, default=None,
              help="The run whose topics the hits carry, searched in its space (default: the newest run).")
@click.option("--by-family", is_flag=True, help="One result per patent family (its best-ranked publication; the others listed).")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON lines.")
@click.option("--vector-store", default=None, metavar="URI",
              help="Rank by the document vectors exported there (default: the space of its collection): "
                   "milvus:PATH.db?collection=NAME (Milvus Lite) or milvus://HOST:PORT?collection=NAME.")
def search(store: str, query: str | None, like: str | None, k: int, lang: str | None, years: str | None,
           cpc: str | None, mode: str, space: str | None, run_id: int | None, by_family: bool, as_json: bool,
           vector_store: str | None) -> None:
    """Similar patents to a QUERY text or to a document (--like ID); prior-art style.

    \b
    Examples:
      patscape search corpus/ "buoyancy engine for an underwater glider"
      patscape search corpus/ --like US-8611015-B2 -k 20
      patscape search corpus/ "卫星姿态控制" --lang en     # a Chinese query, English answers
      patscape search corpus/ "a paragraph copied from a specification"   # ranked by best passage
      patscape search corpus/ "solid electrolyte" --years 2018- --cpc H01M10
    """
    where = SearchFilter.parse(lang=lang, years=years, cpc=cpc)

    with Store(store, create=False) as db, ExitStack() as closing:
        vectors = None
        if vector_store and mode != "keyword":
            vectors = closing.enter_context(open_vector_store(vector_store))  # closed however search ends
        if run_id is not None and space is None and vectors is None:
            space = db.get_run(run_id).space  # a clear error for an unknown run
        chosen = pick_space(db, space or (vectors.space_key if vectors else None)) if mode != "keyword" else None
        if vectors is not None and chosen is not None:
            centring = db.space_centring(chosen.key)
            vectors.check_space(chosen, "" if centring is None else centring.digest)
        if chosen is not None:
            notice = space_notice(db, chosen)[1]
            if notice:
                note(notice)
        hits = run_search(db, query, like=like, k=k, where=where, mode=mode, space=chosen,  # type: ignore[arg-type]
                          vectors=vectors, run=run_id, by_family=by_family)
    if as_json:
        echo_json_lines(dataclasses.asdict(hit) for hit in hits)
        return
    if not hits:
        click.echo("no results")
    for rank, hit in enumerate(hits, start=1):
        topic = f"  [{hit.cluster}: {hit.label}]" if hit.cluster is not None else ""
        click.echo(f"{rank:>3}. {hit.score:.3f}  {hit.id}  {hit.date or '':10}  {hit.title[:90]}{topic}")
        if hit.family_members:
            click.echo(f"       same family: {', '.join(hit.family_members)}")
        if hit.passage is not None:
            text = hit.passage.text if len(hit.passage.text) <= 240 else hit.passage.text[:237] + "..."
            click.echo(f"       {hit.passage.field} [{hit.passage.start}:{hit.passage.end}] {hit.passage.score:.3f}: {text}")


@click.command()
@click.argument("store", type=click.Path())
@click.argument("text", required=False)
@click.option("--file", "path", type=click.Path(), default=None, help="Read the text from this file (UTF-8), e.g. a draft claim.")
@click.option("--run", "run_id", type=int, default=None, help="The run (map) to place it on (default: the newest).")
@click.option("--as", "as_what", type=click.Choice(["query", "document"]), default="query", show_default=True,
              help="Embed it as a query (the model's query instruction, as a search does) or as a document (as the "
                   "patents were embedded).")
@click.option("-k", "--k", "k", type=click.IntRange(1, 200), default=10, show_default=True, help="Nearest patents listed.")
@click.option("--json", "as_json", is_flag=True, help="The answer as one JSON object.")
def locate(store: str, text: str | None, path: str | None, run_id: int | None, as_what: str, k: int, as_json: bool) -> None:
    """Drop an idea on the map: where TEXT (or --file) lands, its nearest topics and patents (with
    the passages that match), the owners active there, and how crowded its neighbourhood is
    against the landscape's own patents. The text is neither stored nor logged.

    \b
    Examples:
      patscape locate corpus/ "a buoyancy engine that pumps oil between an internal and an external bladder"
      patscape locate corpus/ --file draft_claim.txt --as document --json
    """
    import json

    from ..locate import locate as place

    if (text is None) == (path is None):
        raise click.UsageError("give the text, or --file FILE (one of them)")
    if path is not None:
        from pathlib import Path

        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{path} is not UTF-8 text") from exc
    assert text is not None
    with Store(store, create=False) as db:
        found = place(db, text, run_id, k, as_what == "document")
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False))
        return
    topic = found["topic"]
    where = f"in topic {topic['cluster']} ({topic['label']})" if topic["cluster"] >= 0 else "in no topic (no topic holds enough of its neighbours)"
    click.echo(f"run {found['run']}, embedded as a {found['as']}: lands {where}"
               + (f" at ({found['x']:.2f}, {found['y']:.2f}) on the map" if found["x"] is not None else ""))
    if found["density_percentile"] is not None:
        d = found["density"]
        click.echo(f"crowding: denser than {found['density_percentile']:.0f}% of the landscape (its {d['k']} nearest "
                   f"patents' mean cosine to one another {d['crowding']:.3f}; the landscape's median {d['corpus_median']:.3f})")
    click.echo(f"nearest topics (of its {found['neighbourhood']} nearest patents):")
    for t in found["topics"][:5]:
        click.echo(f"  {t['share']:>6.1%}  {t['cluster']:>4}  {t['label']}  ({t['patents']} patents)")
    click.echo("nearest patents:")
    for rank, p in enumerate(found["patents"], start=1):
        click.echo(f"{rank:>4}. {p['score']:.3f}  {p['id']}  {p['date'] or '':10}  {p['title'][:80]}")
        if p["passage"]:
            passage = p["passage"]["text"]
            click.echo(f"        {p['passage']['field']}: {passage[:200] + ('...' if len(passage) > 200 else '')}")
    if found["owners"]:
        click.echo("owners active there: " + ", ".join(f"{o['name']} ({o['patents']})" for o in found["owners"][:8]))
