#!/usr/bin/env python3
"""Build patscape's table of IPC subclass and main-group titles from WIPO's IPC title list.

Reads the English IPC *title list* that WIPO publishes for each IPC edition in its IPC IT
support and download area (``EN_ipc_title_list_YYYYMMDD.zip``, holding one
``EN_ipc_section_X_title_list_YYYYMMDD.txt`` per section). Every line of those files is
``SYMBOL<TAB>TITLE`` with WIPO's long symbols: ``G06F`` for a subclass, ``G06F0003000000`` for the
main group ``G06F 3/00``, ``G06F0003010000`` for the subgroup ``G06F 3/01``. A source may be
given as that zip, as a folder of the section files, or as the section files themselves (or one
file holding them all one after the other).

Only subclasses and main groups are kept, written as ``CODE<TAB>TITLE`` in patscape's canonical
form (``G06F``, ``G06F 3/00``; see :mod:`patscape.codes`), gzip-compressed with a fixed
timestamp so that the same source gives the same bytes. Where the list repeats a symbol, the
lines before its last are guidance headings and the last is the group's own title. A title's
text is WIPO's, unchanged but for line breaks and runs of white space inside it, which become
one space (a few titles of the source run over several lines). The first line of the output is
a ``#`` comment naming the edition and the source.

Rebuild after downloading a newer title list::

    python scripts/build_code_titles.py EN_ipc_title_list_20260101.zip --edition 2026.01

and update ``patscape/data/codes/NOTICE`` (edition, date, source).
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "patscape" / "data" / "codes" / "ipc-titles.tsv.gz"

_SUBCLASS = re.compile(r"^[A-H]\d\d[A-Z]$")
_GROUP = re.compile(r"^([A-H]\d\d[A-Z])(\d{4})(\d{6})$")
#: A line that starts a record: any WIPO symbol (section, class, subclass, group), then a tab.
_RECORD = re.compile(r"^[A-H](?:\d\d(?:[A-Z](?:\d{10})?)?)?\t")
_SPACE = re.compile(r"\s+")


def _texts(sources: Iterable[Path]) -> Iterator[tuple[str, str]]:
    """(name, text) of every title-list file in the sources, in name order within a source."""
    for source in sources:
        if source.is_dir():
            for path in sorted(source.glob("*title_list*.txt")):
                yield path.name, path.read_text(encoding="utf-8-sig")
        elif zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                for name in sorted(n for n in archive.namelist() if n.endswith(".txt")):
                    yield name, archive.read(name).decode("utf-8-sig")
        else:
            yield source.name, source.read_text(encoding="utf-8-sig")


def records(text: str) -> Iterator[tuple[str, str]]:
    """(symbol, title) of a title list; a line that starts no record continues the one before."""
    symbol: str | None = None
    parts: list[str] = []
    for line in text.splitlines():
        if _RECORD.match(line):
            if symbol is not None:
                yield symbol, _SPACE.sub(" ", " ".join(parts)).strip()
            symbol, _, first = line.partition("\t")
            parts = [first]
        elif symbol is not None and line.strip():
            parts.append(line)
    if symbol is not None:
        yield symbol, _SPACE.sub(" ", " ".join(parts)).strip()


def canonical(symbol: str) -> str | None:
    """``G06F`` -> ``G06F``; ``G06F0003000000`` -> ``G06F 3/00``; None for anything else."""
    if _SUBCLASS.match(symbol):
        return symbol
    match = _GROUP.match(symbol)
    if match and match.group(3) == "000000" and int(match.group(2)) > 0:
        return f"{match.group(1)} {int(match.group(2))}/00"
    return None


def build(sources: Iterable[Path]) -> list[tuple[str, str]]:
    rows: dict[str, str] = {}
    for _name, text in _texts(sources):
        for symbol, title in records(text):
            code = canonical(symbol)
            if code is None or not title:
                continue
            # A symbol repeated in a row: the lines before its last are guidance headings
            # ("Ploughs" before "A01B 3/00 Ploughs with fixed plough-shares"), or an indexing
            # scheme's heading; the last line is the group's own title.
            rows[code] = title
    return list(rows.items())


def write(rows: list[tuple[str, str]], out: Path, header: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    body = io.StringIO()
    body.write(f"# {header}\n")
    for code, title in rows:
        if "\t" in title or "\n" in title:
            raise SystemExit(f"{code}: a title holds a tab or a line break")
        body.write(f"{code}\t{title}\n")
    with open(out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(body.getvalue().encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, help="WIPO title list: zip, folder or .txt file(s)")
    parser.add_argument("--edition", required=True, help="IPC edition of the source, e.g. 2019.01")
    parser.add_argument("--source-name", default=None, help="what the header names as the source (default: the file names)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rows = build(args.sources)
    subclasses = sum(1 for code, _ in rows if " " not in code)
    if not subclasses or len(rows) == subclasses:
        raise SystemExit("no subclasses or no main groups found: is this a WIPO IPC title list?")
    source = args.source_name or ", ".join(p.name for p in args.sources)
    write(rows, args.out, f"IPC {args.edition} (WIPO) subclass and main-group titles; source: {source}")
    print(f"{args.out}: {subclasses} subclasses, {len(rows) - subclasses} main groups, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
