"""Technology evolution: topic sizes per year, growth, emerging and fading topics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..records import Document

RECENT_YEARS = 5


def evolution(docs: Sequence[Document], labels: NDArray[np.int64], recent_years: int = RECENT_YEARS) -> dict[str, Any]:
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
    years = [d.year for d in docs]
    known = [y for y in years if y is not None]
    if not known:
        return {"years": [], "topics": {}}
    last = max(known)
    newest = max((d.date for d in docs if d.year == last and d.date and len(d.date) >= 7), default=None)
    partial = newest is not None and newest[5:7].isdigit() and int(newest[5:7]) < 12
    end = last - 1 if partial and min(known) < last else last
    first_recent = end - recent_years + 1
    window = list(range(first_recent, end + 1))
    in_window = [y for y in known if first_recent <= y <= end]
    corpus_recent = len(in_window) / max(sum(1 for y in known if y <= end), 1)
    corpus_counts = Counter(in_window)
    corpus_growth = _growth([corpus_counts.get(y, 0) for y in window])
    span = list(range(min(known), last + 1))
    topics: dict[str, Any] = {}
    for topic in sorted(int(t) for t in set(labels.tolist())):
        topic_years = [y for y, t in zip(years, labels.tolist()) if t == topic and y is not None]
        counts = Counter(topic_years)
        up_to_end = sum(n for y, n in counts.items() if y <= end)
        in_window_counts = [counts.get(y, 0) for y in window]
        recent = sum(in_window_counts) / max(up_to_end, 1)
        topics[str(topic)] = {
            "per_year": {str(y): counts[y] for y in sorted(counts)},
            "first_year": min(counts) if counts else None,
            "median_year": int(np.median(topic_years)) if topic_years else None,
            "peak_year": max(counts, key=lambda y: (counts[y], y)) if counts else None,
            "momentum": round(recent / corpus_recent, 3) if corpus_recent and up_to_end else None,
            "growth": _growth(in_window_counts),
            "recent": sum(in_window_counts),
            "corpus_growth": corpus_growth,
        }
    data_to = max((d.date for d in docs if d.date and len(d.date) >= 4), default=None)
    return {"years": span, "recent_from": first_recent, "recent_to": end, "partial_year": last if partial else None,
            "data_to": data_to, "corpus_growth": corpus_growth, "topics": topics}


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
