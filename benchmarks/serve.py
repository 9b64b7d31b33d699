"""Load on ``patscape serve``: dynamic batching against one request at a time, and the map UI.

Runs, all on loopback, each bounded in time and in requests:

1. embeddings load: ``--clients`` concurrent clients send ``POST /v1/embeddings`` (one text per
   request) for ``--seconds`` (at most ``--max-requests``) to a server with dynamic batching
   (``--max-batch``, ``--max-batch-tokens``), then to the same model with ``max_batch=1`` (every request its own model
   call). Two workloads: short queries and patent abstracts. Reported: requests/s, p50/p99
   latency, errors.
2. UI: the time until the map of the whole development corpus is drawn in headless Chromium
   (page load, API calls and plotly rendering), cold and warm.

The server runs in its own process (``patscape.api.cli:serve``), so the load generator does not
share its interpreter. The corpus store is built in ``--workdir`` when missing (ingest, embed,
map; ``--model``), never inside the repository. Results go to ``benchmarks/results/serve.json``
and a markdown table is printed.

    .venv/bin/python benchmarks/serve.py                       # minilm, 32 clients, 30 s per run
    .venv/bin/python benchmarks/serve.py --model hash:256 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

import httpx

REPO = Path(__file__).resolve().parents[1]
DEV_CORPUS = REPO.parent / "shared" / "data" / "patents-dev.jsonl"
RESULTS = REPO / "benchmarks" / "results" / "serve.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


# -- the store --------------------------------------------------------------------------------------
def ensure_store(workdir: Path, model: str) -> Path:
    """The whole dev corpus ingested, embedded with ``model`` and mapped (built once)."""
    sys.path.insert(0, str(REPO))
    from patscape.pipeline import build_map, embed, ingest
    from patscape.store import Store

    path = workdir / f"dev-{model.replace(':', '-')}"
    with Store(path, create=True) as store:
        if store.count_documents() == 0:
            print(f"ingesting {DEV_CORPUS} into {path} ...", file=sys.stderr)
            ingest(store, [DEV_CORPUS])
        started = time.perf_counter()
        report = embed(store, model)
        if report.embedded:
            print(f"embedded {report.embedded} documents in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        if not [r for r in store.runs() if r.space == report.space.key]:
            print("building the map ...", file=sys.stderr)
            build_map(store, report.space.key)
    return path


# -- servers ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``patscape serve`` in a subprocess on a free loopback port."""

    def __init__(self, store: Path, model: str, max_batch: int, max_batch_tokens: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-c", "from patscape.api.cli import serve; serve()", str(store), "--model", model,
                   "--port", str(self.port), "--max-batch", str(max_batch),
                   "--max-batch-tokens", str(max_batch_tokens)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> Self:
        deadline = time.monotonic() + 300
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server stopped: {self.process.stderr.read() if self.process.stderr else ''}")
                try:
                    if http.get("/health").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not become ready")
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- embeddings load ------------------------------------------------------------------------------------
def workloads(n: int = 2000) -> dict[str, list[str]]:
    with DEV_CORPUS.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line, _ in zip(handle, range(n))]
    abstracts = [r["abstract"] for r in records if r.get("abstract")]
    queries = [" ".join(r["title"].split()[:8]) for r in records if r.get("title")]
    return {"queries": queries, "abstracts": abstracts}


async def load(url: str, model: str, texts: list[str], clients: int, seconds: float, max_requests: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        before = (await http.get("/metrics")).text

        async def client(worker: int) -> None:
            nonlocal sent
            i = worker
            while time.perf_counter() < stop_at and sent < max_requests:
                sent += 1
                text = texts[i % len(texts)]
                i += clients
                started = time.perf_counter()
                try:
                    response = await http.post("/v1/embeddings", json={"input": text, "model": model})
                    if response.status_code == 200:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client(w) for w in range(clients)))
        elapsed = time.perf_counter() - started
        metrics = (await http.get("/metrics")).text
    latencies.sort()

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None

    batch_count = _metric(metrics, "patscape_batch_size_count") - _metric(before, "patscape_batch_size_count")
    batch_sum = _metric(metrics, "patscape_batch_size_sum") - _metric(before, "patscape_batch_size_sum")
    return {
        "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 2), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        "mean_batch": round(batch_sum / batch_count, 2) if batch_count else None,
    }


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


# -- the UI -----------------------------------------------------------------------------------------------
def time_ui(url: str, repeats: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    timings = []
    with httpx.Client(base_url=url, timeout=120) as http:
        started = time.perf_counter()
        count = http.get("/corpus/runs/latest/map").json()["count"]
        first_map_json = time.perf_counter() - started
        started = time.perf_counter()
        http.get("/corpus/runs/latest/map")
        cached_map_json = time.perf_counter() - started
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="patscape-bench-chromium-"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000},
        )
        try:
            for _ in range(repeats):
                page = context.new_page()
                started = time.perf_counter()
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready=yes]", timeout=300_000)
                timings.append(time.perf_counter() - started)
                drawn = int(page.get_attribute("body", "data-points") or 0)
                page.close()
        finally:
            context.close()
    return {
        "points": count, "drawn": drawn, "map_json_first_s": round(first_map_json, 3),
        "map_json_cached_s": round(cached_map_json, 3), "page_to_map_s": [round(t, 2) for t in timings],
        "page_to_map_median_s": round(statistics.median(timings), 2),
    }


# -- main -------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "patscape-bench")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-batch-tokens", type=int, default=1024)
    parser.add_argument("--ui-repeats", type=int, default=3)
    args = parser.parse_args()
    if not DEV_CORPUS.exists():
        sys.exit(f"the development corpus is missing: {DEV_CORPUS}")
    store = ensure_store(args.workdir, args.model)
    texts = workloads()
    runs = []
    for name, max_batch in (("dynamic batching", args.max_batch), ("one at a time", 1)):
        with Server(store, args.model, max_batch, args.max_batch_tokens) as server:
            for workload, items in texts.items():
                asyncio.run(load(server.url, args.model, items[:50], 4, 3, 50))  # warm up
                print(f"{name}, {workload}: {args.clients} clients for {args.seconds:.0f}s ...", file=sys.stderr)
                result = asyncio.run(load(server.url, args.model, items, args.clients, args.seconds, args.max_requests))
                runs.append({"server": name, "max_batch": max_batch, "workload": workload, **result})
    with Server(store, args.model, args.max_batch, args.max_batch_tokens) as server:
        print("timing the map UI ...", file=sys.stderr)
        ui = time_ui(server.url, args.ui_repeats)
    results = {
        "model": args.model, "clients": args.clients, "max_batch_tokens": args.max_batch_tokens, "seconds_per_run": args.seconds, "store": str(store),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "embeddings": runs, "ui": ui, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"\nmodel {args.model}, {args.clients} concurrent clients, one text per request, {args.seconds:.0f}s per run\n")
    print("| server | workload | requests/s | p50 ms | p99 ms | mean batch | errors |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in runs:
        errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "0"
        print(f"| {r['server']} (max_batch={r['max_batch']}) | {r['workload']} | {r['requests_per_s']} | {r['p50_ms']} | "
              f"{r['p99_ms']} | {r['mean_batch']} | {errors} |")
    print(f"\n| UI: map of the whole dev corpus | value |\n|---|---:|\n| points | {ui['points']} |\n"
          f"| map JSON, first request (s) | {ui['map_json_first_s']} |\n| map JSON, cached (s) | {ui['map_json_cached_s']} |\n"
          f"| page load to drawn map, median of {len(ui['page_to_map_s'])} (s) | {ui['page_to_map_median_s']} |")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
