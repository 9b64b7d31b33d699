"""Search latency as users meet it: ``patscape search`` as a whole process, and ``POST /corpus/search``.

    .venv/bin/python benchmarks/search_latency.py STORE [--label 1000000x1024] [--runs 20] [--cold-runs N] [--requests 300]
    .venv/bin/python benchmarks/search_latency.py /tmp/scale/100000x384-seed2026/store
    .venv/bin/python benchmarks/search_latency.py /tmp/mem8g/1000000x1024-seed2026/store --label 1000000x1024

Run on a store made by ``benchmarks/scale.py --stage generate import`` (or any store with a
complete space and a run). ``docs/benchmarks.md`` ("Search at scale") also times the inner
``SpaceVectors.nearest`` in one long-lived process (``benchmarks/scale_search.py``); this script
times what surrounds it: starting Python, importing patscape, opening the store, the vector
files and the HNSW index, reading the liked document's vector, the filter mask, the hits'
titles and topics, printing.

Query documents: ``--runs`` (CLI) and ``--requests`` (server) ids drawn with ``--seed`` from the
space's stored vectors (the same ids for every variant). Variants: no filter, ``--lang en``,
``--years 2010-2015``, ``--cpc PREFIX`` (``--cpc``, default G06; when no document has it, the
most common 3-character prefix of the query documents' codes).

  cli     ``patscape search STORE --like ID -k 10 [FILTER]`` as a fresh process (the console
          script beside this Python, ``PYTHONPATH`` as given), per variant ``--runs`` runs
          **cold** (``sync; echo 3 > /proc/sys/vm/drop_caches`` before each: the store, the
          vector files, the index and Python's own files read from disk; root only; whether it
          worked is recorded, and a run whose drop failed is not called cold) and ``--runs`` runs
          **warm** (one untimed run first). Wall seconds p50 / p90 / max, and exit codes.
  server  ``patscape serve STORE --port P`` on loopback in a subprocess (ready when ``/health``
          answers and a search returns 200; the store's synthetic model cannot load, which
          ``/health`` reports, and ``--like`` searches do not need it), then per variant 10
          warm-up requests (the first one's time recorded: it opens the files or computes the
          filter mask) and ``--requests`` ``POST /corpus/search`` ``{"like": ID, "k": 10, ...}``
          one after another; milliseconds p50 / p99 / max, status codes. The server is stopped
          with SIGTERM (killed after 30 s); uvicorn shuts down and exits by that signal (-15).

Results are merged into benchmarks/results/search_latency.json under the label (default
``{documents}x{dims}``), with the machine, the load average before and after, and the date.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "search_latency.json"
PY = sys.executable
YEARS = "2010-2015"


# -- the store ----------------------------------------------------------------------------------
def describe_store(store_path: str, count: int, seed: int, cpc: str) -> dict[str, Any]:
    """Documents, space, files and ``count`` query ids (seeded) of the store, read without
    opening the vector files or the index (this process is not the one measured)."""
    sys.path.insert(0, str(REPO))
    from patscape.filters import SearchFilter
    from patscape.spaces import pick_space
    from patscape.store import Store
    from patscape.store import vector_slots as slots
    from patscape.vectors.disk import directory

    with Store(store_path, create=False) as store:
        space = pick_space(store)
        folder = directory(store, space.key)
        db = slots.connect(folder)
        try:
            meta = slots.read_meta(db)
        finally:
            db.close()
        with sqlite3.connect(f"file:{Path(store_path) / 'patscape.sqlite'}?mode=ro", uri=True) as raw:
            ids = [row[0] for row in raw.execute("SELECT doc_id FROM vectors WHERE space = ? ORDER BY doc_id", (space.key,))]
        rng = np.random.default_rng(seed)
        chosen = [ids[i] for i in rng.choice(len(ids), size=min(count, len(ids)), replace=False)]
        if not store.any_matching(SearchFilter(cpc=cpc)):
            codes = collections.Counter(code[:3] for fields in store.filter_fields(chosen).values() for code in fields[2] + fields[3])
            cpc = codes.most_common(1)[0][0]
        where = {"lang": SearchFilter(lang="en"), "years": SearchFilter.parse(years=YEARS), "cpc": SearchFilter(cpc=cpc)}
        matching = {name: store.count_matching(condition) for name, condition in where.items()}
        files = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(folder.iterdir()) if p.is_file()}
        return {
            "documents": store.count_documents(), "space": space.key, "dims": space.dims, "dtype": meta.get("dtype"),
            "indexed_rows": meta.get("docs_index_rows"), "files_mb": files,
            "store_mb": round((Path(store_path) / "patscape.sqlite").stat().st_size / 2**20, 1),
            "cpc": cpc, "matching": matching, "queries": chosen, "runs": len(store.runs()),
        }


def variants(cpc: str) -> dict[str, dict[str, str]]:
    return {"none": {}, "lang": {"lang": "en"}, "years": {"years": YEARS}, "cpc": {"cpc": cpc}}


def stats(values: list[float], points: tuple[int, ...], scale: float, digits: int) -> dict[str, float]:
    array = np.asarray(values) * scale
    out = {f"p{p}": round(float(np.percentile(array, p)), digits) for p in points}
    out["max"] = round(float(array.max()), digits)
    return out


# -- the CLI --------------------------------------------------------------------------------------
def drop_caches() -> str | None:
    """Empties the page cache; None when it worked, else why not."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def cli_command() -> list[str]:
    script = Path(PY).with_name("patscape")
    return [str(script)] if script.exists() else [PY, "-m", "patscape"]


