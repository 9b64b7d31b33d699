"""``patscape demo``: ingest, embed, map and report in one go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..export import export_run
from ..pipeline import build_map, embed as run_embed, ingest as run_ingest
from ..spaces import resolve_model
from ..store import Store
from .present import echo_problem, levels_summary, progress, run_summary

#: The sample of 1,000 US patents shipped with patscape.
SAMPLE = Path(__file__).parent.parent / "data" / "sample-us-patents.jsonl"


@click.command()
@click.option("--input", "input_", type=click.Path(exists=True), default=None,
              help="Patent file to map (default: the sample of 1,000 US patents shipped with patscape).")
@click.option("--workdir", type=click.Path(), default="out/demo", show_default=True, help="Where the store and report go.")
@click.option("--model", "-m", default="auto", show_default=True,
              help="auto: by the languages of the input, all-MiniLM-L6-v2 for English only, use-multilingual for "
                   "the languages it reads, e5-small for others (see `patscape models`).")
@click.option("--seed", type=int, default=42, show_default=True)
def demo(input_: str | None, workdir: str, model: str, seed: int) -> None:
    """The main job in one go: ingest a patent file, embed, map, and write the HTML report.

    \b
    Examples:
      patscape demo                                   # the packaged sample of 1,000 US patents
      patscape demo --input patents.jsonl --workdir out/mine
    """
    source = Path(input_) if input_ else SAMPLE
    work = Path(workdir)
    with Store(str(work / "store"), create=True) as db:
        click.echo(f"1/4 ingest {source}")
        report = run_ingest(db, [source], on_problem=echo_problem)
        click.echo(f"    {report.added} added, {report.unchanged} unchanged, {len(report.problems)} skipped")
        model, why = resolve_model(db, model)
        click.echo(f"2/4 embed with {model}" + (f" ({why})" if why else ""))
        bar: dict[str, Any] = {}

        def start(total: int) -> None:
            bar["update"], bar["close"] = progress(total, "doc", "    embed")

        try:
            embedded = run_embed(db, model, on_start=start, progress=lambda n: bar["update"](n),
                                 auto_reason=why)
        finally:
            if "close" in bar:
                bar["close"]()
        for warning in embedded.warnings:
            click.echo(f"    warning: {warning}", err=True)
        click.echo("3/4 map (UMAP + HDBSCAN + labels + hierarchy + metrics)")
        run_id = build_map(db, embedded.space.key, seed=seed)
        run = db.get_run(run_id)
        click.echo("    " + run_summary(run.metrics))
        click.echo(levels_summary(run.data, run.metrics, db.run_levels(run_id)))
        click.echo("4/4 export")
        report_path = export_run(db, "html", work / "report.html", run_id).resolve()
        table_path = export_run(db, "csv", work / "topics.csv", run_id).resolve()
    click.echo(f"\nreport: {report_path}\n  open it in a browser: file://{report_path}")
    click.echo(f"table:  {table_path}")
    click.echo(f"store:  {(work / 'store').resolve()}  (try: patscape search {work / 'store'} \"satellite antenna\")")
