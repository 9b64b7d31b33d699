"""``patscape ingest``: patent files into a store."""

from __future__ import annotations

import time

import click

from ..errors import IngestProblemsError, InputError
from ..ingest import FieldMap
from ..pipeline import ingest as run_ingest
from ..store import Store
from .present import echo_problem, progress

EPILOG_INGEST = """\b
Examples:
  patscape ingest corpus/ patents.jsonl
  patscape ingest corpus/ export.csv --id publication_number --abstract abstract_en
  patscape ingest corpus/ ipg240102.xml          # USPTO grant full text (bulk file)
  patscape ingest corpus/ pdfs/                   # a folder of .txt/.md/.pdf
"""


@click.command(epilog=EPILOG_INGEST)
@click.argument("store", type=click.Path())
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--id", "id_", default="id", show_default=True, help="Field holding the document id.")
@click.option("--title", default="title", show_default=True, help="Field holding the title.")
@click.option("--abstract", default="abstract", show_default=True, help="Field holding the abstract.")
@click.option("--text", default="text", show_default=True, help="Field holding body text of unknown structure.")
@click.option("--claims", default="claims", show_default=True,
              help="Field holding the claims (one per line, or a JSON list of claims).")
@click.option("--description", default="description", show_default=True,
              help="Field holding the description (one paragraph per line).")
@click.option("--lang", default="lang", show_default=True, help="Field holding the ISO 639-1 language (detected when absent).")
@click.option("--date", default="date", show_default=True, help="Field holding the publication date.")
@click.option("--cpc", default="cpc", show_default=True, help="Field holding CPC codes (list or ;,| separated).")
@click.option("--ipc", default="ipc", show_default=True, help="Field holding IPC codes.")
@click.option("--assignee", default="assignee", show_default=True, help="Field holding the assignee(s).")
@click.option("--strict", is_flag=True, help="Check every record first; at the first bad one stop and store nothing.")
@click.option("--batch", type=int, default=500, show_default=True,
              help="Documents written per transaction (a kill loses at most one batch).")
def ingest(store: str, files: tuple[str, ...], id_: str, title: str, abstract: str, text: str, claims: str,
           description: str, lang: str, date: str, cpc: str, ipc: str, assignee: str, strict: bool, batch: int) -> None:
    """Read patents from FILES (JSONL, CSV/TSV, USPTO XML, .txt/.md/.pdf or folders) into STORE.

    Re-ingesting a file adds nothing; a document whose content changed replaces its old
    version (and will be re-embedded). Bad records are reported with file and line and skipped.
    """
    fields = FieldMap(id=id_, title=title, abstract=abstract, text=text, claims=claims, description=description,
                      lang=lang, date=date, cpc=cpc, ipc=ipc, assignee=assignee)
    if batch < 1:
        raise InputError("--batch must be at least 1")
    started = time.perf_counter()
    with Store(store, create=True) as db:
        update, close = progress(0, "doc", "ingest")
        try:
            report = run_ingest(db, files, fields, strict=strict, batch_size=batch, on_problem=echo_problem,
                                progress=update)
        finally:
            close()
        total = db.count_documents()
    click.echo(
        f"ingested {report.read} records in {time.perf_counter() - started:.1f}s: {report.added} added, "
        f"{report.replaced} replaced, {report.unchanged} unchanged, {report.duplicates} duplicates, "
        f"{len(report.problems)} skipped, {len(report.warnings)} kept with a field fixed or dropped; "
        f"{total} documents in {store}"
    )
    if report.problems:
        raise IngestProblemsError(f"{len(report.problems)} records were skipped (see above)")
