"""patscape at 1M documents under a hard memory limit (a cgroup v1 memory group), with proof
that the limit is enforced (not part of the tests; Linux, root, cgroup v1 memory controller).

    .venv/bin/python benchmarks/scale.py --n 1000000 --dims 1024 --stage generate --work /tmp/mem8g
    .venv/bin/python benchmarks/memory_limit.py --overrun
    .venv/bin/python benchmarks/memory_limit.py --n 1000000 --dims 1024 --work /tmp/mem8g \\
        --stage ingest import-vectors map search --timeout 5400
    .venv/bin/python benchmarks/memory_limit.py --n 1000000 --dims 1024 --work /tmp/mem8g \\
        --stage index-build --ef-construction 8
    .venv/bin/python benchmarks/scale.py --n 100000 --dims 1024 --stage generate --work /tmp/mem8g
    .venv/bin/python benchmarks/memory_limit.py --n 100000 --dims 1024 --work /tmp/mem8g --stage profile-import
    .venv/bin/python benchmarks/memory_limit.py --remove-group
    .venv/bin/python benchmarks/memory_limit.py --limit 8G -- patscape info /tmp/mem8g/1000000x1024-seed2026/store

(``scale.py --stage generate`` also records its figures in benchmarks/results/scale.json.) A
store whose import was stopped during the index build has no ANN index: searches on it build
it first unless ``PATSCAPE_ANN_THRESHOLD`` is set above the corpus (exact scan); the variables
``PATSCAPE_*`` in force are recorded with each command.

The corpus (``vectors.npy``, ``ids.txt``, ``docs.jsonl`` in ``WORK/{n}x{dims}-seed{seed}``) is
made by ``benchmarks/scale.py --stage generate`` outside the group: only patscape's own commands
are measured. Each command runs as a fresh process inside the group
``/sys/fs/cgroup/memory/patscape-8g`` (``--group``), whose ``memory.limit_in_bytes`` and
``memory.memsw.limit_in_bytes`` (where it exists, so swap cannot hide an overrun) are set to
``--limit`` (default 8G = 8 GiB): a shell writes its pid to the group's ``cgroup.procs`` and
execs ``/usr/bin/time -v`` with the command. Page cache of the files a command reads and writes
is charged to the group, as it is to a container or a systemd unit with ``MemoryMax``: when the
group reaches the limit the kernel reclaims page cache first and kills a process (OOM) only when
it cannot.

Per command: exit code, wall and CPU seconds, the process's peak RSS (``/usr/bin/time``; it
includes file pages the process mapped, which the kernel can reclaim), the group's
``memory.max_usage_in_bytes`` (anonymous memory and page cache), the group's peak anonymous
memory and page cache (``memory.stat`` ``total_rss`` and ``total_cache`` sampled every 0.5 s),
``memory.failcnt`` (how often the group hit the limit and had to reclaim; not a failure by
itself; on kernel 6.18 it stayed 0 even for the OOM-killed overrun, so max usage at the limit
is what tells that the group was full) and OOM kills (``oom_kill`` of ``memory.oom_control``, and exit by SIGKILL).
``max_usage_in_bytes``/``failcnt`` are reset (0 written) before every command; the page cache
left charged by the previous stage is emptied first (``memory.force_empty``) so that each
stage starts from an empty group, except between consecutive searches (the first search of a
series starts cold, the others find what the earlier ones left in the cache).

Stages:
  ingest          ``patscape ingest STORE docs.jsonl`` (as benchmarks/scale.py's import stage);
  import-vectors  ``patscape import-vectors STORE vectors.npy --ids ids.txt --model synthetic-DIMS``
                  (the same arguments as scale.py's import stage);
  map             ``patscape map STORE --seed 42`` (as scale.py's map stage);
  search          ``patscape search STORE --like ID -k 10`` for three stored ids, a text query
                  (vector mode, the default; the space's model ``synthetic-DIMS`` cannot embed a
                  query, so its exit code is recorded as it is), the same text query
                  ``--mode keyword``, both with ``--lang en``, and ``--like`` with ``--lang en``;
  index-build     the HNSW index of the store's document file built as ``import-vectors`` builds it
                  (same faiss index, M, blocks; written and fsynced), in the group; with
                  ``--ef-construction 8`` in a fraction of the time, for the same memory;
  profile-import  ``import-vectors`` on a copy of the ingested store, in one process run from this
                  script (not in the group), with a thread that samples ``/proc/self/status``
                  (RssAnon, RssFile) and the innermost patscape frame of the main thread every
                  0.2 s: the anonymous memory at each place of the code, to find where it goes
                  (faiss allocations are native, so tracemalloc alone would miss them).
``--overrun`` runs ``numpy.ones`` of ``--overrun-gib`` (default 9) GiB, touched, inside the group:
it must be OOM-killed (SIGKILL, ``oom_kill`` +1); that it was is recorded as the proof that the
limit is enforced. ``--`` COMMAND runs one arbitrary command in the group (``patscape`` is
run as ``PYTHON -m patscape``). Results are merged into
benchmarks/results/memory_limit.json under ``"{n}x{dims}"`` and the command's label.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "memory_limit.json"
PY = sys.executable
CGROOT = Path("/sys/fs/cgroup/memory")
STAGES = ["ingest", "import-vectors", "map", "search", "index-build", "profile-import"]
MB = 1024 * 1024


# -- the group ----------------------------------------------------------------------------------
def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


class Group:
    """A cgroup v1 memory group with a hard limit (memory, and memory + swap where it exists)."""

    def __init__(self, name: str, limit: int) -> None:
        self.path = CGROOT / name
        self.limit = limit

    def file(self, name: str) -> Path:
        return self.path / name

    def read(self, name: str) -> str:
        return self.file(name).read_text().strip()

    def write(self, name: str, value: str) -> None:
        self.file(name).write_text(value)

    def has(self, name: str) -> bool:
        return self.file(name).exists()

    def create(self) -> None:
        if not CGROOT.is_dir() or not (CGROOT / "memory.limit_in_bytes").exists():
            raise SystemExit(f"{CGROOT}: no cgroup v1 memory controller here")
        self.path.mkdir(exist_ok=True)
        # memsw must stay >= memory: lower memory first when shrinking, raise memsw first when growing
        current = int(self.read("memory.limit_in_bytes"))
        order = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        if self.limit > current:
            order.reverse()
        for name in order:
            if self.has(name):
                self.write(name, str(self.limit))
        got = int(self.read("memory.limit_in_bytes"))
        if got != self.limit:
            raise SystemExit(f"{self.path}: limit reads {got}, wanted {self.limit}")
        if self.has("memory.memsw.limit_in_bytes") and int(self.read("memory.memsw.limit_in_bytes")) != self.limit:
            raise SystemExit(f"{self.path}: memsw limit is not {self.limit}")

    def tasks(self) -> list[int]:
        return [int(p) for p in self.read("cgroup.procs").split()] if self.path.exists() else []

    def oom_kills(self) -> int | None:
        for line in self.read("memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return None  # older kernels: only the exit by SIGKILL tells

    def stat(self) -> dict[str, int]:
        return {k: int(v) for k, v in (line.split() for line in self.read("memory.stat").splitlines())}

    def reset(self, empty_cache: bool) -> dict:
        """Reset the peak and failure counters; with ``empty_cache``, first reclaim the page
        cache still charged to the (empty) group by earlier commands."""
        before = int(self.read("memory.usage_in_bytes"))
        if empty_cache and not self.tasks():
            try:
                self.write("memory.force_empty", "0")
            except OSError:
                pass
        for name in ("memory.max_usage_in_bytes", "memory.failcnt", "memory.memsw.max_usage_in_bytes",
                     "memory.memsw.failcnt"):
            if self.has(name):
                self.write(name, "0")
        return {"group_usage_before_mb": round(before / MB),
                "group_usage_at_start_mb": round(int(self.read("memory.usage_in_bytes")) / MB),
                "cache_emptied_before": empty_cache}

    def remove(self) -> None:
        if not self.path.exists():
            return
        for pid in self.tasks():  # move leftovers out to the root group before removing it
            try:
                (CGROOT / "cgroup.procs").write_text(str(pid))
            except OSError:
                pass
        self.path.rmdir()


class Sampler(threading.Thread):
    """Peak anonymous memory and page cache of the group (memory.stat), sampled."""

    def __init__(self, group: Group, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.group, self.every = group, every
        self.stop = threading.Event()
        self.peak = {"rss": 0, "cache": 0, "mapped_file": 0, "dirty": 0, "writeback": 0}
        self.at_peak_usage: dict[str, int] = {}
        self.peak_usage = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                stat = self.group.stat()
                usage = int(self.group.read("memory.usage_in_bytes"))
            except OSError:
                break
            for key in self.peak:
                self.peak[key] = max(self.peak[key], stat.get(f"total_{key}", stat.get(key, 0)))
            if usage > self.peak_usage:
                self.peak_usage = usage
                self.at_peak_usage = {k: stat.get(f"total_{k}", 0) for k in ("rss", "cache", "mapped_file", "dirty")}
            self.stop.wait(self.every)

    def result(self) -> dict:
        return {
            "group_peak_anon_mb": round(self.peak["rss"] / MB),
            "group_peak_cache_mb": round(self.peak["cache"] / MB),
            "group_peak_mapped_file_mb": round(self.peak["mapped_file"] / MB),
            "group_peak_dirty_mb": round(self.peak["dirty"] / MB),
            "group_at_sampled_peak_mb": {k: round(v / MB) for k, v in self.at_peak_usage.items()},
        }


def time_v(path: Path) -> dict:
    """The figures of ``/usr/bin/time -v`` (and whether it reports a signal)."""
    out: dict = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("Command terminated by signal"):
            out["signal"] = int(line.split()[-1])
        key, _, value = line.rpartition(": ")
        if key == "Elapsed (wall clock) time (h:mm:ss or m:ss)":
            seconds = 0.0
            for part in value.split(":"):
                seconds = seconds * 60 + float(part)
            out["wall_s"] = round(seconds, 1)
        elif key == "Maximum resident set size (kbytes)":
            out["peak_rss_mb"] = round(int(value) / 1024)
        elif key == "User time (seconds)":
            out["user_s"] = float(value)
        elif key == "System time (seconds)":
            out["system_s"] = float(value)
        elif key == "Exit status":
            out["time_exit_status"] = int(value)
        elif key == "Major (requiring I/O) page faults":
            out["major_faults"] = int(value)
    if "user_s" in out and "system_s" in out:
        out["cpu_s"] = round(out.pop("user_s") + out.pop("system_s"), 1)
    return out


def in_group(group: Group, cmd: list[str], log: Path, *, timeout: float, empty_cache: bool = True) -> dict:
    """Run ``cmd`` as a fresh process inside ``group`` under ``/usr/bin/time -v``."""
    if group.tasks():
        raise SystemExit(f"{group.path} still holds processes {group.tasks()}: not measuring beside them")
    stats = log.with_suffix(".timev")
    stats.unlink(missing_ok=True)
    start = group.reset(empty_cache)
    oom_before = group.oom_kills()
    env = {**os.environ, "PATSCAPE_NO_PROGRESS": "1"}
    shell = f'echo $$ > {group.file("cgroup.procs")} && exec "$@"'
    full = ["/bin/sh", "-c", shell, "sh", "/usr/bin/time", "-v", "-o", str(stats), *cmd]
    sampler = Sampler(group)
    sampler.start()
    started = time.perf_counter()
    timed_out = False
    with log.open("w") as out:
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    for _ in range(50):  # the group empties once the process has exited
        if not group.tasks():
            break
        time.sleep(0.1)
    oom_after = group.oom_kills()
    measured = time_v(stats) if stats.exists() else {}
    killed_by = measured.get("signal")
    result = {
        "command": " ".join(["patscape", *cmd[3:]] if cmd[1:3] == ["-m", "patscape"] else cmd),
        "exit": code,
        "wall_s": measured.get("wall_s", round(wall, 1)),
        "cpu_s": measured.get("cpu_s"),
        "peak_rss_mb": measured.get("peak_rss_mb"),
        "group_max_usage_mb": round(int(group.read("memory.max_usage_in_bytes")) / MB),
        "failcnt": int(group.read("memory.failcnt")),
        **({"memsw_max_usage_mb": round(int(group.read("memory.memsw.max_usage_in_bytes")) / MB),
            "memsw_failcnt": int(group.read("memory.memsw.failcnt"))} if group.has("memory.memsw.failcnt") else {}),
        "oom_kills": None if oom_before is None or oom_after is None else oom_after - oom_before,
        "killed_by_signal": killed_by,
        "major_faults": measured.get("major_faults"),
        **sampler.result(),
        **start,
        "limit_mb": round(group.limit / MB),
        "env": {k: v for k, v in os.environ.items() if k.startswith("PATSCAPE_")},
        "timed_out": timed_out,
        "log": str(log),
    }
    result["oom_killed"] = bool(result["oom_kills"]) or (killed_by == signal.SIGKILL and not timed_out)
    if result["oom_killed"]:
        result["kernel_log"] = kernel_oom_lines()
    return result


def kernel_oom_lines() -> list[str]:
    """The kernel's last words on memory cgroup OOM kills (dmesg), where it can be read."""
    try:
        text = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in text.splitlines() if "Memory cgroup out of memory" in line or "oom-kill:" in line][-2:]


