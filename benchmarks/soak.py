"""Soak: ``patscape serve`` under a bounded mixed load while the CLI writes to the same store.

Not part of the test run. Everything runs on this machine, on loopback, in real processes:

1. A store is built from a deterministic sample of the development corpus
   (``/work/shared/data/patents-dev.jsonl``, English and Chinese) with the CLI in subprocesses:
   ``patscape ingest``, ``patscape embed --model M``, ``patscape map``. The built store is kept
   in ``--workdir`` and copied afresh for every soak (``--rebuild`` builds it again).
2. ``patscape serve STORE --model M --port P`` starts in a subprocess (its log goes to
   ``WORKDIR/serve.log``); the load starts once ``/health`` answers 200.
3. For ``--minutes`` a closed-loop load (each thread sends its next request when the last one
   was answered) with httpx:

   - 16 threads ``POST /v1/embeddings`` with 1-8 short patent-like texts (OpenAI format);
   - 2 threads take turns at ``POST /corpus/search`` (an English query, a Chinese query,
     ``{"like": id}``), ``GET /corpus/documents/{id}`` and ``GET /corpus/runs/latest/map``;
   - 1 thread uploads ``--uploads`` held-back documents as JSONL files of 50 documents
     (``POST /corpus/uploads``, multipart field ``files``): half of the files at once (so the
     queue of 8 jobs fills and 429 + Retry-After is exercised), the rest spread over the first
     80% of the window, and polls ``GET /corpus/jobs/{id}`` until every job has ended;
   - the main thread runs the CLI on the same store: ``patscape ingest`` of a further file
     (``--cli-docs`` new documents and ``--cli-changed`` stored documents with a changed
     abstract), then ``patscape embed --model M``, then ``patscape map`` (exit codes and
     durations are recorded; 75 means "store busy").

   After the window the load stops, the CLI and the upload jobs are waited for, and the server
   is stopped (SIGTERM).
4. The store is checked with the server stopped: ``Store.check()`` all zero, every document has
   exactly one vector of its current text in the default space
   (``patscape.spaces.pick_space``), nothing left in ``STORE/uploads/``.

A readable report is printed and the figures go to ``--out`` (JSON). Exit code 0 when nothing
failed (no 5xx, no transport error, no failed job, no CLI failure, a consistent store), else 1.

    .venv/bin/python benchmarks/soak.py                                   # 10 min, use-multilingual
    .venv/bin/python benchmarks/soak.py --minutes 1 --model hash:256 --docs 300   # a smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DEV_CORPUS = Path("/work/shared/data/patents-dev.jsonl")
RESULTS = REPO / "benchmarks" / "results" / "soak.json"
SEED = 2026
UPLOAD_FILE_DOCS = 50
EMBED_CLIENTS = 16
CORPUS_CLIENTS = 2
#: Statuses that are the expected answer of each kind of request.
OK_STATUS = {"POST /corpus/uploads": 202}


# -- the corpus ----------------------------------------------------------------------------------
@dataclass
class Corpus:
    base: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    cli_new: list[dict[str, Any]]
    cli_changed: list[dict[str, Any]]
    rest: list[dict[str, Any]]  # never stored: the source of queries and embedding inputs


def sample_corpus(docs: int, uploads: int, cli_docs: int, cli_changed: int) -> Corpus:
    """A deterministic shuffle of the dev corpus cut into disjoint parts."""
    with DEV_CORPUS.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    random.Random(SEED).shuffle(records)
    need = docs + uploads + cli_docs
    if need > len(records) - 100:
        sys.exit(f"--docs {docs} + --uploads {uploads} + --cli-docs {cli_docs} leave too few of {len(records)} records")
    base = records[:docs]
    changed = []
    for i, record in enumerate(base[:cli_changed]):
        edited = dict(record)
        note = "（修订）本文本在测试中被修改。" if record.get("lang") == "zh" else " (Revised: this text was changed by the soak test.)"
        edited["abstract"] = (record.get("abstract") or "") + note + f" #{i}"
        changed.append(edited)
    return Corpus(base, records[docs:docs + uploads], records[docs + uploads:need], changed, records[need:])


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def short_texts(records: list[dict[str, Any]]) -> list[str]:
    """Short patent-like inputs: titles and the first sentence of abstracts, cut to about 30 words."""
    texts = []
    for r in records:
        if r.get("title"):
            texts.append(r["title"])
        abstract = (r.get("abstract") or "").strip()
        if abstract:
            if r.get("lang") == "zh":
                texts.append(abstract.split("。")[0][:80])
            else:
                texts.append(" ".join(abstract.split(". ")[0].split()[:30]))
    return [t for t in texts if t.strip()]


def queries(records: list[dict[str, Any]], lang: str) -> list[str]:
    out = []
    for r in records:
        if r.get("lang") != lang or not r.get("title"):
            continue
        out.append(r["title"][:30] if lang == "zh" else " ".join(r["title"].split()[:8]))
    return out


# -- the CLI ---------------------------------------------------------------------------------------
def patscape_command() -> list[str]:
    script = Path(sys.executable).parent / "patscape"
    return [str(script)] if script.exists() else [sys.executable, "-m", "patscape"]


#: Where the package is imported from by every process of the soak (see :func:`snapshot_code`).
CODE: list[Path] = []


def child_env() -> dict[str, str]:
    # PATSCAPE_DEBUG: an internal error of the CLI prints its traceback into WORKDIR/cli.log.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "PATSCAPE_DEBUG": "1"}
    if CODE:
        env["PYTHONPATH"] = os.pathsep.join([str(CODE[0]), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def snapshot_code(workdir: Path) -> dict[str, Any]:
    """Copy the package as it is now into ``WORKDIR/code``, imported first by every process of
    the soak (``PYTHONPATH``), so that edits made to the working tree during the run do not mix
    versions of the code in one soak; the copy stays there for the record."""
    target = workdir / "code"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO / "patscape", target / "patscape", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    digest = hashlib.sha256()
    for path in sorted((target / "patscape").rglob("*.py")):
        digest.update(str(path.relative_to(target)).encode() + b"\0" + path.read_bytes())
    CODE[:] = [target]
    check = subprocess.run([sys.executable, "-c", "import patscape.cli, patscape.api.app, patscape.pipeline; "
                            "import patscape; print(patscape.__file__)"], cwd=workdir, env=child_env(),
                           capture_output=True, text=True, check=False)
    if check.returncode != 0 or not check.stdout.strip().startswith(str(target)):
        sys.exit(f"the copy of the package in {target} does not import:\n{check.stdout}{check.stderr}")
    return {"path": str(target), "sha256_py": digest.hexdigest()[:16]}


def run_cli(args: list[str], cwd: Path, log: Path, started_at: float | None = None) -> dict[str, Any]:
    """Run ``patscape ARGS`` to its end; exit code, duration, the last lines it printed."""
    command = patscape_command() + args
    begin = time.perf_counter()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ patscape {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=child_env(), stdout=out, stderr=subprocess.STDOUT, check=False)
    end = time.perf_counter()
    lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    tail = lines[-3:]
    result: dict[str, Any] = {
        "command": "patscape " + " ".join(args), "exit_code": done.returncode, "seconds": round(end - begin, 1),
        "busy": done.returncode == 75, "last_lines": tail,
    }
    if started_at is not None:
        result["start_s"] = round(begin - started_at, 1)
        result["end_s"] = round(end - started_at, 1)
    return result


def slug(model: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in model)


def build_base(workdir: Path, model: str, corpus: Corpus, docs: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The store of the ``docs`` base documents, embedded and mapped (built once, kept)."""
    base = workdir / f"base-{slug(model)}-{docs}"
    info_file = workdir / f"base-{slug(model)}-{docs}.json"
    if rebuild or not info_file.exists():
        shutil.rmtree(base, ignore_errors=True)
        source = workdir / f"base-{docs}.jsonl"
        write_jsonl(source, corpus.base)
        log = workdir / "build.log"
        log.write_text("", encoding="utf-8")
        steps = []
        for args in (["ingest", str(base), str(source)], ["embed", str(base), "--model", model], ["map", str(base)]):
            print(f"building the store: patscape {' '.join(args)} ...", file=sys.stderr)
            step = run_cli(args, workdir, log)
            steps.append(step)
            if step["exit_code"] not in (0, 1) or (args[0] != "ingest" and step["exit_code"] != 0):
                sys.exit(f"building the store failed: {step['command']} exited {step['exit_code']}; see {log}")
        info_file.write_text(json.dumps({"steps": steps, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1),
                             encoding="utf-8")
    return base, json.loads(info_file.read_text(encoding="utf-8"))


# -- the server ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``patscape serve`` on a free loopback port, its output in ``log``."""

    def __init__(self, store: Path, model: str, cwd: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("w", encoding="utf-8")
        command = patscape_command() + ["serve", str(store), "--model", model, "--port", str(self.port)]
        self.command = "patscape " + " ".join(command[len(patscape_command()):])
        self.process = subprocess.Popen(command, cwd=cwd, env=child_env(), stdout=self._out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 900) -> float:
        begin = time.perf_counter()
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while True:
                if self.process.poll() is not None:
                    sys.exit(f"the server stopped (exit {self.process.returncode}):\n{self.log.read_text()}")
                try:
                    if http.get("/health").status_code == 200:
                        return time.perf_counter() - begin
                except httpx.TransportError:
                    pass
                if time.perf_counter() - begin > timeout:
                    self.stop()
                    sys.exit("the server did not become ready")
                time.sleep(0.5)

    def stop(self) -> dict[str, Any]:
        begin = time.perf_counter()
        alive = self.process.poll() is None
        if alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
            killed = False
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            killed = True
        self._out.close()
        return {"alive_at_stop": alive, "exit_code": self.process.returncode, "killed_after_60s": killed,
                "stop_seconds": round(time.perf_counter() - begin, 1)}


# -- recording -------------------------------------------------------------------------------------
@dataclass
class Route:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)


class Recorder:
    """Per route: latencies of the answers that were expected, counts of every status, and the
    first few unexpected answers (request, status, body) for the report."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self.routes: dict[str, Route] = {}
        self.lock = threading.Lock()

    def record(self, route: str, status: str, seconds: float, ok: bool, request: str = "", body: str = "") -> None:
        with self.lock:
            entry = self.routes.setdefault(route, Route())
            entry.statuses[status] += 1
            if ok:
                entry.latencies.append(seconds)
            elif sum(1 for s in entry.samples if s["status"] == status) < 5:
                entry.samples.append({
                    "status": status, "at_s": round(time.perf_counter() - self.started_at, 1),
                    "wall_time": time.strftime("%H:%M:%S"), "seconds": round(seconds, 3),
                    "request": request[:300], "body": body[:600],
                })

    def call(self, http: httpx.Client, route: str, method: str, url: str, describe: str = "",
             check: Any = None, **kwargs: Any) -> httpx.Response | None:
        """Send one request and record it; ``check(response)`` returns a problem with a 2xx body."""
        begin = time.perf_counter()
        try:
            response = http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.record(route, type(exc).__name__, time.perf_counter() - begin, False, describe or f"{method} {url}", str(exc))
            return None
        seconds = time.perf_counter() - begin
        expected = OK_STATUS.get(route.split(" [")[0], 200)
        status = str(response.status_code)
        ok = response.status_code == expected
        if ok and check is not None:
            problem = check(response)
            if problem:
                self.record(route, "bad_body", seconds, False, describe or f"{method} {url}", problem)
                return response
        self.record(route, status, seconds, ok, describe or f"{method} {url}", "" if ok else response.text)
        return response

    def summary(self) -> dict[str, Any]:
        out = {}
        for name in sorted(self.routes):
            entry = self.routes[name]
            lat = sorted(entry.latencies)
            errors = {k: v for k, v in entry.statuses.items() if k != str(OK_STATUS.get(name.split(" [")[0], 200))}
            out[name] = {
                "requests": sum(entry.statuses.values()), "served": len(lat), "statuses": dict(entry.statuses),
                "errors": errors, "p50_ms": pct(lat, 0.50), "p99_ms": pct(lat, 0.99),
                "max_ms": round(lat[-1] * 1000, 1) if lat else None, "error_samples": entry.samples,
            }
        return out


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted seconds, in ms."""
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


# -- the load --------------------------------------------------------------------------------------
def embeddings_client(url: str, model: str, texts: list[str], seed: int, stop: threading.Event, rec: Recorder) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=300) as http:
        while not stop.is_set():
            inputs = rng.sample(texts, rng.randint(1, 8))

            def check(response: httpx.Response, n: int = len(inputs)) -> str | None:
                data = response.json().get("data", [])
                if len(data) != n or any(not item.get("embedding") for item in data):
                    return f"{len(data)} embeddings for {n} inputs"
                return None

            rec.call(http, "POST /v1/embeddings", "POST", "/v1/embeddings", json={"model": model, "input": inputs},
                     describe=f"POST /v1/embeddings {json.dumps({'model': model, 'input': inputs}, ensure_ascii=False)}",
                     check=check)


