"""`patscape embed --engine ray` against a real Ray cluster on loopback: a head and one worker
node (one CPU each), started here with `ray start --block` on ports and in a directory of their
own, and stopped at the end whatever happens (those processes only: never `ray stop`).

Every Ray run is compared with an uninterrupted run of the local engine, byte for byte (vectors,
passages, spaces), after a clean run, a driver SIGKILLed after its second commit and run again,
a worker SIGKILLed in the middle of the job, and a batch that kills every actor that starts it
(stopped after 3 deaths, then run again).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api_helpers import free_port
from tests.conftest import dev_records
from tests.crash_helpers import KILLED, cli, picture, problems, wait_until

REPO = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
MODEL = "hash:256"
BATCH = "8"  # 60 documents: 8 batches, 8 commits
N_DOCS = 60
#: Ray must not phone home; the cluster takes only clients with its token (a file of the test's,
#: RAY_AUTH_TOKEN_PATH, added by the ray_token fixture).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
#: A node stopped with SIGTERM stops its processes at once (no wait for a drain).
NODE_ENV = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


@pytest.fixture(scope="module", autouse=True)
def ray_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The token of the test clusters, in a directory of this module's, named in RAY_ENV."""
    token = tmp_path_factory.mktemp("raytoken") / "token"
    token.write_text(secrets.token_hex(32), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(RAY_ENV, "RAY_AUTH_TOKEN_PATH", str(token))
        yield token
    token.unlink(missing_ok=True)


@contextmanager
def ray_cluster(temp: Path, nodes: int = 2) -> Iterator[str]:
    """The address of a Ray cluster of ``nodes`` nodes on 127.0.0.1 (1 CPU each), on ports of its
    own, in the directory ``temp``. Each node is a ``ray start --block`` child of this process;
    leaving stops those processes (SIGTERM: each stops the Ray processes it started), and kills
    any process still running in ``temp``. Never ``ray stop``: it ends every Ray process of the
    user, other people's clusters included."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0", "--disable-usage-stats",
              f"--temp-dir={temp}", "--block"]
    head = ["--head", f"--port={port}", "--include-dashboard=false", f"--ray-client-server-port={free_port()}"]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for number in range(nodes):
            started.append(start_node([*(head if number == 0 else [f"--address={address}"]), *common],
                                      temp / f"node-{number}.log"))
        yield address
    finally:
        for process in reversed(started):  # the worker nodes, then the head
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in running_in(temp):  # anything a node left behind (none expected)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def start_node(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``ray start ARGS`` (with ``--block``) as a child of this process, once its node runs."""
    with log.open("wb") as out:
        process = subprocess.Popen([str(RAY), "start", *args], env={**os.environ, **RAY_ENV, **NODE_ENV},
                                   stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: b"Ray runtime started" in log.read_bytes() or process.poll() is not None, 180,
               f"`ray start {' '.join(args)}`")
    if process.poll() is not None:
        raise RuntimeError(f"ray start exited with {process.returncode}: {log.read_text(errors='replace')}")
    return process


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a two-node Ray cluster on 127.0.0.1 (head + worker, 1 CPU each)."""
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    try:
        with ray_cluster(temp) as address:
            yield address
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def running_in(temp: Path) -> list[int]:
    """The processes whose command line names ``temp`` (a cluster's own directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(temp).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_importing_this_module_creates_no_files(tmp_path: Path) -> None:
    empty = tmp_path / "tmp"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-c", "import tests.test_ray_engine"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "TMPDIR": str(empty)})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in empty.iterdir()) == []


@pytest.mark.timeout(300)
def test_the_test_cluster_stops_its_own_processes_and_no_other_ray(tmp_path: Path) -> None:
    # Someone else's Ray on this machine, as `ray stop` sees one: a process named raylet.
    other = tmp_path / "raylet"
    other.symlink_to(shutil.which("sleep") or "/bin/sleep")
    bystander = subprocess.Popen([str(other), "600"])
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    try:
        with ray_cluster(temp, nodes=1) as address:
            host, port = address.rsplit(":", 1)
            socket.create_connection((host, int(port)), timeout=5).close()  # the head is up
            assert running_in(temp)
        assert bystander.poll() is None, "stopping the test cluster ended another Ray process"
        assert running_in(temp) == []  # and every process of its own is gone
        with pytest.raises(OSError):
            socket.create_connection((host, int(port)), timeout=5).close()
    finally:
        bystander.kill()
        bystander.wait()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 real patents (45 English, 15 Chinese); half get claims and a description made of
    neighbours' abstracts, so that documents have several chunks and passages."""
    records = dev_records()
    english = [r for r in records if r["lang"] == "en"][::97][:45]
    chinese = [r for r in records if r["lang"] == "zh"][::53][:15]
    chosen = english + chinese
    path = tmp_path_factory.mktemp("ray-corpus") / "docs.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i, record in enumerate(chosen):
            record = dict(record)
            if i % 2 == 0:
                neighbours = [chosen[(i + k) % len(chosen)]["abstract"] for k in range(1, 6)]
                record["claims"] = "\n".join(f"{n}. {text}" for n, text in enumerate(neighbours[:2], 1))
                record["description"] = "\n".join(neighbours * 2)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray-work")


@pytest.fixture(scope="module")
def ingested(work: Path, corpus: Path) -> Path:
    store = work / "ingested"
    done = cli(work, "ingest", str(store), str(corpus))
    assert done.returncode == 0, done.stderr
    return store


def copy(store: Path, name: str) -> Path:
    target = store.parent / name
    shutil.copytree(store, target)
    return target


@pytest.fixture(scope="module")
def reference(ingested: Path) -> Path:
    """The local engine, uninterrupted: what every Ray run must store."""
    store = copy(ingested, "local")
    done = cli(store.parent, "embed", str(store), "--model", MODEL, "--batch", BATCH)
    assert done.returncode == 0, done.stderr
    assert f"embedded {N_DOCS} documents" in done.stdout
    return store


def embed_ray(store: Path, address: str, *more: str, crash: str | None = None, model: str = MODEL,
              batch: str = BATCH) -> subprocess.CompletedProcess[str]:
    return cli(store.parent, "embed", str(store), "--model", model, "--batch", batch, "--engine", "ray",
               "--address", address, *more, crash=crash, **RAY_ENV)


def test_ray_engine_stores_the_bytes_of_the_local_engine_using_both_nodes(ingested: Path, reference: Path, cluster: str) -> None:
    store = copy(ingested, "ray")
    done = embed_ray(store, cluster)
    assert done.returncode == 0, done.stderr
    assert "ray: 2 actors on 2 nodes" in done.stderr
    assert "batches computed on 2 nodes" in done.stderr  # one actor per node, both worked
    assert f"embedded {N_DOCS} documents" in done.stdout and "(complete)" in done.stdout
    got, want = picture(store), picture(reference)
    assert len(want["vectors"]) == N_DOCS and len(want["passages"]) >= N_DOCS // 2
    assert got == want
    assert problems(store) == {}
    again = embed_ray(store, cluster)  # nothing left to do: nothing recomputed, nothing changed
    assert again.returncode == 0, again.stderr
    assert "embedded 0 documents" in again.stdout and f"{N_DOCS} already done" in again.stdout
    assert picture(store) == want


def test_driver_killed_mid_job_keeps_its_batches_and_the_rerun_completes(ingested: Path, reference: Path, cluster: str) -> None:
    store = copy(ingested, "ray-driver-killed")
    killed = embed_ray(store, cluster, crash="embed:2")  # SIGKILL right after the 2nd commit
    assert killed.returncode == KILLED, killed.stderr
    partial = picture(store)
    assert len(partial["vectors"]) == 2 * int(BATCH)  # exactly the committed batches
    assert partial["spaces"] == {k: False for k in picture(reference)["spaces"]}
    again = embed_ray(store, cluster)
    assert again.returncode == 0, again.stderr
    assert f"embedded {N_DOCS - 2 * int(BATCH)} documents" in again.stdout and "(complete)" in again.stdout
    assert picture(store) == picture(reference)
    assert problems(store) == {}


def test_worker_killed_mid_job_is_restarted_and_its_batch_recomputed(ingested: Path, reference: Path, cluster: str) -> None:
    store = copy(ingested, "ray-worker-killed")
    # Each first-generation actor SIGKILLs itself on its 2nd batch (store.crash_point); Ray
    # restarts it and retries the batch on it.
    done = embed_ray(store, cluster, crash="ray-actor:2")
    assert done.returncode == 0, done.stderr
    assert "batches ran on Ray actors restarted after a worker died" in done.stderr
    assert f"embedded {N_DOCS} documents" in done.stdout and "(complete)" in done.stdout
    assert picture(store) == picture(reference)
    assert problems(store) == {}


#: Times a batch may kill its actor before the embed stops (ray_embed.MAX_ACTOR_DEATHS, documented).
DEATHS = 3


@pytest.mark.timeout(600)  # without a bound, the batch is retried for ever
def test_a_batch_that_kills_its_actor_every_time_stops_the_embed_and_keeps_the_other_batches(
    ingested: Path, reference: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = copy(ingested, "ray-poison")
    todo = sorted(picture(store)["documents"])  # embed takes the documents in id order
    batches = [todo[i : i + int(BATCH)] for i in range(0, N_DOCS, int(BATCH))]
    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)
    import ray  # only now: Ray takes its auth settings from the environment when first imported

    ray.init(address=cluster, logging_level="ERROR", log_to_driver=False)  # to read Ray's own actor table
    try:
        before = set(ray._private.state.actors())
        # Every actor that starts the 3rd batch SIGKILLs itself (store.crash_point), as one that
        # runs out of memory on it would; Ray restarts it and retries the batch on it.
        done = embed_ray(store, cluster, crash="ray-batch-2")
        restarts = [(info["ActorClassName"], info["NumRestarts"])
                    for key, info in ray._private.state.actors().items() if key not in before]
    finally:
        ray.shutdown()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"patscape: error: a batch of {BATCH} documents ({', '.join(batches[2][:3])}, ...) "
                           f"killed its Ray actor {DEATHS} times"), done.stderr
    assert "run the same command again" in last
    assert sum(n for _, n in restarts) == DEATHS, restarts  # Ray's own count: each death restarted an actor
    stored = {doc for _, doc in picture(store)["vectors"]}
    assert set(batches[0]) | set(batches[1]) <= stored  # the batches before it were committed
    assert not stored & set(batches[2])
    assert all(set(batch) <= stored or not set(batch) & stored for batch in batches)  # whole batches only
    want = picture(reference)
    assert picture(store)["vectors"] == {k: v for k, v in want["vectors"].items() if k[1] in stored}
    assert picture(store)["spaces"] == {k: False for k in want["spaces"]}
    again = embed_ray(store, cluster)  # the same command resumes: only the rest is embedded
    assert again.returncode == 0, again.stderr
    assert f"embedded {N_DOCS - len(stored)} documents" in again.stdout and "(complete)" in again.stdout
    assert picture(store) == want
    assert problems(store) == {}


def test_the_packaged_default_model_gives_identical_bytes_on_ray(work: Path, corpus: Path, cluster: str) -> None:
    few = work / "few.jsonl"  # a handful of documents, three with claims and a description
    few.write_text("".join(corpus.read_text(encoding="utf-8").splitlines(keepends=True)[:6]), encoding="utf-8")
    local, ray = work / "minilm-local", work / "minilm-ray"
    for store in (local, ray):
        assert cli(work, "ingest", str(store), str(few)).returncode == 0
    base = cli(work, "embed", str(local), "--model", "minilm", "--batch", "3")
    assert base.returncode == 0, base.stderr
    done = embed_ray(ray, cluster, model="minilm", batch="3")
    assert done.returncode == 0, done.stderr
    assert "embedded 6 documents" in done.stdout
    want = picture(local)
    assert len(want["vectors"]) == 6 and any(len(p) > 1 for p in want["passages"].values())
    assert picture(ray) == want


def test_a_worker_with_another_model_stops_the_job_with_a_one_line_error(
    ingested: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patscape.embed import load_embedder
    from patscape.engines.ray_embed import RayEngine
    from patscape.errors import ModelError
    from patscape.pipeline import EmbedOptions, embed
    from patscape.store import Store

    for name, value in RAY_ENV.items():
        monkeypatch.setenv(name, value)
    store = copy(ingested, "other-model")
    here = load_embedder(MODEL)  # this process's model differs from the workers' (other weights)
    monkeypatch.setattr(here, "fingerprint", lambda: "hash-v1-256-999")
    with Store(store) as db, RayEngine(MODEL, address=cluster) as engine:
        with pytest.raises(ModelError) as raised:
            embed(db, here, EmbedOptions(batch_docs=int(BATCH)), engine=engine)
    message = str(raised.value)
    assert "\n" not in message and "is not the model this process loaded" in message
    assert "install the same environment and model files on every node" in message
    assert picture(store)["vectors"] == {}


def test_an_unreachable_address_is_a_one_line_error(ingested: Path) -> None:
    store = copy(ingested, "unreachable")
    port = free_port()
    done = embed_ray(store, f"127.0.0.1:{port}")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"patscape: error: cannot reach a Ray cluster at 127.0.0.1:{port}")
    assert "Traceback" not in done.stderr
    assert picture(store)["vectors"] == {}


def test_ray_options_need_the_ray_engine(ingested: Path) -> None:
    for option in (["--address", "127.0.0.1:6379"], ["--max-actor-deaths", "2"]):
        done = cli(ingested.parent, "embed", str(ingested), "--model", MODEL, *option)
        assert done.returncode == 2
        assert "--address, --actors, --gpus-per-actor and --max-actor-deaths need --engine ray" in done.stderr
    done = cli(ingested.parent, "embed", str(ingested), "--model", MODEL, "--engine", "ray", "--max-actor-deaths", "0")
    assert done.returncode == 2  # the value reaches the engine, which refuses it before starting Ray
    assert done.stderr.strip().splitlines()[-1] == "patscape: error: --max-actor-deaths must be at least 1"