# -- results ------------------------------------------------------------------------------------
def save(label: str, name: str, result: dict) -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    doc.setdefault(label, {})[name] = {"date": time.strftime("%Y-%m-%d %H:%M"), **result}
    doc["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, "
                      f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, "
                      f"kernel {platform.release()}, Python {platform.python_version()}; shared with other jobs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    brief = {k: result.get(k) for k in ("exit", "wall_s", "peak_rss_mb", "group_max_usage_mb", "group_peak_anon_mb",
                                        "failcnt", "oom_kills", "oom_killed")}
    print(f"{label} {name}: {json.dumps(brief)}", flush=True)


def work_dir(args: argparse.Namespace) -> Path:
    path = Path(args.work) / f"{args.n}x{args.dims}-seed{args.seed}"
    if not (path / "vectors.npy").exists():
        raise SystemExit(f"{path}: no corpus; make it with benchmarks/scale.py --stage generate --work {args.work}")
    return path


def patscape(*argv: str) -> list[str]:
    return [PY, "-m", "patscape", *argv]


def sample_ids(work: Path, n: int) -> list[str]:
    wanted = {0, n // 2, n - 1}
    found = []
    with (work / "ids.txt").open() as lines:
        for i, line in enumerate(lines):
            if i in wanted:
                found.append(line.strip())
    return found


def query_words(work: Path) -> str:
    with (work / "docs.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("lang") == "en":
                return " ".join(record["title"].split()[:4])
    return "battery electrode"


def run_stages(args: argparse.Namespace, group: Group) -> None:
    work = work_dir(args)
    store = work / "store"
    label = f"{args.n}x{args.dims}"
    for stage in args.stage:
        if stage == "ingest":
            if store.exists():
                raise SystemExit(f"{store} exists; remove it to ingest again")
            save(label, "ingest", in_group(group, patscape("ingest", str(store), str(work / "docs.jsonl")),
                                           work / "mem-ingest.log", timeout=args.timeout))
        elif stage == "import-vectors":
            cmd = patscape("import-vectors", str(store), str(work / "vectors.npy"), "--ids", str(work / "ids.txt"),
                           "--model", f"synthetic-{args.dims}")
            save(label, "import-vectors", in_group(group, cmd, work / "mem-import.log", timeout=args.timeout))
        elif stage == "map":
            cmd = patscape("map", str(store), "--seed", str(args.map_seed))
            save(label, "map", in_group(group, cmd, work / "mem-map.log", timeout=args.timeout))
        elif stage == "search":
            words = query_words(work)
            runs = [(f"search --like #{i}", patscape("search", str(store), "--like", doc_id, "-k", "10"))
                    for i, doc_id in enumerate(sample_ids(work, args.n))]
            runs += [
                ("search text", patscape("search", str(store), words)),
                ("search text --mode keyword", patscape("search", str(store), words, "--mode", "keyword")),
                ("search text --lang en", patscape("search", str(store), words, "--lang", "en")),
                ("search text --mode keyword --lang en", patscape("search", str(store), words, "--mode", "keyword",
                                                                  "--lang", "en")),
                ("search --like #0 --lang en", patscape("search", str(store), "--like", sample_ids(work, args.n)[0],
                                                        "--lang", "en", "-k", "10")),
            ]
            for i, (name, cmd) in enumerate(runs):
                result = in_group(group, cmd, work / f"mem-search-{i}.log", timeout=args.timeout, empty_cache=i == 0)
                result["output_head"] = (work / f"mem-search-{i}.log").read_text(errors="replace")[-600:]
                save(label, name, result)
        elif stage == "index-build":
            cmd = [PY, __file__, "--worker", "index-build", "--n", str(args.n), "--dims", str(args.dims),
                   "--seed", str(args.seed), "--work", args.work, "--ef-construction", str(args.ef_construction)]
            result = in_group(group, cmd, work / "mem-index-build.log", timeout=args.timeout)
            result["output_tail"] = (work / "mem-index-build.log").read_text(errors="replace")[-300:]
            save(label, f"index build (faiss HNSW, efConstruction {args.ef_construction or 'default'})", result)
        elif stage == "profile-import":
            save(label, "profile import-vectors", profile_import(args, work))


# -- where import-vectors' memory goes ----------------------------------------------------------
def profile_import(args: argparse.Namespace, work: Path) -> dict:
    """``import-vectors`` in a fresh process run through this script's ``--worker`` (outside the
    group), on a copy of ``store`` made by ``ingest`` (``store-profile``; made here if missing)."""
    store = work / "store-profile"
    if store.exists():
        shutil.rmtree(store)
    base = work / "store-ingested"
    if not base.exists():
        code = subprocess.run(patscape("ingest", str(base), str(work / "docs.jsonl")),
                              env={**os.environ, "PATSCAPE_NO_PROGRESS": "1"}).returncode
        if code:
            raise SystemExit(f"ingest of {base} failed ({code})")
    shutil.copytree(base, store)
    out = work / "profile-import.json"
    cmd = ["/usr/bin/time", "-v", "-o", str(work / "profile-import.timev"), PY, __file__, "--worker", "profile-import",
           "--n", str(args.n), "--dims", str(args.dims), "--seed", str(args.seed), "--work", args.work]
    with (work / "profile-import.log").open("w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=args.timeout).returncode
    result = {"exit": code, **time_v(work / "profile-import.timev"), **json.loads(out.read_text())}
    shutil.rmtree(store)
    return result


def worker_profile_import(args: argparse.Namespace) -> None:
    import tracemalloc
    import traceback

    sys.path.insert(0, str(REPO))
    from patscape.store import Store
    from patscape.vectors_io import import_vectors

    work = Path(args.work) / f"{args.n}x{args.dims}-seed{args.seed}"
    main = threading.main_thread().ident
    places: dict[str, dict] = {}
    timeline: list[dict] = []
    stop = threading.Event()
    started = time.perf_counter()

    def status() -> dict[str, int]:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return {k: int(fields[k].split()[0]) // 1024 for k in ("VmHWM", "RssAnon", "RssFile")}

    def where() -> str:
        frame = sys._current_frames().get(main)  # type: ignore[arg-type]
        stack = traceback.extract_stack(frame) if frame else []
        mine = [f for f in stack if "/patscape/" in f.filename]
        return " <- ".join(f"{Path(f.filename).relative_to(REPO) if f.filename.startswith(str(REPO)) else f.filename}"
                           f":{f.lineno} {f.name}" for f in reversed(mine[-3:])) or "(outside patscape)"

    def sample() -> None:
        while not stop.is_set():
            mem, place = status(), where()
            entry = places.setdefault(place, {"max_rss_anon_mb": 0, "max_rss_file_mb": 0, "samples": 0,
                                              "first_s": round(time.perf_counter() - started, 1)})
            entry["max_rss_anon_mb"] = max(entry["max_rss_anon_mb"], mem["RssAnon"])
            entry["max_rss_file_mb"] = max(entry["max_rss_file_mb"], mem["RssFile"])
            entry["samples"] += 1
            if not timeline or abs(mem["RssAnon"] - timeline[-1]["rss_anon_mb"]) > 50 or place != timeline[-1]["at"]:
                timeline.append({"s": round(time.perf_counter() - started, 1), "rss_anon_mb": mem["RssAnon"],
                                 "rss_file_mb": mem["RssFile"], "at": place})
            stop.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    if args.tracemalloc:
        tracemalloc.start(5)
    with Store(work / "store-profile", create=False) as store:
        report = import_vectors(store, work / "vectors.npy", f"synthetic-{args.dims}", ids_path=work / "ids.txt")
    python_top: list[str] = []
    python_peak = None
    if args.tracemalloc:
        python_peak = round(tracemalloc.get_traced_memory()[1] / MB)
        snapshot = tracemalloc.take_snapshot()
        python_top = [str(s) for s in snapshot.statistics("lineno")[:10]]
        tracemalloc.stop()
    stop.set()
    thread.join()
    ranked = sorted(places.items(), key=lambda kv: -kv[1]["max_rss_anon_mb"])
    (work / "profile-import.json").write_text(json.dumps({
        "stored": report.stored, "total_s": round(time.perf_counter() - started, 1), "end": status(),
        "by_place_max_rss_anon": [{"at": k, **v} for k, v in ranked[:12]],
        "timeline": timeline[:400],
        "tracemalloc_peak_mb": python_peak, "tracemalloc_top_at_end": python_top,
    }, indent=1))


# -- the index build alone, faster ---------------------------------------------------------------
def worker_index_build(args: argparse.Namespace) -> None:
    """What ``_update_indexes`` holds while it builds the HNSW index of a space's document file:
    the same faiss index (``IndexHNSWFlat``, inner product, patscape's M), fed the same file in
    the same blocks, then written and fsynced; only ``efConstruction`` may be lowered
    (``--ef-construction``) to build it in less time: the graph is worse, its memory the same (the
    codes and the link arrays are sized by the rows and their random levels, not by the effort)."""
    import faiss
    import numpy as np

    try:
        from patscape.vectors.disk import BLOCK, HNSW_EF_CONSTRUCTION, HNSW_M
    except ImportError:  # moved: the values of 2026-12
        BLOCK, HNSW_M, HNSW_EF_CONSTRUCTION = 32768, 48, 90
    work = Path(args.work) / f"{args.n}x{args.dims}-seed{args.seed}"
    [path] = sorted((work / "store" / "vectors").glob("*/docs.*.float32"))[-1:]
    matrix = np.memmap(path, dtype=np.float32, mode="r").reshape(-1, args.dims)
    index = faiss.IndexHNSWFlat(args.dims, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = args.ef_construction or HNSW_EF_CONSTRUCTION
    started = time.perf_counter()
    for start in range(0, len(matrix), BLOCK):
        index.add(np.ascontiguousarray(matrix[start : start + BLOCK], dtype=np.float32))
        print(f"{start + BLOCK} rows {time.perf_counter() - started:.0f}s", flush=True)
    out = work / "index-build.faiss.tmp"
    faiss.write_index(index, str(out))
    with open(out, "rb") as handle:
        os.fsync(handle.fileno())
    print(f"written {out.stat().st_size} bytes, M {HNSW_M}, efConstruction {index.hnsw.efConstruction}, "
          f"{time.perf_counter() - started:.0f}s", flush=True)
    out.unlink()


# -- proof -------------------------------------------------------------------------------------
def overrun(args: argparse.Namespace, group: Group) -> dict:
    gib = args.overrun_gib
    code = (f"import numpy as np; a = np.ones(({gib} << 30) // 8); "
            f"print('allocated and touched', a.nbytes >> 20, 'MB', flush=True)")
    result = in_group(group, [PY, "-c", code], Path(args.log_dir) / "overrun.log", timeout=600)
    result["allocated_gib"] = gib
    result["enforced"] = bool(result["oom_killed"]) and result["exit"] != 0 and \
        "allocated and touched" not in Path(result["log"]).read_text()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=2026, help="seed of the synthetic corpus (scale.py's)")
    parser.add_argument("--map-seed", type=int, default=42)
    parser.add_argument("--work", default="/tmp/mem8g", help="scale.py's --work: where the corpora are")
    parser.add_argument("--stage", nargs="+", choices=STAGES, default=[])
    parser.add_argument("--limit", default="8G", help="memory limit of the group (8G = 8 GiB)")
    parser.add_argument("--group", default="patscape-8g", help=f"the group's name under {CGROOT}")
    parser.add_argument("--timeout", type=float, default=2400, help="seconds before a command is killed")
    parser.add_argument("--overrun", action="store_true", help="prove the limit: allocate past it inside the group")
    parser.add_argument("--overrun-gib", type=int, default=9)
    parser.add_argument("--tracemalloc", action="store_true", help="profile-import: also trace Python allocations")
    parser.add_argument("--remove-group", action="store_true", help="move leftovers out and remove the group")
    parser.add_argument("--log-dir", default=None, help="where --overrun and -- COMMAND logs go (default --work)")
    parser.add_argument("--label", default=None, help="-- COMMAND: the result's name")
    parser.add_argument("--ef-construction", type=int, default=0, help="index-build: 0 = patscape's")
    parser.add_argument("--worker", choices=["profile-import", "index-build"], help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help="-- COMMAND ...: one command to run in the group")
    args = parser.parse_args()
    if args.worker == "profile-import":
        worker_profile_import(args)
        return
    if args.worker == "index-build":
        sys.path.insert(0, str(REPO))
        worker_index_build(args)
        return
    group = Group(args.group, parse_size(args.limit))
    if args.remove_group:
        group.remove()
        print(f"removed {group.path}")
        return
    group.create()
    args.log_dir = args.log_dir or args.work
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    if args.overrun:
        save("overrun", f"numpy.ones {args.overrun_gib} GiB under {args.limit}", overrun(args, group))
    if args.command:
        cmd = patscape(*args.command[1:]) if args.command[0] == "patscape" else args.command
        name = args.label or " ".join(args.command)
        save(f"{args.n}x{args.dims}", name, in_group(group, cmd, Path(args.log_dir) / "command.log", timeout=args.timeout))
    run_stages(args, group)


if __name__ == "__main__":
    main()
