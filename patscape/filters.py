"""What a search may return: language, publication-year range and CPC/IPC prefix.

One value type shared by every way of finding vectors (exact scan, the on-disk ANN index, Milvus),
so that ``--lang zh --years 2018-2023 --cpc H01M`` means the same thing everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InputError

_YEARS = re.compile(r"^\s*(\d{4})?\s*(?:(-|\.\.)\s*(\d{4})?)?\s*$")
_CPC_PREFIX = re.compile(r"^[A-HY](\d{2}([A-Z](\d{1,4}(/\d{0,6})?)?)?)?$")


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Conditions a hit must meet; ``None`` means no condition.

    ``cpc`` is a prefix of a CPC or IPC code as stored (``H01M``, ``H01M10``, ``H01M10/05``),
    matched against both code lists of a document. Years are inclusive and read from the
    document's date; a document without a date fails any year condition.
    """

    lang: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    cpc: str | None = None

    def __post_init__(self) -> None:
        if self.lang is not None:
            object.__setattr__(self, "lang", self.lang.strip().lower() or None)
        if self.cpc is not None:
            code = self.cpc.strip().upper().replace(" ", "")
            if code and not _CPC_PREFIX.match(code):
                raise InputError(f"--cpc {self.cpc!r} is not a CPC/IPC prefix (examples: H01M, H01M10, H01M10/052)")
            object.__setattr__(self, "cpc", code or None)
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise InputError(f"the year range {self.year_from}-{self.year_to} is empty")

    @property
    def empty(self) -> bool:
        return self.lang is None and self.year_from is None and self.year_to is None and self.cpc is None

    def describe(self) -> str:
        parts = []
        if self.lang:
            parts.append(f"language {self.lang}")
        if self.year_from is not None or self.year_to is not None:
            parts.append(f"years {self.year_from or '…'}-{self.year_to or '…'}")
        if self.cpc:
            parts.append(f"CPC/IPC {self.cpc}*")
        return ", ".join(parts) or "no filter"

    @classmethod
    def parse(cls, *, lang: str | None = None, years: str | None = None, cpc: str | None = None) -> SearchFilter:
        """From command-line or query-string text: ``years`` as ``2018-2023``, ``2018-`` or ``-2023`` or ``2020``."""
        year_from = year_to = None
        if years:
            match = _YEARS.match(years)
            if not match or not (match.group(1) or match.group(3)):
                raise InputError(f"--years {years!r}: give a range such as 2018-2023, 2018- or -2023")
            year_from = int(match.group(1)) if match.group(1) else None
            year_to = int(match.group(3)) if match.group(3) else None
            if match.group(2) is None:
                year_to = year_from
        return cls(lang=lang or None, year_from=year_from, year_to=year_to, cpc=cpc or None)
