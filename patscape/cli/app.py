"""The ``patscape`` group, its commands, and :func:`main`, where library errors become a
one-line message on stderr and an exit code."""

from __future__ import annotations

import importlib
import logging
import os
import sqlite3

import click

from .. import __version__
from ..errors import PatscapeError, StoreBusyError

#: Every command and where it is defined. A command's module, and the libraries it needs, load
#: only when that command runs (or when the group's help lists it): ``patscape search`` does not
#: pay for the map's libraries, nor ``patscape ingest`` for the server's.
COMMANDS = {
    "demo": "patscape.cli.demo:demo",
    "embed": "patscape.cli.vectors:embed",
    "emerging": "patscape.cli.landscape:emerging",
    "export": "patscape.cli.landscape:export",
    "import-vectors": "patscape.cli.vectors:import_vectors",
    "index": "patscape.cli.vectors:index",
    "info": "patscape.cli.info:info",
    "ingest": "patscape.cli.ingest:ingest",
    "lineage": "patscape.cli.landscape:lineage",
    "map": "patscape.cli.landscape:map_",
    "models": "patscape.cli.info:models",
    "name": "patscape.cli.landscape:name",
    "owners": "patscape.cli.landscape:owners",
    "families": "patscape.cli.landscape:families",
    "runs": "patscape.cli.landscape:runs",
    "search": "patscape.cli.search:search",
    "locate": "patscape.cli.search:locate",
    "serve": "patscape.api.cli:serve",
    "topic": "patscape.cli.landscape:topic",
}


class Commands(click.Group):
    """The ``patscape`` group: looks its commands up in :data:`COMMANDS` when they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, name = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="patscape")
@click.option("-v", "--verbose", is_flag=True, help="Log what each stage does.")
def cli(verbose: bool) -> None:
    """Patent landscapes on a laptop: ingest, embed, map, search, export.

    \b
    A typical session:
      patscape ingest corpus/ patents.jsonl
      patscape embed corpus/
      patscape map corpus/
      patscape export corpus/ --format html --out landscape.html
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn errors into one-line messages and exit codes."""
    try:
        cli.main(args=argv, prog_name="patscape", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("patscape: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except PatscapeError as exc:
        click.echo(f"patscape: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("patscape: interrupted; committed work is kept, run the same command to resume", err=True)
        return 130
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            busy = StoreBusyError()
            click.echo(f"patscape: error: {busy}", err=True)
            return busy.exit_code
        if os.environ.get("PATSCAPE_DEBUG"):
            raise
        click.echo(f"patscape: internal error: {type(exc).__name__}: {exc} (PATSCAPE_DEBUG=1 shows the traceback)", err=True)
        return 3
    except Exception as exc:  # the edge: never a traceback for the user unless asked
        if os.environ.get("PATSCAPE_DEBUG"):
            raise
        click.echo(f"patscape: internal error: {type(exc).__name__}: {exc} (PATSCAPE_DEBUG=1 shows the traceback)", err=True)
        return 3
    return 0