def cli_run(store: str, doc_id: str, flags: dict[str, str], env: dict[str, str]) -> tuple[float, int, str]:
    command = [*cli_command(), "search", store, "--like", doc_id, "-k", "10"]
    for name, value in flags.items():
        command += [f"--{name}", value]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, proc.returncode, (proc.stderr or "")[-300:]


def measure_cli(store: str, queries: list[str], cpc: str, runs: int, cold_runs: int) -> dict[str, Any]:
    env = {**os.environ, "PATSCAPE_NO_PROGRESS": "1"}
    out: dict[str, Any] = {"command": " ".join([*cli_command(), "search", "STORE", "--like", "ID", "-k", "10", "[FILTER]"])}
    ids = queries[:runs]
    for name, flags in variants(cpc).items():
        entry: dict[str, Any] = {"flags": " ".join(f"--{k} {v}" for k, v in flags.items())}
        if cold_runs:
            times, codes, failed = [], [], []
            for doc_id in ids[:cold_runs]:
                why = drop_caches()
                if why:
                    failed.append(why)
                wall, code, err = cli_run(store, doc_id, flags, env)
                times.append(wall)
                codes.append(code)
            entry["cold"] = {**stats(times, (50, 90), 1, 2), "runs": len(times),
                             "exit_codes": dict(collections.Counter(map(str, codes))),
                             "drop_caches_failed": failed[:1] + ([f"{len(failed)} times"] if failed else [])}
            print(f"cli {name} cold: {entry['cold']}", flush=True)
        cli_run(store, ids[0], flags, env)  # untimed: the warm runs find the caches filled
        times, codes, errors = [], [], []
        for doc_id in ids:
            wall, code, err = cli_run(store, doc_id, flags, env)
            times.append(wall)
            codes.append(code)
            if code:
                errors.append(err)
        entry["warm"] = {**stats(times, (50, 90), 1, 2), "runs": len(times),
                         "exit_codes": dict(collections.Counter(map(str, codes))), "errors": errors[:2]}
        print(f"cli {name} warm: {entry['warm']}", flush=True)
        out[name] = entry
    return out


