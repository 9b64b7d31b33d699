"""Whether a space's vector files and ANN index fit this machine's memory (:mod:`patscape.vectors.disk`)."""

from __future__ import annotations

import os

from .state import FilesState


def physical_memory() -> int | None:
    """Bytes of memory of this machine, ``None`` where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


class MemoryMixin(FilesState):
    """:meth:`memory_advice` of :class:`~patscape.vectors.disk.SpaceVectors`."""

    def memory_advice(self) -> str | None:
        """A word when the float32 files and the index take more than a quarter of this
        machine's memory: a search walks the index's pages at random, so it is fast only while
        the page cache holds them beside the store's own pages and everything else. At 1M x 1024
        on a 24 GB machine (8.6 GB) searches took 91-228 ms; as float16, 7 ms at the same recall
        (docs/benchmarks.md, "Search at scale")."""
        memory = physical_memory()
        if self.dtype != "float32" or not memory:
            return None
        paths = [p for t in (self.docs, self.passages) if t is not None for p in (t.path, t.index_path)]
        size = sum(p.stat().st_size for p in paths if p.exists())
        if size <= memory / 4:
            return None
        return (f"the vector files and ANN index of {self.space.key} take {size / 1e9:.1f} GB, more than a "
                f"quarter of this machine's {memory / 1e9:.0f} GB of memory; searches slow down when the page "
                f"cache cannot hold them. `patscape index {self.store.path} --dtype float16` halves them at the "
                "same recall (docs/scale.md)")