def corpus_client(url: str, en: list[str], zh: list[str], ids: list[str], seed: int, stop: threading.Event,
                  rec: Recorder) -> None:
    rng = random.Random(seed)
    actions = ["search_en", "search_zh", "search_like", "document", "map"]
    turn = seed

    def hits(response: httpx.Response) -> str | None:
        return None if response.json().get("hits") else "no hits"

    with httpx.Client(base_url=url, timeout=300) as http:
        while not stop.is_set():
            action = actions[turn % len(actions)]
            turn += 1
            if action in ("search_en", "search_zh", "search_like"):
                if action == "search_like":
                    body: dict[str, Any] = {"like": rng.choice(ids), "k": 10}
                    route = "POST /corpus/search [like]"
                else:
                    body = {"query": rng.choice(en if action == "search_en" else zh), "k": 10}
                    route = f"POST /corpus/search [{action[-2:]}]"
                rec.call(http, route, "POST", "/corpus/search", json=body, check=hits,
                         describe=f"POST /corpus/search {json.dumps(body, ensure_ascii=False)}")
            elif action == "document":
                doc_id = rng.choice(ids)
                rec.call(http, "GET /corpus/documents/{id}", "GET", f"/corpus/documents/{doc_id}",
                         check=lambda r, d=doc_id: None if r.json().get("id") == d else "another document")
            else:
                rec.call(http, "GET /corpus/runs/latest/map", "GET", "/corpus/runs/latest/map",
                         check=lambda r: None if r.json().get("count") else "an empty map")


