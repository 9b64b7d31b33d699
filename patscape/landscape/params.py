"""The parameters of a map: :class:`MapParams`, every parameter with its default (stored with
each run), and the corpus sizes the stage is bound by."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .cluster import default_min_cluster_size

MIN_DOCUMENTS = 30
#: Above this many documents the map is fitted on a sample (see :mod:`.sample`); measured in
#: docs/benchmarks.md ("Map at scale").
SAMPLE_ABOVE = 60_000
SAMPLE_SIZE = 30_000


@dataclass(frozen=True, slots=True)
class MapParams:
    """Parameters of a map. ``None`` means "chosen from the corpus size" (recorded as used).

    n_components: dimensions of the UMAP space that is clustered.
    n_neighbors: UMAP neighbourhood size (larger = more global structure).
    min_dist: UMAP ``min_dist`` for the clustering space (0 packs clusters tightly).
    map_min_dist: ``min_dist`` of the 2-D map (a little spread keeps points visible).
    min_cluster_size: smallest topic; default grows with the corpus (10 at 1k docs, 26 at 6k).
    min_samples: HDBSCAN density smoothing; lower = fewer outliers.
    max_cluster_share: a branch of the cluster tree larger than this share of the corpus is split
        into its sub-topics where it has any; a topic still larger is clustered again on its own
        (prevents one-topic-per-language maps).
    reassign: give outliers the topic their nearest neighbours agree on.
    reassign_neighbours / reassign_agreement: how many neighbours vote, and the share needed.
    reassign_passes: rounds of voting at that agreement; outliers placed in one round vote in
        the next.
    max_outlier_share: while more documents than this share are outliers after those rounds,
        further rounds ask for less agreement (2/3, then 1/3 of it, then a plurality), so an
        analyst gets at most this share unassigned unless the neighbours hold no topic at all.
    label_lang: language of the topic labels (ISO 639-1, e.g. "zh") wherever a topic holds a
        document in it; ``None`` labels each topic in its main language.
    levels / top_topics: coarser levels above the topics (0-3; ``None``: chosen from the number
        of topics) and the number of nodes of the top one (``None``: about the square root of
        the topics); see :mod:`.hierarchy`. ``top_topics`` wins where the two disagree.
    subtopics: look for sub-topics inside the topics (:mod:`.subtopics`).
    sample_above / sample_size: a corpus of more than ``sample_above`` documents is mapped by
        fitting on a seeded random sample of ``sample_size`` and placing the rest by their
        nearest sample documents (:mod:`.sample`); UMAP and HDBSCAN then cost the same at 1M
        documents as at ``sample_size``.
    """

    n_components: int = 5
    n_neighbors: int = 30
    min_dist: float = 0.0
    map_min_dist: float = 0.1
    min_cluster_size: int | None = None
    min_samples: int = 5
    max_cluster_share: float = 0.1
    reassign: bool = True
    reassign_neighbours: int = 15
    reassign_agreement: float = 0.3
    reassign_passes: int = 2
    max_outlier_share: float = 0.15
    label_lang: str | None = None
    sample_above: int = SAMPLE_ABOVE
    sample_size: int = SAMPLE_SIZE
    levels: int | None = None
    top_topics: int | None = None
    subtopics: bool = True

    def resolved(self, n: int) -> MapParams:
        size = self.min_cluster_size or default_min_cluster_size(n)
        return MapParams(**{**asdict(self), "min_cluster_size": size})

    def validate(self) -> None:
        if self.n_components < 2:
            raise ValueError("n_components must be at least 2")
        if self.n_neighbors < 2:
            raise ValueError("n_neighbors must be at least 2")
        if self.min_cluster_size is not None and self.min_cluster_size < 2:
            raise ValueError("min_cluster_size must be at least 2")
        if not 0 < self.max_cluster_share <= 1:
            raise ValueError("max_cluster_share must be in (0, 1]")
        if self.reassign_passes < 1:
            raise ValueError("reassign_passes must be at least 1")
        if not 0 <= self.max_outlier_share <= 1:
            raise ValueError("max_outlier_share must be in [0, 1]")
        if not 0 < self.reassign_agreement <= 1:
            raise ValueError("reassign_agreement must be in (0, 1]")
        if self.sample_size < 2 * MIN_DOCUMENTS or self.sample_above < 0:
            raise ValueError(f"sample_size must be at least {2 * MIN_DOCUMENTS} and sample_above at least 0")
        if self.levels is not None and not 0 <= self.levels <= 3:
            raise ValueError(f"levels must be between 0 and 3, got {self.levels}")
        if self.top_topics is not None and self.top_topics < 2:
            raise ValueError(f"top_topics must be at least 2, got {self.top_topics}")
        if self.label_lang is not None and not re.fullmatch(r"[a-z]{2,3}", self.label_lang):
            raise ValueError(f"label_lang must be an ISO 639-1 code such as 'en' or 'zh', got {self.label_lang!r}")
