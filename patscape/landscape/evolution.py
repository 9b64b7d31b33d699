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
    """Counts per topic and year, and each topic's momentum.

    ``momentum`` compares the share of a topic's patents published in the corpus's last
    ``recent_years`` years with the share of all patents published then: above 1 the topic grows
    faster than the corpus (emerging), below 1 it fades. ``growth`` is the compound annual growth
    of the topic's yearly counts over those years (None when a count is zero at either end).
    """
    years = [d.year for d in docs]
    known = [y for y in years if y is not None]
    if not known:
        return {"years": [], "topics": {}}
    last = max(known)
    first_recent = last - recent_years + 1
    corpus_recent = sum(1 for y in known if y >= first_recent) / len(known)
    span = list(range(min(known), last + 1))
    topics: dict[str, Any] = {}
    for topic in sorted(int(t) for t in set(labels.tolist())):
        topic_years = [y for y, t in zip(years, labels.tolist()) if t == topic and y is not None]
        counts = Counter(topic_years)
        recent = sum(n for y, n in counts.items() if y >= first_recent) / max(len(topic_years), 1)
        start, end = counts.get(first_recent, 0), counts.get(last, 0)
        growth = (end / start) ** (1 / (recent_years - 1)) - 1 if start and end and recent_years > 1 else None
        topics[str(topic)] = {
            "per_year": {str(y): counts[y] for y in sorted(counts)},
            "first_year": min(counts) if counts else None,
            "median_year": int(np.median(topic_years)) if topic_years else None,
            "peak_year": max(counts, key=lambda y: (counts[y], y)) if counts else None,
            "momentum": round(recent / corpus_recent, 3) if corpus_recent else None,
            "growth": round(growth, 3) if growth is not None else None,
        }
    return {"years": span, "recent_from": first_recent, "topics": topics}