@dataclass
class UploadState:
    files: int = 0
    submitted: int = 0
    retries_429: int = 0
    retries_503: int = 0
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> last JobPublic seen
    job_file: dict[str, int] = field(default_factory=dict)
    unsubmitted: list[int] = field(default_factory=list)
    drained: bool = False
    drain_seconds: float | None = None


def uploader(url: str, files: list[bytes], window: float, started_at: float, stop: threading.Event,
             drain_until: list[float], rec: Recorder, state: UploadState) -> None:
    """Half of the files at once, the rest spread over the first 80% of the window; every job
    polled until it ends (until ``drain_until[0]`` after the window)."""
    state.files = len(files)
    burst = (len(files) + 1) // 2
    rest = len(files) - burst
    due = [0.0] * burst + [window * (0.1 + 0.7 * i / max(rest - 1, 1)) for i in range(rest)]
    pending = list(range(len(files)))
    not_before = 0.0
    open_jobs: set[str] = set()
    with httpx.Client(base_url=url, timeout=300) as http:
        while True:
            now = time.perf_counter() - started_at
            if stop.is_set():
                if not open_jobs:
                    state.drained = True
                    break
                if time.perf_counter() > drain_until[0]:
                    break
            elif pending and due[pending[0]] <= now and now >= not_before:
                i = pending[0]
                response = rec.call(http, "POST /corpus/uploads", "POST", "/corpus/uploads",
                                    files=[("files", (f"soak-{i:03d}.jsonl", files[i], "application/x-ndjson"))],
                                    describe=f"POST /corpus/uploads files=soak-{i:03d}.jsonl ({UPLOAD_FILE_DOCS} docs)")
                if response is not None and response.status_code == 202:
                    job = response.json()
                    state.jobs[job["id"]] = job
                    state.job_file[job["id"]] = i
                    open_jobs.add(job["id"])
                    state.submitted += 1
                    pending.pop(0)
                elif response is not None and response.status_code in (429, 503):
                    if response.status_code == 429:
                        state.retries_429 += 1
                    else:
                        state.retries_503 += 1
                    not_before = now + float(response.headers.get("Retry-After", "5"))
                else:  # anything else: recorded; retry this file later, once
                    not_before = now + 5
                continue
            for job_id in sorted(open_jobs):
                response = rec.call(http, "GET /corpus/jobs/{id}", "GET", f"/corpus/jobs/{job_id}")
                if response is not None and response.status_code == 200:
                    job = response.json()
                    state.jobs[job_id] = job
                    if job["state"] in ("done", "failed"):
                        open_jobs.discard(job_id)
            time.sleep(1.0)
    state.unsubmitted = pending


