"""A command whose optional extra is missing says, in one line, what to install; and the commands
a user runs load only what they need (``patscape search`` never imports the map's libraries)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import write_jsonl

#: Runs the CLI with the serve extra's packages made unimportable, as in an environment set up
#: without that extra.
WITHOUT_SERVE = """
import sys
for name in ("fastapi", "starlette", "uvicorn", "multipart", "python_multipart", "prometheus_client"):
    sys.modules[name] = None
from patscape.cli import main
sys.exit(main(sys.argv[1:]))
"""

#: Runs the CLI, then prints which of the map's libraries were imported.
IMPORTED = """
import sys
from patscape.cli import main
code = main(sys.argv[1:])
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"sklearn", "umap", "hdbscan", "torch", "fastapi"})
print("imported:", ",".join(heavy))
sys.exit(code)
"""


def python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATSCAPE_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=600)


def small_store(tmp_path: Path) -> Path:
    records = [{"id": f"US-{i}-B1", "title": f"Buoyancy engine {i} for an underwater glider",
                "abstract": "A glider changes its buoyancy with an oil bladder and a pump.", "lang": "en"}
               for i in range(5)]
    store = tmp_path / "store"
    for args in (["ingest", str(store), str(write_jsonl(tmp_path / "p.jsonl", records))],
                 ["embed", str(store), "--model", "hash:64"]):
        done = python(IMPORTED, *args)
        assert done.returncode == 0, done.stderr
    return store


def test_serve_without_its_extra_names_the_install_command_in_one_line(tmp_path: Path) -> None:
    store = small_store(tmp_path)
    result = python(WITHOUT_SERVE, "serve", str(store), "--port", "0")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "patscape: error: fastapi is not installed; it comes with patscape's serve extra: pip install "
        "'patscape[serve]' (in a checkout of patscape: .venv/bin/pip install -e '.[serve]')"
    ]


def test_search_loads_neither_the_map_nor_the_server_libraries(tmp_path: Path) -> None:
    store = small_store(tmp_path)
    like = python(IMPORTED, "search", str(store), "--like", "US-1-B1", "-k", "2")
    assert like.returncode == 0, like.stderr
    assert like.stdout.splitlines()[-1] == "imported: "
    assert "US-1-B1" not in like.stdout.splitlines()[0] and like.stdout.count("Buoyancy engine") == 2
