"""Sparse counts over a grouping of documents (topics, or the nodes of a level): which
documents each node holds (:func:`membership`), and the IPC/CPC codes they carry
(:class:`CodeCounts`), so that whatever is counted per node is one sparse product, not a loop
over documents per node."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from ..codes import main_group, subclass, title
from ..records import Document


def membership(labels: NDArray[np.int64], n_rows: int | None = None) -> sparse.csr_matrix:
    """Nodes x documents: a 1 where document ``j`` is in node ``labels[j]`` (``-1``: in none);
    ``n_rows`` nodes (default: the largest label + 1)."""
    member = np.flatnonzero(labels >= 0)
    rows = int(labels.max()) + 1 if n_rows is None else n_rows
    ones = np.ones(len(member), dtype=np.float32)
    return sparse.csr_matrix((ones, (labels[member], member)), shape=(max(rows, 0), len(labels)))


def code_summary(counts: dict[str, CodeCounts], labels: NDArray[np.int64]) -> dict[int, dict[str, list[Any]]]:
    """Each node's dominant codes: ``{"cpc": [(subclass, share)], "ipc": ..., "cpc_main":
    [(main group, share, title)], "ipc_main": ...}`` (title None where none ships)."""
    found = {key: c.dominant(labels) for key, c in counts.items()}
    nodes = sorted(set(labels[labels >= 0].tolist()))
    out: dict[int, dict[str, list[Any]]] = {}
    for node in nodes:
        entry: dict[str, list[Any]] = {}
        for key, by_node in found.items():
            ranked = by_node.get(node, [])
            entry[key] = [(c, s, title(c, references=False)) for c, s in ranked] if key.endswith("_main") else ranked
        out[node] = entry
    return out


def code_counts(docs: Sequence[Document]) -> dict[str, CodeCounts]:
    """The :class:`CodeCounts` of ``docs`` by subclass and main group, CPC and IPC (one pass per
    scheme; each distinct code is parsed once)."""
    out: dict[str, CodeCounts] = {}
    for kind in ("cpc", "ipc"):
        sub, main = CodeCounts.gather(docs, kind, (subclass, main_group))
        out[kind], out[f"{kind}_main"] = sub, main
    return out


class CodeCounts:
    """Each document's IPC/CPC codes (read by one parse, e.g. their subclasses) as a sparse
    indicator matrix, so that the dominant codes of any grouping of the documents are one
    sparse product (not a loop over documents per group)."""

    def __init__(self, codes: list[str], rows: list[int], cols: list[int], n_docs: int) -> None:
        self.codes = codes
        self.matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_docs, len(codes))
        )
        self.matrix.sum_duplicates()
        self.matrix.data[:] = 1.0  # a document counts once per code
        self.with_codes = np.asarray(self.matrix.sum(axis=1)).ravel() > 0

    @classmethod
    def gather(
        cls, docs: Sequence[Document], kind: str, parses: Sequence[Callable[[str], str | None]]
    ) -> list[CodeCounts]:
        """One :class:`CodeCounts` per parse, from one pass over ``docs``' ``kind`` codes."""
        vocabs: list[dict[str, int]] = [{} for _ in parses]
        seen: dict[str, tuple[int, ...]] = {}  # raw code -> its column under each parse (-1: none)
        rows: list[list[int]] = [[] for _ in parses]
        cols: list[list[int]] = [[] for _ in parses]
        for i, doc in enumerate(docs):
            for raw in getattr(doc, kind):
                columns = seen.get(raw)
                if columns is None:
                    parsed = [parse(raw) for parse in parses]
                    columns = tuple(-1 if p is None else vocab.setdefault(p, len(vocab)) for p, vocab in zip(parsed, vocabs))
                    seen[raw] = columns
                for k, j in enumerate(columns):
                    if j >= 0:
                        rows[k].append(i)
                        cols[k].append(j)
        return [cls(sorted(v, key=v.__getitem__), r, c, len(docs)) for v, r, c in zip(vocabs, rows, cols)]

    def dominant(self, labels: NDArray[np.int64], limit: int = 5) -> dict[int, list[tuple[str, float]]]:
        """``{node: [(subclass, share of the node's documents with codes), ...]}``, as
        a topic's codes are ranked everywhere (ties by code)."""
        clustered = np.flatnonzero(labels >= 0)
        if not len(clustered):
            return {}
        top = int(labels.max()) + 1
        members = membership(labels, top)
        counts = (members @ self.matrix).toarray()
        with_codes = members @ self.with_codes.astype(np.float32)
        out: dict[int, list[tuple[str, float]]] = {}
        for node in np.flatnonzero(np.bincount(labels[clustered], minlength=top)).tolist():
            if with_codes[node] == 0:
                out[node] = []
                continue
            ranked = sorted(
                ((self.codes[j], int(counts[node, j])) for j in np.flatnonzero(counts[node])),
                key=lambda item: (-item[1], item[0]),
            )[:limit]
            out[node] = [(code, round(n / float(with_codes[node]), 3)) for code, n in ranked]
        return out