# -- the consistency check ------------------------------------------------------------------------------
def final_check(store_path: Path, expected: list[dict[str, Any]]) -> dict[str, Any]:
    """The store after the soak, read with the server stopped. ``expected``: every record the
    soak put in (an absent one counts as lost unless it is a content twin, same title and
    abstract, of a stored record: patscape stores identical patents once)."""
    expected_ids = {r["id"] for r in expected}
    twins: dict[tuple[str, str], set[str]] = {}
    for r in expected:
        twins.setdefault((r.get("title") or "", r.get("abstract") or ""), set()).add(r["id"])
    sys.path.insert(0, str(CODE[0] if CODE else REPO))
    try:
        from patscape.spaces import pick_space
    except ImportError:  # a checkout from before patscape.spaces
        from patscape.pipeline import pick_space
    from patscape.store import Store

    with Store(store_path, create=False) as store:
        check = store.check()
        space = pick_space(store)
        progress = store.space_progress(space)
        vector_ids, _ = store.load_vectors(space.key)
        duplicates = len(vector_ids) - len(set(vector_ids))
        without = store.ids_without_vectors(space.key)
        stored = set(store.titles(sorted(expected_ids)))
        by_id = {r["id"]: (r.get("title") or "", r.get("abstract") or "") for r in expected}

        def twins_of(doc_id: str) -> set[str]:
            return twins[by_id[doc_id]] - {doc_id}

        jobs = Counter(row[1] for row in store.jobs(limit=10_000))
        result = {
            "check": check, "check_all_zero": not any(check.values()),
            "default_space": space.key, "default_space_complete": space.complete,
            "spaces": [s.key for s in store.spaces()], "runs": len(store.runs()),
            "documents": progress.documents, "embedded": progress.embedded, "missing": progress.missing,
            "missing_ids": without[:20], "duplicate_vectors": duplicates,
            "vectors_in_space": len(vector_ids),
            "expected_documents_stored": len(stored), "expected_documents": len(expected_ids),
            "twins_not_stored_again": sorted(i for i in expected_ids - stored if twins_of(i) & stored),
            "lost_documents": sorted(i for i in expected_ids - stored if not twins_of(i) & stored)[:20],
            "jobs_in_store": dict(jobs),
        }
    leftovers = sorted(str(p.relative_to(store_path)) for p in (store_path / "uploads").rglob("*")) \
        if (store_path / "uploads").exists() else []
    result["upload_leftovers"] = leftovers[:20]
    result["upload_leftover_count"] = len(leftovers)
    result["one_vector_per_document"] = (
        progress.missing == 0 and duplicates == 0 and len(vector_ids) == progress.documents
        and check.get("vectors_of_old_text", 0) == 0
    )
    result["consistent"] = bool(result["check_all_zero"] and result["one_vector_per_document"] and not leftovers
                                and not result["lost_documents"])
    return result


