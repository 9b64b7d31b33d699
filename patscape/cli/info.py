"""What patscape knows: ``info`` (about a store) and ``models`` (the models and backends)."""

from __future__ import annotations

from typing import Any

import click

from ..embed import ALIASES, MODELS
from ..embed.languages import ANY_LANGUAGE, describe, name_of
from ..embed.profiles import FAMILIES
from ..spaces import PACKAGED_LANGUAGES, unread_languages
from ..overview import store_overview
from ..store import Store
from .present import echo_json, levels_summary, lineage_summary, run_summary


# -- info --------------------------------------------------------------------------------------
@click.command()
@click.argument("store", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def info(store: str, as_json: bool) -> None:
    """Counts, languages, embedding spaces (with chunking and truncation), runs and their metrics.

    \b
    Examples:
      patscape info corpus/
      patscape info corpus/ --json | jq '.runs[-1].metrics.code_agreement'
    """
    with Store(store, create=False) as db:
        summary = store_overview(db)
    if as_json:
        echo_json(summary)
        return
    _print_overview(summary)


def _print_overview(summary: dict[str, Any]) -> None:
    spaces, runs, jobs = summary["spaces"], summary["runs"], summary["upload_jobs"]
    click.echo(f"store      {summary['store']}")
    langs = ", ".join(f"{k} {v}" for k, v in summary["languages"].items())
    click.echo(f"documents  {summary['documents']} ({langs})")
    made = {"data": "from the source records", "path": "from file paths", "content": "from content (name taken)"}
    click.echo("ids        " + ", ".join(f"{n} {made.get(k, k)}" for k, n in summary["ids"].items()))
    for s in spaces:
        chosen = f" (default: {s['params']['default']})" if s["params"].get("default") else ""
        fields = "+".join(s["params"].get("fields", []))
        if s["state"] == "complete":
            state = "complete" + (f", {s['missing']} newer documents not embedded yet" if s["missing"] else "")
        else:
            state = f"IN PROGRESS: {s['embedded']} of {s['embedded'] + s['missing']} documents, {s['missing']} missing"
        click.echo(
            f"space      {s['key']} [{state}]: {s['model']}{chosen}, {s['dims']} dims, {s['vectors']} vectors of {fields}; "
            f"{s['multi_chunk_docs']} multi-chunk docs (max {s['max_chunks']} chunks), "
            f"{s['truncated_docs']} truncated ({s['truncated_tokens']} tokens left out)"
        )
        click.echo("           " + _space_languages(s["params"].get("languages"), summary["languages"]))
        if s.get("centring"):
            means = s["centring"]["docs"]
            own = ", ".join(f"{lang} {n}" for lang, n in sorted(means.items()) if lang != "*")
            click.echo("           centred by language: " + (
                f"means frozen over {means.get('*', 0)} documents ({own or 'no language of its own'}; others: the mean of all)"
                if s["centring"]["frozen"] else "means not frozen yet (the embed that completes the space or the first map does)"))
        if s["params"].get("passages"):
            per_doc = (s["vector_bytes"] + s["passage_bytes"]) / max(s["vectors"], 1)
            click.echo(
                f"           passages: {s['passages']} of {s['docs_with_passages']} documents "
                f"({s['params']['passages']['window']} tokens each), {s['docs_with_passages_cut']} documents cut by "
                f"the cap ({s['passage_tokens_cut']} tokens left out); vectors stored: {per_doc / 1024:.1f} KiB per document"
            )
        files = s["vector_files"]
        if files is None:
            click.echo("           vector files: not written yet (the first search writes them; or `patscape index`)")
        else:
            index = f"ANN index over {files['indexed']:,} rows" if files["indexed"] else "exact search (no ANN index)"
            behind = f", {files['behind']:,} changes to apply" if files["behind"] else ""
            click.echo(f"           vector files: {files['live']:,} live rows of {files['rows']:,}, {files['dtype']}; {index}{behind}")
    for r in runs:
        click.echo(f"run {r['id']:<6} space {r['space']}, seed {r['seed']}: {run_summary(r['metrics'])}")
        click.echo(levels_summary({"hierarchy": r["hierarchy"]} if r["hierarchy"] else {}, r["metrics"], r["levels"], top_shown=6))
        if r.get("lineage"):
            click.echo(lineage_summary(r["lineage"], r["metrics"].get("topics", 0)))
    unfinished = [j for j in jobs if j["state"] in ("queued", "running")]
    failed = [j for j in jobs if j["state"] == "failed"]
    if jobs:
        click.echo(f"uploads    {len(jobs)} recent jobs, {len(unfinished)} unfinished, {len(failed)} failed"
                   + (f" (last failure: {failed[-1]['message']})" if failed else ""))


def _space_languages(languages: list[str] | None, counts: dict[str, int]) -> str:
    """What the space's model reads, and the languages present in the corpus that it does not."""
    if not languages:
        return "languages: not recorded (embedded before patscape recorded the languages a model reads)"
    unread = unread_languages(languages, counts)
    missed = "; not read here: " + ", ".join(f"{n} {name_of(c)} ({c})" for c, n in unread.items()) if unread else ""
    return f"languages: {describe(languages)}{missed}"


# -- models ------------------------------------------------------------------------------------
@click.command()
def models() -> None:
    """List the embedding models and backends patscape knows.

    \b
    Examples:
      patscape models
      patscape embed corpus/ --model st:~/models/Qwen3-Embedding-0.6B
    """
    for name, description in MODELS.items():
        click.echo(f"{name:<18} {description}")
    click.echo("aliases: " + ", ".join(f"{a} -> {t}" for a, t in ALIASES.items() if a != t))
    click.echo("\nlanguages each model reads (ISO 639-1; --languages a,b,c on `patscape embed` declares a model's own):")
    for name, languages in PACKAGED_LANGUAGES.items():
        click.echo(f"  {name:<17} {describe(languages)}")
    click.echo(f"  {'st: gguf: openai:':<17} {describe(ANY_LANGUAGE)}, unless --languages names them or the profile "
               "knows them (English-only e5/bge/MiniLM: en; multilingual-e5: as e5-small)")
    click.echo(f"  {'hash:':<17} {describe(ANY_LANGUAGE)}")
    click.echo("\nprofiles (detected from the model, or --profile NAME):")
    seen = set()
    for family, profile in FAMILIES.items():
        if id(profile) in seen:
            continue
        seen.add(id(profile))
        dims = f"MRL dims {profile.min_dims}+" if profile.matryoshka else "no MRL"
        query = profile.templates.get("query", "{text}")
        document = profile.templates.get("document", "{text}")
        languages = "many" if profile.languages == ANY_LANGUAGE else " ".join(profile.languages)
        click.echo(
            f"  {family:<10} {profile.pooling} pooling, {profile.max_tokens} tokens, {dims}, "
            f"languages {languages}; query {query!r}, document {document!r}"
        )
