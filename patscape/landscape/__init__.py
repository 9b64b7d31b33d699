"""From vectors to a landscape: reduce, cluster, label, measure, follow over time, link.

:func:`build_landscape` is the whole stage as one plain function; :class:`MapParams` holds
every parameter with its default, and is stored with each run. Modules: :mod:`.params` (the
parameters), :mod:`.topics` (kNN, UMAP, HDBSCAN), :mod:`.build` (the map of a whole corpus and
the parts every map shares), :mod:`.sample` (large corpora: fitted on a sample), and one per
step: :mod:`.reduce`, :mod:`.cluster`, :mod:`.label`, :mod:`.metrics`, :mod:`.evolution`,
:mod:`.graph`, :mod:`.neighbours`.
"""

from __future__ import annotations

from .build import KeywordCounts, Landscape, assemble, build_landscape
from .params import MIN_DOCUMENTS, SAMPLE_ABOVE, SAMPLE_SIZE, MapParams
from .topics import cluster_subset, fit_topics

__all__ = [
    "MIN_DOCUMENTS", "SAMPLE_ABOVE", "SAMPLE_SIZE", "KeywordCounts", "Landscape", "MapParams", "assemble",
    "build_landscape", "cluster_subset", "fit_topics",
]
