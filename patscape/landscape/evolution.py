"""Technology evolution: topic sizes per year, growth, emerging and fading topics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..records import Document

RECENT_YEARS = 5


def evolution(docs: Sequence[Document], labels: NDArray[np.int64], recent_years: int = RECENT_YEARS,
              calendar: Calendar | None = None) -> dict[str, Any]:
    """Counts per topic and year, and each topic's momentum and growth.

    The corpus's last year is *partial* when its newest full date is before December (an
    export made mid-year); the recent window then ends with the year before, so a half-counted
    year never reads as a decline. ``momentum`` compares the share of a topic's patents
    published in the window (the last ``recent_years`` complete years) with the share of all
    patents published then: above 1 the topic grows faster than the corpus (emerging), below 1
    it fades. ``growth`` is the annual growth rate of the topic's yearly counts over the window,
    from a Poisson log-linear fit of every year's count (zeros included), so one odd year at
    either end does not decide it; None with fewer than 3 patents or 2 years with patents in the window.
    Beside them each topic carries the evidence an analyst needs to read them: ``recent``, its
    patents in the window, and ``corpus_growth``, the same fit on every patent of the corpus (also
    at the top level). A topic can grow in count and still fade against a corpus that grows
    faster (say, an export whose newest years come from another office): its momentum is then
    below 1 while its growth is positive, and the corpus's growth shows why.
    """
    calendar = calendar or Calendar(docs, recent_years)
    if calendar.empty:
        return {"years": [], "topics": {}}
    return {"years": calendar.span, "recent_from": calendar.first_recent, "recent_to": calendar.end,
            "partial_year": calendar.last if calendar.partial else None, "data_to": calendar.data_to,
            "corpus_growth": calendar.corpus_growth, "topics": calendar.by_node(labels)}


class Calendar:
    """The years of a corpus's documents and its recent window, computed once for the evolution of
    any partition of them (:meth:`by_node`: the topics, a level of the hierarchy, the sub-topics)."""

    def __init__(self, docs: Sequence[Document], recent_years: int = RECENT_YEARS) -> None:
        self.years = np.fromiter((-1 if d.year is None else d.year for d in docs), dtype=np.int64, count=len(docs))
        known = self.years[self.years >= 0]
        self.empty = not len(known)
        if self.empty:
            return
        self.first, self.last = int(known.min()), int(known.max())
        newest = max((d.date for d in docs if d.year == self.last and d.date and len(d.date) >= 7), default=None)
        self.partial = newest is not None and newest[5:7].isdigit() and int(newest[5:7]) < 12
        self.end = self.last - 1 if self.partial and self.first < self.last else self.last
        self.first_recent = self.end - recent_years + 1
        self.window = list(range(self.first_recent, self.end + 1))
        in_window = (known >= self.first_recent) & (known <= self.end)
        self.corpus_recent = float(in_window.sum()) / max(int((known <= self.end).sum()), 1)
        corpus_counts = Counter(known[in_window].tolist())
        self.corpus_growth = _growth([corpus_counts.get(y, 0) for y in self.window])
        self.span = list(range(self.first, self.last + 1))
        self.data_to = max((d.date for d in docs if d.date and len(d.date) >= 4), default=None)

    def by_node(self, labels: NDArray[np.int64]) -> dict[str, Any]:
        """Each node's (``-1``: the documents in none) counts per year, first, median and peak
        year, momentum, growth and recent patents (see :func:`evolution`)."""
        labels = np.asarray(labels, dtype=np.int64)
        ids, inverse = np.unique(labels, return_inverse=True)
        width = self.last - self.first + 1
        dated = self.years >= 0
        grid = np.bincount(inverse[dated] * width + (self.years[dated] - self.first),
                           minlength=len(ids) * width).reshape(len(ids), width)
        window = np.zeros((len(ids), len(self.window)), dtype=np.int64)
        lo = max(self.first_recent, self.first)
        window[:, lo - self.first_recent :] = grid[:, lo - self.first : self.end - self.first + 1]
        up_to_end = grid[:, : self.end - self.first + 1].sum(axis=1)
        out: dict[str, Any] = {}
        for row, node in enumerate(ids.tolist()):
            counts = grid[row]
            present = np.flatnonzero(counts)
            recent = int(window[row].sum())
            share = recent / max(int(up_to_end[row]), 1)
            out[str(node)] = {
                "per_year": {str(self.first + j): int(counts[j]) for j in present.tolist()},
                "first_year": self.first + int(present[0]) if len(present) else None,
                "median_year": _median_year(counts, self.first) if len(present) else None,
                # the busiest year; the latest of equally busy ones
                "peak_year": self.first + int(width - 1 - np.argmax(counts[::-1])) if len(present) else None,
                "momentum": round(share / self.corpus_recent, 3) if self.corpus_recent and up_to_end[row] else None,
                "growth": _growth(window[row].tolist()),
                "recent": recent,
                "corpus_growth": self.corpus_growth,
            }
        return out


def _median_year(counts: NDArray[np.int64], first: int) -> int:
    """``int(np.median(years))`` of the years counted by ``counts`` (from ``first``)."""
    total = int(counts.sum())
    cumulative = np.cumsum(counts)
    lower = first + int(np.searchsorted(cumulative, (total - 1) // 2 + 1))
    upper = first + int(np.searchsorted(cumulative, total // 2 + 1))
    return int((lower + upper) / 2)


def _growth(counts: Sequence[int]) -> float | None:
    """Annual growth rate ``exp(b) - 1`` of the Poisson fit ``count_t ~ exp(a + b t)``."""
    y = np.asarray(counts, dtype=np.float64)
    if len(y) < 2 or y.sum() < 3 or np.count_nonzero(y) < 2:
        return None  # no rate from fewer than two years with patents
    t = np.arange(len(y), dtype=np.float64) - (len(y) - 1) / 2
    a, b = np.log(y.mean()), 0.0
    for _ in range(50):  # Newton's method on the Poisson log-likelihood (concave)
        mu = np.exp(a + b * t)
        grad = np.array([(y - mu).sum(), ((y - mu) * t).sum()])
        hess = np.array([[mu.sum(), (mu * t).sum()], [(mu * t).sum(), (mu * t * t).sum()]])
        try:
            step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        except np.linalg.LinAlgError:
            return None
        a, b = a + step[0], float(np.clip(b + step[1], -5.0, 5.0))
        if np.abs(step).max() < 1e-10:
            break
    return round(float(np.exp(b) - 1), 3)