# -- the report ----------------------------------------------------------------------------------------
def server_problems(log: Path) -> list[str]:
    """Lines of the server log that say something went wrong (with the traceback lines)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    keep = []
    for line in lines:
        low = line.lower()
        if any(w in low for w in ("error", "traceback", "exception", "warning", "failed", "  file ")) or line.startswith("  "):
            keep.append(line)
    return keep[:200]


def markdown(results: dict[str, Any]) -> str:
    out = []
    routes = results["routes"]
    out.append("| route | requests | served | errors by status | p50 ms | p99 ms |")
    out.append("| --- | ---: | ---: | --- | ---: | ---: |")
    for name, r in routes.items():
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "0"
        out.append(f"| `{name}` | {r['requests']} | {r['served']} | {errors} | {r['p50_ms']} | {r['p99_ms']} |")
    total = sum(r["requests"] for r in routes.values())
    served = sum(r["served"] for r in routes.values())
    out.append(f"| all | {total} | {served} | {total - served} | | |")
    up = results["uploads"]
    out.append("")
    out.append("| uploads | value |")
    out.append("| --- | ---: |")
    out.append(f"| files of {UPLOAD_FILE_DOCS} documents submitted / planned | {up['submitted']} / {up['files']} |")
    out.append(f"| jobs done / failed / unfinished | {up['jobs_done']} / {up['jobs_failed']} / {up['jobs_unfinished']} |")
    out.append(f"| documents added / embedded / placed on the map | {up['documents_added']} / {up['documents_embedded']} / "
               f"{up['documents_placed']} |")
    out.append(f"| 429 queue_full answers (retried after Retry-After) | {up['retries_429']} |")
    out.append(f"| waiting for the last jobs after the window (s) | {up['drain_seconds']} |")
    out.append("")
    out.append("| CLI on the same store, during the load | exit code | seconds | from (s) | to (s) |")
    out.append("| --- | ---: | ---: | ---: | ---: |")
    for step in results["cli"]:
        code = f"{step['exit_code']} (busy)" if step["busy"] else str(step["exit_code"])
        out.append(f"| `{step['command'].replace(results['store'], 'STORE')}` | {code} | {step['seconds']} | {step['start_s']} | {step['end_s']} |")
    fc = results["final_check"]
    out.append("")
    out.append("| final check (server stopped) | value |")
    out.append("| --- | ---: |")
    nonzero = {k: v for k, v in fc["check"].items() if v}
    out.append(f"| `Store.check()` | {'all zero' if not nonzero else nonzero} ({len(fc['check'])} counts) |")
    out.append(f"| documents / with a vector in the default space / missing | {fc['documents']} / {fc['embedded']} / {fc['missing']} |")
    out.append(f"| duplicate vectors / vectors of an old text | {fc['duplicate_vectors']} / {fc['check'].get('vectors_of_old_text')} |")
    out.append(f"| documents put in / stored / content twins stored once / lost | {fc['expected_documents']} / "
               f"{fc['expected_documents_stored']} / {len(fc['twins_not_stored_again'])} / {len(fc['lost_documents'])} |")
    out.append(f"| files left in `STORE/uploads/` | {fc['upload_leftover_count']} |")
    out.append(f"| server exit code after SIGTERM | {results['server']['exit_code']} |")
    out.append(f"| consistent | {'yes' if fc['consistent'] else 'NO'} |")
    return "\n".join(out)


# -- main -------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the load window (default 10)")
    parser.add_argument("--model", default="use-multilingual",
                        help="embedding model of the store and the server (default use-multilingual; hash:256 for a smoke run)")
    parser.add_argument("--docs", type=int, default=2000, help="documents of the store before the soak (default 2000)")
    parser.add_argument("--uploads", type=int, default=1000, help="documents uploaded during the soak (default 1000)")
    parser.add_argument("--cli-docs", type=int, default=100, help="new documents the CLI ingests during the soak")
    parser.add_argument("--cli-changed", type=int, default=20,
                        help="stored documents the CLI ingest replaces with a changed abstract during the soak")
    parser.add_argument("--cli-start", type=float, default=20.0, help="seconds into the load when the CLI starts")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS.relative_to(REPO)})")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/patscape-soak"),
                        help="where the stores and logs go (default /tmp/patscape-soak)")
    parser.add_argument("--rebuild", action="store_true", help="build the base store again")
    parser.add_argument("--live-code", action="store_true",
                        help="import the package from the working tree (default: from a copy taken at the start)")
    args = parser.parse_args()
    if not DEV_CORPUS.exists():
        sys.exit(f"the development corpus is missing: {DEV_CORPUS}")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    code = {"path": str(REPO / "patscape"), "live": True} if args.live_code else snapshot_code(workdir)

    corpus = sample_corpus(args.docs, args.uploads, args.cli_docs, args.cli_changed)
    base, build = build_base(workdir, args.model, corpus, args.docs, args.rebuild)
    store = workdir / "store"
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(base, store)
    cli_file = workdir / "cli-ingest.jsonl"
    write_jsonl(cli_file, corpus.cli_new + corpus.cli_changed)
    upload_files = [jsonl_bytes(corpus.uploads[i:i + UPLOAD_FILE_DOCS]) for i in range(0, len(corpus.uploads), UPLOAD_FILE_DOCS)]
    texts = short_texts(corpus.rest)
    en, zh = queries(corpus.rest, "en"), queries(corpus.rest, "zh")
    changed_ids = {r["id"] for r in corpus.cli_changed}
    stable_ids = [r["id"] for r in corpus.base if r["id"] not in changed_ids]

    server_log = workdir / "serve.log"
    cli_log = workdir / "cli.log"
    cli_log.write_text("", encoding="utf-8")
    server = Server(store, args.model, workdir, server_log)
    print(f"{server.command} on {server.url}: waiting for /health ...", file=sys.stderr)
    ready_seconds = server.wait_ready()
    load_before = os.getloadavg()

    window = args.minutes * 60
    started_at = time.perf_counter()
    started_wall = time.strftime("%Y-%m-%dT%H:%M:%S")
    rec = Recorder(started_at)
    stop = threading.Event()
    drain_until = [float("inf")]
    uploads = UploadState()
    threads = [threading.Thread(target=embeddings_client, args=(server.url, args.model, texts, 100 + i, stop, rec),
                                name=f"embeddings-{i}") for i in range(EMBED_CLIENTS)]
    threads += [threading.Thread(target=corpus_client, args=(server.url, en, zh, stable_ids, i, stop, rec),
                                 name=f"corpus-{i}") for i in range(CORPUS_CLIENTS)]
    upload_thread = threading.Thread(target=uploader, name="uploads",
                                     args=(server.url, upload_files, window, started_at, stop, drain_until, rec, uploads))
    print(f"load for {args.minutes:g} min: {EMBED_CLIENTS} embeddings clients, {CORPUS_CLIENTS} corpus clients, "
          f"{len(upload_files)} uploads; CLI at {args.cli_start:g}s ...", file=sys.stderr)
    for thread in [*threads, upload_thread]:
        thread.start()

    load_samples = []
    cli: list[dict[str, Any]] = []
    try:
        time.sleep(min(args.cli_start, window))
        for step in (["ingest", str(store), str(cli_file)], ["embed", str(store), "--model", args.model], ["map", str(store)]):
            print(f"  {time.perf_counter() - started_at:6.0f}s  patscape {' '.join(step)}", file=sys.stderr)
            cli.append(run_cli(step, workdir, cli_log, started_at))
            load_samples.append(os.getloadavg()[0])
            print(f"  {time.perf_counter() - started_at:6.0f}s    -> exit {cli[-1]['exit_code']} "
                  f"in {cli[-1]['seconds']}s", file=sys.stderr)
        while (left := window - (time.perf_counter() - started_at)) > 0:
            time.sleep(min(left, 30))
            load_samples.append(os.getloadavg()[0])
            print(f"  {time.perf_counter() - started_at:6.0f}s  load {os.getloadavg()[0]:.1f}", file=sys.stderr)
    finally:
        ended_at = time.perf_counter()
        stop.set()
        load_at_end = os.getloadavg()
        for thread in threads:
            thread.join()
        drain_begin = time.perf_counter()
        drain_until[0] = drain_begin + 600
        upload_thread.join()
        uploads.drain_seconds = round(time.perf_counter() - drain_begin, 1)
        stopped = server.stop()
    elapsed = ended_at - started_at

    final = final_check(store, corpus.base + corpus.uploads + corpus.cli_new)
    jobs = list(uploads.jobs.values())
    results: dict[str, Any] = {
        "command": "python benchmarks/soak.py " + " ".join(sys.argv[1:]),
        "model": args.model, "minutes": args.minutes, "load_seconds": round(elapsed, 1), "started": started_wall,
        "corpus": {"source": str(DEV_CORPUS), "seed": SEED, "base_documents": len(corpus.base),
                   "base_languages": dict(Counter(r.get("lang") for r in corpus.base)),
                   "uploaded_documents": len(corpus.uploads), "cli_new_documents": len(corpus.cli_new),
                   "cli_changed_documents": len(corpus.cli_changed)},
        "clients": {"embeddings": EMBED_CLIENTS, "corpus": CORPUS_CLIENTS, "uploads": 1},
        "store": str(store), "base_build": build, "server": {"command": server.command, "ready_seconds": round(ready_seconds, 1),
                                                             **stopped, "log": str(server_log)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before,
                    "load_at_end": load_at_end, "load_1min_samples": load_samples},
        "git": git_state(), "code": code,
        "routes": rec.summary(),
        "requests_total": sum(len(r.latencies) for r in rec.routes.values()),
        "embeddings_per_s": round(len(rec.routes.get("POST /v1/embeddings", Route()).latencies) / elapsed, 2),
        "uploads": {
            "files": uploads.files, "submitted": uploads.submitted, "unsubmitted": uploads.unsubmitted,
            "retries_429": uploads.retries_429, "retries_503": uploads.retries_503,
            "jobs_done": sum(1 for j in jobs if j["state"] == "done"),
            "jobs_failed": sum(1 for j in jobs if j["state"] == "failed"),
            "jobs_unfinished": sum(1 for j in jobs if j["state"] not in ("done", "failed")),
            "documents_added": sum(j.get("added", 0) for j in jobs),
            "documents_embedded": sum(j.get("embedded", 0) for j in jobs),
            "documents_placed": sum(j.get("placed", 0) for j in jobs),
            "drain_seconds": uploads.drain_seconds, "drained": uploads.drained,
            "failed_jobs": [j for j in jobs if j["state"] == "failed"][:5],
            "job_messages": dict(Counter(j.get("message") or "" for j in jobs)),
            "job_problems": sum(len(j.get("problems") or []) for j in jobs),
        },
        "cli": cli,
        "final_check": final,
        "server_log_problems": server_problems(server_log),
    }
    failures = failure_list(results)
    results["failures"] = failures
    results["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    print(f"\nsoak: {args.model}, {args.minutes:g} min ({elapsed:.0f} s) on {os.cpu_count()} cores, load average "
          f"{load_before[0]:.1f} before, {load_at_end[0]:.1f} at the end\n")
    print(markdown(results))
    if results["server_log_problems"]:
        print(f"\nserver log ({server_log}), problem lines:")
        print("\n".join("  " + line for line in results["server_log_problems"][:40]))
    print("\nfailures: " + ("none" if not failures else ""))
    for failure in failures:
        print(f"  - {failure}")
    print(f"\nwrote {args.out}")
    sys.exit(1 if failures else 0)


def failure_list(results: dict[str, Any]) -> list[str]:
    """What went wrong, one line each (429 on uploads is flow control, not a failure)."""
    failures = []
    for name, route in results["routes"].items():
        for status, count in route["errors"].items():
            if name == "POST /corpus/uploads" and status == "429":
                continue
            failures.append(f"{name}: {count} x {status}")
    up = results["uploads"]
    if up["jobs_failed"] or up["jobs_unfinished"] or up["unsubmitted"]:
        failures.append(f"uploads: {up['jobs_failed']} jobs failed, {up['jobs_unfinished']} unfinished, "
                        f"{len(up['unsubmitted'])} files never accepted")
    for step in results["cli"]:
        if step["exit_code"] != 0:
            failures.append(f"{step['command']}: exit {step['exit_code']}{' (store busy)' if step['busy'] else ''}")
    if results["server"]["exit_code"] not in (0, -signal.SIGTERM):
        failures.append(f"server exit code {results['server']['exit_code']} after SIGTERM")
    fc = results["final_check"]
    if not fc["consistent"]:
        failures.append("final check: " + json.dumps({k: fc[k] for k in (
            "check", "missing", "duplicate_vectors", "upload_leftover_count", "lost_documents")}))
    return failures


def git_state() -> dict[str, Any]:
    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"head": git("rev-parse", "--short", "HEAD"),
            "modified_files": len([line for line in git("status", "--porcelain").splitlines() if line.strip()])}


if __name__ == "__main__":
    main()
