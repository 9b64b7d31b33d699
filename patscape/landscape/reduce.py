"""Dimensionality reduction with UMAP (cosine), seeded: an N-D space for clustering and a 2-D map."""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
from numpy.typing import NDArray

_cached = False


def enable_numba_cache() -> None:
    """Let numba cache on disk the UMAP functions compiled without ``cache=True``.

    umap-learn compiles its graph and layout functions (``smooth_knn_dist``,
    ``compute_membership_strengths``, the epoch of the layout, ...) in every fresh process: most
    of the start-up of a map. Turning numba's on-disk cache on for those dispatchers before
    their first call makes every later process load them instead (numba keys the cache by the
    source file, so an upgrade of umap recompiles). Functions already compiled at import
    (explicit signatures) are left as they are.
    """
    global _cached
    if _cached or os.environ.get("PATSCAPE_NUMBA_CACHE") == "0":  # "0": measure the old start-up
        return
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if module is None or not (name.startswith("umap.") or name.startswith("pynndescent.")):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache) and not value.overloads:
                value.enable_caching()
    _cached = True


def umap_reduce(
    vectors: NDArray[np.float32],
    knn: tuple[NDArray[np.int64], NDArray[np.float32]],
    n_components: int,
    n_neighbors: int,
    min_dist: float,
    seed: int,
) -> NDArray[np.float32]:
    """UMAP embedding of ``vectors`` (n, dims) into (n, n_components), reusing a precomputed kNN.

    With a fixed ``seed`` UMAP runs single-threaded and gives the same result every time. Its
    BLAS (the eigenvectors of the spectral start) is held to one thread too: a map runs two
    UMAPs at once (the clustering space here, the 2-D layout in the second process), and two
    OpenBLAS pools of 2 threads on 2 cores took 8.6 s each for the spectral start of a
    30,000-document sample against 3.0 s with one thread each (2.6 s alone, 2.1 s alone with
    2 threads). One thread also gives the same start, to the last bit, on every machine,
    whatever its number of cores.
    """
    import umap
    from threadpoolctl import threadpool_limits

    enable_numba_cache()
    n = len(vectors)
    if n <= n_components + 1:
        raise ValueError(f"too few points ({n}) for a {n_components}-D UMAP")
    idx, dist = knn
    k = min(n_neighbors, idx.shape[1], n - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(
            n_components=n_components,
            n_neighbors=k,
            min_dist=min_dist,
            metric="cosine",
            random_state=seed,
            init="spectral" if n > n_components + 10 else "random",
            precomputed_knn=(idx[:, :k], dist[:, :k], None),
        )
        with threadpool_limits(limits=1, user_api="blas"):
            out = reducer.fit_transform(vectors)
    return np.asarray(out, dtype=np.float32)


def preload() -> None:
    """Import UMAP (with numba and pynndescent, about 2 s) and turn numba's disk cache on."""
    import umap  # noqa: F401

    enable_numba_cache()


def preload_beside() -> Callable[[], None]:
    """Start :func:`preload` in a thread of this process when UMAP is not imported yet, for
    while this process waits on work that releases the GIL (faiss, BLAS); returns the function
    that waits for it. An import in a thread is an ordinary import: a failure there is raised
    again when UMAP is imported for real."""
    if "umap" in sys.modules:
        return lambda: None
    import threading

    thread = threading.Thread(target=_preload_quietly, name="patscape-preload", daemon=True)
    thread.start()
    return thread.join


def _preload_quietly() -> None:
    try:
        preload()
    except Exception:  # raised again where UMAP is used
        pass


#: From this many points a map computes its 2-D layout (and the keyword counts of its labels) in
#: a second process while this one computes the clustering space (a seeded UMAP runs on one
#: core); below it a process's start-up costs more than it saves. ``PATSCAPE_MAP_PROCESSES=1``
#: keeps everything in-process.
BACKGROUND_FROM = 20_000


def background_for(n: int) -> bool:
    """Whether a map of ``n`` points uses a second process (:class:`SecondProcess`)."""
    return (n >= BACKGROUND_FROM and (os.cpu_count() or 1) >= 2
            and os.environ.get("PATSCAPE_MAP_PROCESSES") != "1")


def second_process(helper: SecondProcess | None, n: int) -> AbstractContextManager[SecondProcess]:
    """``helper`` as a context that leaves it open (the caller's, closed by the caller), or a
    :class:`SecondProcess` of its own for a map of ``n`` points, closed on exit."""
    return nullcontext(helper) if helper is not None else SecondProcess(background_for(n))


class Pending:
    """A computation that may be running in another process: ``result()`` waits for it, and
    computes it here when the other process failed or could not take it."""

    def __init__(self, future: Future[Any] | None, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._future, self._fn, self._args = future, fn, args

    def result(self) -> Any:
        if self._future is not None:
            try:
                return self._future.result()
            except Exception:  # the other process failed or died: the same computation here
                pass
        return self._fn(*self._args)


class SecondProcess:
    """One spawned worker process (a fresh interpreter, never a fork of this one, which may hold
    threads of BLAS, OpenMP or numba) that computes submitted functions in order, while this
    process goes on. Each computes exactly what it would here: same inputs, same numbers. If
    the process cannot start or fails, :meth:`Pending.result` computes here instead, so a map
    never fails for it. With ``background`` false everything is computed here, on demand.
    """

    def __init__(self, background: bool) -> None:
        self._pool = None
        self._futures: list[Future[Any]] = []
        if background:
            try:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            except Exception:  # no second process here
                self._pool = None

    def warm_up(self) -> None:
        """Start the other process now and let it import UMAP and load its compiled functions
        (some 3 s), while this one does work of its own (reading the corpus), so that its first
        real job starts at once."""
        if self._pool is not None:
            self.submit(preload)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Pending:
        future = None
        if self._pool is not None:
            try:
                future = self._pool.submit(fn, *args)
                self._futures.append(future)
            except Exception:  # the pool broke: compute here when asked
                future = None
        return Pending(future, fn, args)

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once every job submitted so far is done (from whichever thread
        finishes the last one), or at once when none is pending or there is no other process."""
        pending = [f for f in self._futures if not f.done()]
        if self._pool is None or not pending:
            callback()
            return
        left = [len(pending)]
        lock = threading.Lock()

        def one_done(_: Future[Any]) -> None:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                callback()

        for future in pending:
            future.add_done_callback(one_done)

    def close(self) -> None:
        """End the other process: at once when its work is done (it is not left behind this
        one), else once idle, without waiting for it (work not started is cancelled); idempotent."""
        if self._pool is not None:
            idle = all(f.done() for f in self._futures)
            self._pool.shutdown(wait=idle, cancel_futures=not idle)
        self._pool = None
        self._futures = []

    def __enter__(self) -> SecondProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
