"""Engines that compute embeddings outside the patscape process (the store stays in it).

:mod:`patscape.engines.ray_embed`: a Ray Data job on a local or remote Ray cluster
(``pip install 'patscape[ray]'``).
"""
