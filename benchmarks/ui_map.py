"""UI time to first map at 200k points: the served UI and the offline report, in headless Chromium.

The store is the synthetic one of ``tests/test_web_scale.py`` (documents and a saved run of
``--points`` positions in Zipf-sized topics, no embedding), built in ``--workdir`` when missing.
Measured, each ``--repeat`` times in a fresh page:

- served UI, time to first map: from navigation to the map drawn (the ``patscape-map`` mark: page,
  scripts, the API's column-wise positions, topics, plotly drawing the density layer and sample),
  and to ``body[data-ready=yes]`` (the titles for hover fetched after and the map drawn again); the
  first load of a server also builds its map responses (cached afterwards), so it is reported apart;
- the map API alone: ``GET /corpus/runs/latest/map?format=columns`` (size, time) and, for
  comparison, ``format=points``;
- report: its file size, and from navigation (``file://``) to the map drawn and to every section drawn;
- one zoom into a small box and one zoom out (the level-of-detail redraw), in the served UI.

Results go to ``benchmarks/results/ui_map.json``; a table is printed. ``--compare-web DIR`` times
only the served page against another version of ``patscape/web`` (alternating, one server each)
and adds that to the results.

    .venv/bin/python benchmarks/ui_map.py                  # 200k points
    .venv/bin/python benchmarks/ui_map.py --points 50000 --repeat 2
    git archive HEAD patscape/web | tar -x -C /tmp/old && .venv/bin/python benchmarks/ui_map.py --compare-web /tmp/old/patscape/web
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from patscape.api import Settings  # noqa: E402
from patscape.export import run_view  # noqa: E402
from patscape.report import write_report  # noqa: E402
from patscape.store import Store  # noqa: E402
from tests.api_helpers import live_server, wait_for  # noqa: E402
from tests.test_web_scale import CHROMIUM, CHROMIUM_ARGS, build_store, synthetic_points, zoom_box  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "ui_map.json"


def timed_load(browser: Any, url: str, ready: str) -> tuple[float, float, dict[str, Any]]:
    """Seconds from navigation to the first map drawn and to ``ready``; the map's stats."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        start = time.monotonic()
        page.goto(url)
        wait_for(page, ready, timeout=600_000)
        seconds = time.monotonic() - start
        first_map = page.evaluate("performance.getEntriesByName('patscape-map')[0].startTime") / 1000
        return first_map, seconds, page.evaluate("window.patscape.mapView.stats()")
    finally:
        page.close()


