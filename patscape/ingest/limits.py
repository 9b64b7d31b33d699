"""Bounds on what a reader holds or reads, so a hostile or broken file cannot exhaust memory or time."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Per-file limits of the readers; what passes one is reported as a positioned problem.

    The defaults suit a workstation reading large exports; a server reading uploads passes smaller ones.
    """

    #: A longer line (JSONL, CSV/TSV, XML) is skipped without being held in memory; for CSV this
    #: also bounds one record spanning several lines (a quoted field with line breaks), which the
    #: csv module holds at up to about 8 bytes a character.
    max_line_bytes: int = 64 * MiB
    #: A gzip file stops (keeping what was read) once it has expanded to this many bytes.
    max_decompressed_bytes: int = 16 * GiB
    #: A larger .txt/.md file is skipped; the text of a PDF is cut at this many characters.
    max_file_bytes: int = 256 * MiB
    #: A larger .pdf file is skipped (a PDF is read into memory whole).
    max_pdf_bytes: int = 512 * MiB
    #: Pages of a PDF read; the rest is cut.
    max_pdf_pages: int = 2000
    #: A larger document of a USPTO XML bulk file is skipped.
    max_xml_document_bytes: int = 256 * MiB
    #: A document of a USPTO XML file nested deeper is skipped (real ones are about 10 deep).
    max_xml_depth: int = 1000

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 1:
                raise ValueError(f"ReadLimits.{name} must be positive")


#: The limits used when a caller gives none.
DEFAULT_LIMITS = ReadLimits()