# -- the server -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure_server(store: str, queries: list[str], cpc: str, requests: int, warmup: int = 10) -> dict[str, Any]:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*cli_command(), "serve", store, "--port", str(port)]
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"search_latency-serve-{port}.log", "w+")
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, "PATSCAPE_NO_PROGRESS": "1"}, stdout=log, stderr=subprocess.STDOUT)
    out: dict[str, Any] = {"command": " ".join([*cli_command(), "serve", "STORE", "--port", "P"]), "requests": requests,
                           "warmup": warmup}
    try:
        with httpx.Client(base_url=url, timeout=600) as http:
            deadline = time.monotonic() + 600
            health = None
            while health is None:
                if process.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"the server stopped: {log.read()[-2000:]}")
                try:
                    health = http.get("/health").json()
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the server did not answer within 600 s") from None
                    time.sleep(0.2)
            out["health_s"] = round(time.perf_counter() - started, 2)
            out["health"] = {k: health.get(k) for k in ("status", "model")}
            ids = (queries * (1 + (requests + warmup) // len(queries)))[: requests + warmup]
            for name, flags in variants(cpc).items():
                times, codes = [], []
                for i, doc_id in enumerate(ids):
                    t0 = time.perf_counter()
                    response = http.post("/corpus/search", json={"like": doc_id, "k": 10, **flags})
                    elapsed = time.perf_counter() - t0
                    codes.append(response.status_code)
                    if i == 0:
                        out.setdefault("first_request_ms", {})[name] = round(elapsed * 1000, 1)
                        if response.status_code != 200:
                            raise SystemExit(f"POST /corpus/search {flags}: {response.status_code} {response.text[:500]}")
                    if i >= warmup:
                        times.append(elapsed)
                out[name] = {"body": {"like": "ID", "k": 10, **flags}, **stats(times, (50, 99), 1000, 1),
                             "status": dict(collections.Counter(map(str, codes[warmup:])))}
                print(f"server {name}: {out[name]}", flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            out["exit"] = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out["exit"] = f"killed after 30 s ({process.wait()})"
        log.close()
    return out


# -- results ------------------------------------------------------------------------------------------
def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, {os.cpu_count()} cores, {round(memory)} GiB, kernel {platform.release()}, "
            f"Python {platform.python_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("--label", default=None, help="Key in search_latency.json (default: NxDIMS of the store).")
    parser.add_argument("--runs", type=int, default=20, help="CLI runs per variant, cold and warm each.")
    parser.add_argument("--requests", type=int, default=300, help="Server requests per variant after the warm-up.")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cpc", default="G06", help="CPC prefix of the cpc variant (another is picked if none has it).")
    parser.add_argument("--stage", nargs="+", choices=["cli", "server"], default=["cli", "server"])
    parser.add_argument("--cold-runs", type=int, default=None, help="Cold CLI runs per variant (default: --runs).")
    parser.add_argument("--no-cold", action="store_true", help="Warm CLI runs only (leave the page cache alone).")
    args = parser.parse_args()

    store = describe_store(args.store, max(args.runs, args.requests), args.seed, args.cpc)
    queries = store.pop("queries")
    label = args.label or f"{store['documents']}x{store['dims']}"
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "store_path": args.store,
                           "store": store, "seed": args.seed, "load_avg_start": [round(x, 2) for x in os.getloadavg()],
                           "env": {k: v for k, v in os.environ.items() if k.startswith("PATSCAPE_") or k == "PYTHONPATH"}}
    print(json.dumps({k: out[k] for k in ("date", "machine", "store", "load_avg_start")}), flush=True)
    if "cli" in args.stage:
        load = [round(x, 2) for x in os.getloadavg()]
        out["cli"] = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_avg_start": load,
                      **measure_cli(args.store, queries, store["cpc"], args.runs,
                                  0 if args.no_cold else (args.runs if args.cold_runs is None else args.cold_runs))}
    if "server" in args.stage:
        load = [round(x, 2) for x in os.getloadavg()]
        out["server"] = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_avg_start": load,
                         **measure_server(args.store, queries, store["cpc"], args.requests)}
    out["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    doc = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    doc.setdefault(label, {}).update(out)  # a stage not run keeps its earlier figures
    RESULTS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