def zoom_timings(browser: Any, url: str, points: int) -> dict[str, float]:
    """Seconds for one zoom into a small box and one zoom back out (the level-of-detail redraw)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url)
        wait_for(page, "document.body.dataset.ready === 'yes'", timeout=600_000)
        xy, clusters = synthetic_points(points)
        xs, ys, _ = zoom_box(xy, clusters)
        out = {}
        for name, change in [("zoom_in_s", {"xaxis.range": xs, "yaxis.range": ys}),
                             ("zoom_out_s", {"xaxis.autorange": True, "yaxis.autorange": True})]:
            renders = int(page.get_attribute("body", "data-map-renders"))
            start = time.monotonic()
            page.evaluate("(change) => window.Plotly.relayout('map', change)", change)
            wait_for(page, "(n) => Number(document.body.dataset.mapRenders) > n", arg=renders, timeout=120_000)
            out[name] = round(time.monotonic() - start, 3)
        return out
    finally:
        page.close()


def compare(browser: Any, store: Path, other_web: Path, repeat: int) -> dict[str, Any]:
    """Seconds to body[data-ready=yes] of this UI and of ``other_web``, alternating, on one server each."""
    from patscape.api.routes import web

    ready = "document.body.dataset.ready === 'yes'"
    this_web, seconds = web.WEB_DIR, {"this": [], "other": []}
    try:
        for name, folder in [("this", this_web), ("other", other_web)] * repeat:
            web.WEB_DIR = folder
            with live_server(Settings(store=store, model="hash:256")) as server:
                for warm in (False, True):  # the first load also builds the server's map response
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    try:
                        start = time.monotonic()
                        page.goto(server.url + "/")
                        wait_for(page, ready, timeout=900_000)
                        if warm:
                            seconds[name].append(round(time.monotonic() - start, 2))
                            mark = page.evaluate("(performance.getEntriesByName('patscape-map')[0] || {}).startTime")
                            if mark is not None:  # this UI: the map is drawn before the titles arrive
                                seconds.setdefault(name + "_first_map", []).append(round(mark / 1000, 2))
                    finally:
                        page.close()
    finally:
        web.WEB_DIR = this_web
    this, other = statistics.median(seconds["this"]), statistics.median(seconds["other"])
    return {"seconds": seconds, "ratio_other_to_this": round(other / this, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "patscape-bench-ui-map")
    parser.add_argument("--compare-web", type=Path, default=None,
                        help="another version of patscape/web (e.g. from `git archive`): only its page load is timed, "
                             "side by side, alternating with this one (time to body[data-ready=yes]), and added to the "
                             "results of an earlier run")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    import httpx

    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.workdir / f"store-{args.points}"
    if not (store / "patscape.sqlite").exists():
        shutil.rmtree(store, ignore_errors=True)
        started = time.monotonic()
        build_store(store, args.points)
        print(f"built the store of {args.points:,} points in {time.monotonic() - started:.0f} s")
    if args.compare_web:
        from playwright.sync_api import sync_playwright as playwright_sync

        with playwright_sync() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                found = compare(browser, store, args.compare_web, args.repeat)
            finally:
                browser.close()
        earlier = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
        earlier["compare"] = {"other": str(args.compare_web), **found}
        RESULTS.write_text(json.dumps(earlier, indent=2) + "\n", encoding="utf-8")
        print(f"ready (s), this UI: {found['seconds']['this']} (first map: {found['seconds'].get('this_first_map')}), "
              f"{args.compare_web}: {found['seconds']['other']}; ratio {found['ratio_other_to_this']}")
        return
    results: dict[str, Any] = {"points": args.points, "machine": f"{platform.machine()}, {platform.system()}",
                               "browser": "Debian chromium, headless, --disable-gpu (WebGL in software)"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            with live_server(Settings(store=store, model="hash:256")) as server:
                ready = "document.body.dataset.ready === 'yes'"
                first, first_ready, stats = timed_load(browser, server.url + "/", ready)
                runs = [timed_load(browser, server.url + "/", ready) for _ in range(args.repeat)]
                warm, warm_ready = [r[0] for r in runs], [r[1] for r in runs]
                with httpx.Client(base_url=server.url, timeout=600) as http:
                    api = {}
                    for fmt in ("columns", "points"):
                        http.get("/corpus/runs/latest/map", params={"format": fmt})  # built and cached
                        start = time.monotonic()
                        response = http.get("/corpus/runs/latest/map", params={"format": fmt})
                        api[fmt] = {"bytes": len(response.content), "seconds": round(time.monotonic() - start, 3)}
                results["ui"] = {"first_map_first_load_s": round(first, 2), "ready_first_load_s": round(first_ready, 2),
                                 "first_map_s": [round(s, 2) for s in warm], "first_map_median_s": round(statistics.median(warm), 2),
                                 "ready_median_s": round(statistics.median(warm_ready), 2), "drawn_zoomed_out": stats["drawn"],
                                 "mode_zoomed_out": stats["mode"], **zoom_timings(browser, server.url + "/", args.points)}
                results["map_api"] = api
            with Store(store, create=False) as db:
                view = run_view(db)
            report = write_report(view, args.workdir / f"report-{args.points}.html")
            loads = [timed_load(browser, report.as_uri(), "document.body.dataset.rendered === 'yes'") for _ in range(args.repeat)]
            results["report"] = {"bytes": report.stat().st_size, "first_map_s": [round(r[0], 2) for r in loads],
                                 "first_map_median_s": round(statistics.median(r[0] for r in loads), 2),
                                 "rendered_median_s": round(statistics.median(r[1] for r in loads), 2)}
        finally:
            browser.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    ui, api, rep = results["ui"], results["map_api"], results["report"]
    print(f"| {args.points:,} points | time to first map | |\n|---|---|---|")
    print(f"| served UI, first load (server builds its map response) | {ui['first_map_first_load_s']} s | "
          f"titles in: {ui['ready_first_load_s']} s |")
    print(f"| served UI, warm (median of {args.repeat}) | {ui['first_map_median_s']} s | titles in: {ui['ready_median_s']} s; "
          f"{ui['drawn_zoomed_out']:,} points drawn zoomed out |")
    print(f"| zoom into a small box / back out | {ui['zoom_in_s']} s / {ui['zoom_out_s']} s | |")
    print(f"| map API, columns / points | {api['columns']['bytes'] / 1e6:.1f} MB in {api['columns']['seconds']} s / "
          f"{api['points']['bytes'] / 1e6:.1f} MB in {api['points']['seconds']} s | |")
    print(f"| report ({rep['bytes'] / 1e6:.1f} MB), median of {args.repeat} | {rep['first_map_median_s']} s | "
          f"every section: {rep['rendered_median_s']} s |")



if __name__ == "__main__":
    main()
