"""IPC/CPC symbols: subclass, main group, titles, and a topic's dominant main groups.

Canonical forms (the IPC's own printed form): a subclass is ``G06F``; a main group is the
subclass, one space, the group number without leading zeros, and ``/00``: ``G06F 3/00``,
``H01M 10/00``, ``Y02E 10/00``. :func:`main_group` accepts the ways documents and exports
write a symbol: ``G06F3/013``, ``G06F 3/013``, ``g06f  3/013``, ``G06F3/``, ``G06F3``, the
fixed-width ``G06F0003013000`` of EPO/USPTO/WIPO files, with or without an IPC version
(``G06F 3/01 (2006.01)``, ``G06F 3/01 20060101``). A digit run without a slash is read as a
group only when that is unambiguous: one or two digits (``G06F3``; a subgroup has at least two
digits, so three or more could be ``12/3x`` or ``123``) or the ten digits of the fixed-width
form. ``H01L31107`` and the like give None.

Titles are the IPC's English titles of subclasses and main groups, from WIPO's IPC title list
(edition and terms in ``patscape/data/codes/NOTICE``), read once, on first use. A CPC symbol
gets the title of the IPC symbol it shares (CPC main groups are mostly IPC's); CPC-only symbols
(section Y, the 2000-series indexing groups) and groups newer than the shipped edition have
none. Without the data file every title is None.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

#: The shipped table: ``# header`` then ``CODE<TAB>TITLE`` lines (see scripts/build_code_titles.py).
DATA_FILE = Path(__file__).parent / "data" / "codes" / "ipc-titles.tsv.gz"

_SUBCLASS = re.compile(r"^([A-HY])(\d\d)([A-Z])")
#: An IPC version after the symbol: ``(2006.01)``, `` 2006.01``, `` 20060101`` and what follows it.
_VERSION = re.compile(r"(?:\s*\(\s*\d{4}\.?\d\d(?:\.?\d\d)?\s*\)|\s+\d{4}\.?\d\d(?:\.?\d\d)?\b).*$")
_GROUP = re.compile(
    r"(?P<subclass>[A-HY]\d\d[A-Z])"
    r"(?:(?P<fixed>\d{4})\d{6}|(?P<group>\d{1,4})/\d*|(?P<short>\d{1,2}))"
)
_SPACE = re.compile(r"\s+")
#: A parenthesised part of a title that refers elsewhere: it names a symbol or a precedence.
_REFERENCE = re.compile(r"\s*\((?=[^()]*(?:[A-HY]\d\d|precedence))[^()]*\)")


def subclass(code: str) -> str | None:
    """``G06F3/013`` -> ``G06F``; None when the code is not IPC/CPC-shaped.

    Reads the start of the code only, as :func:`patscape.landscape.label.subclass` does.
    """
    match = _SUBCLASS.match(code.strip().upper())
    return "".join(match.groups()) if match else None


def section(code: str) -> str | None:
    sub = subclass(code)
    return sub[0] if sub else None


def main_group(code: str) -> str | None:
    """The canonical main group of a group or subgroup symbol: ``H01M10/0525`` -> ``H01M 10/00``.

    None for a bare subclass (``G06F``), an ambiguous digit run (``H01L31107``) or anything
    not shaped like a symbol. The module docstring lists the forms read.
    """
    text = _VERSION.sub("", code.strip().upper())
    match = _GROUP.fullmatch(_SPACE.sub("", text))
    if not match:
        return None
    group = int(match.group("fixed") or match.group("group") or match.group("short"))
    if group == 0:
        return None
    return f"{match.group('subclass')} {group}/00"


@lru_cache(maxsize=1)
def _titles() -> dict[str, str]:
    """Code -> title of the shipped table; empty when no table ships."""
    try:
        raw = gzip.decompress(DATA_FILE.read_bytes()).decode("utf-8")
    except FileNotFoundError:
        return {}
    table: dict[str, str] = {}
    for line in raw.splitlines():
        if line and not line.startswith("#"):
            code, _, title = line.partition("\t")
            table[code] = title
    return table


def edition() -> str | None:
    """The header line of the shipped table (edition and source), None without one."""
    try:
        with gzip.open(DATA_FILE, "rt", encoding="utf-8") as handle:
            first = handle.readline().rstrip("\n")
    except FileNotFoundError:
        return None
    return first[1:].strip() if first.startswith("#") else None


def title(code: str, *, references: bool = True) -> str | None:
    """The title of a code's main group, or of its subclass when the code is a bare subclass.

    ``title("G06F3/013")`` is the title of ``G06F 3/00``; ``title("G06F")`` that of the subclass.
    None when the code is not a symbol, when its group is unknown to the shipped table (a code
    with a group never falls back to its subclass's title) or when no table ships. With
    ``references=False``, parenthesised parts that point elsewhere (``(edge trimmers for lawns
    A01G0003060000)``, ``(... takes precedence)``) are left out, for display.
    """
    group = main_group(code)
    if group is not None:
        key: str | None = group
    else:
        stripped = _SPACE.sub("", _VERSION.sub("", code.strip().upper()))
        key = stripped if len(stripped) == 4 and subclass(stripped) else None
    found = _titles().get(key) if key else None
    if found is None or references:
        return found
    return _SPACE.sub(" ", _REFERENCE.sub("", found)).strip() or found


def dominant_main_groups(docs_codes: Sequence[Sequence[str]], limit: int = 5) -> list[tuple[str, float]]:
    """The most common main groups of a topic: [(``G06F 3/00``, share of documents)].

    ``docs_codes`` holds each document's codes (e.g. its ``cpc`` list). A document counts once
    per main group however many of its codes fall in it; the share is over the documents that
    have at least one main group. Ties go by code, so the order does not depend on the process.
    """
    counts: Counter[str] = Counter()
    with_groups = 0
    for codes in docs_codes:
        groups = _groups(codes)
        if groups:
            with_groups += 1
            counts.update(groups)
    if not with_groups:
        return []
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(code, round(n / with_groups, 3)) for code, n in ranked]


def _groups(codes: Iterable[str]) -> set[str]:
    return {g for g in (main_group(c) for c in codes if isinstance(c, str)) if g}
