"""patscape: patent landscaping on a laptop.

The library is organised as a one-way pipeline::

    ingest -> store -> embed -> landscape (reduce, cluster, label, metrics) -> search / export

Every stage can be re-run on its own; see :mod:`patscape.pipeline`.
"""

__version__ = "0.1.0"
