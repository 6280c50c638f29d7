"""Benchmark: the browser desk (``intake serve``) over 2,000 recorded submissions (synthetic rows).

    python bench/bench_desk.py [--rows 2000] [--reviewers 20] [--requests 200]

The list page is paged (100 works a page by default): its figures are for the first page, and for a search.
Targets: the list page is interactive in Chromium within 1 s; with 20 concurrent reviewers (a bounded load
on loopback) list and entry pages answer within 200 ms at the 95th percentile; the first byte of a video
after a seek (a Range request) arrives within 100 ms. As a same-run baseline, the JSON API of the same rows
(no rendering) is timed too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_report import populate  # noqa: E402
from bench.common import INTAKE, ffmpeg, ratio  # noqa: E402
from intake.config import load_config  # noqa: E402
from intake.desk.accounts import add_account  # noqa: E402
from intake.pipeline.services import open_services  # noqa: E402
from tests.desks import Client, logged_in  # noqa: E402
from tests.dovecot import free_port  # noqa: E402


SEARCH = "/list?q=%E4%BD%9C%E5%93%81{}&sort=unit&dir=desc&page=2"   # 作品N: about a tenth of the works


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def answers(port: int) -> bool:
    try:
        return Client(port).get("/login").status == 200
    except OSError:
        return False


def timed(client: Client, path: str, **headers) -> float:
    start = time.perf_counter()
    reply = client.get(path, **headers)
    assert reply.status in (200, 206), (path, reply.status)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="requests in all, per page kind")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    try:
        clip = folder / "clip.mp4"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=20", "-f", "lavfi", "-i",
               "sine=duration=20", "-c:v", "libx264", "-c:a", "aac", "-shortest", str(clip))
        (folder / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\n", encoding="utf-8")
        services = open_services(load_config(folder / "config.yaml"))
        populate(services, args.rows, clip)
        add_account(services.db, "bench", "reviewer", "bench-password")
        # The desk as a reviewer meets it: its own `intake serve` process (the clients' threads here do not
        # share its interpreter).
        port = free_port()
        server = subprocess.Popen(INTAKE + ["serve", "--port", str(port)], cwd=folder, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 60
        while not answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"intake serve did not start: {server.stderr.read().decode()}")
            time.sleep(0.1)
        clients = [logged_in(port, "bench", "bench-password") for _ in range(args.reviewers)]
        file_id = services.db.submissions.get(1).files[0].id
        size = len(clients[0].get(f"/files/{file_id}").body)

        # The first pages after a change build every work's row once (then shared by all): timed apart.
        first_list = timed(clients[0], "/list")
        api = statistics.median(timed(clients[0], "/api/submissions") for _ in range(3))
        with ThreadPoolExecutor(args.reviewers) as pool:
            lists = list(pool.map(lambda i: timed(clients[i % args.reviewers], "/list"), range(args.requests)))
            entries = list(pool.map(lambda i: timed(clients[i % args.reviewers], f"/entries/{1 + i % args.rows}"),
                                    range(args.requests)))
            # A search is filtered, sorted and paged for each request (pages without one are rendered once).
            searches = list(pool.map(lambda i: timed(clients[i % args.reviewers], SEARCH.format(i % 10)),
                                     range(args.requests)))
        strip_first = timed(clients[0], f"/thumbs/{file_id}/0")   # ffmpeg makes the strip's frames
        strips = [timed(clients[0], f"/thumbs/{file_id}/{i % 8}") for i in range(40)]
        seeks = [timed(clients[0], f"/files/{file_id}", Range=f"bytes={size // 2 + i}-{size // 2 + i + 65535}")
                 for i in range(20)]
        interactive = list_interactive(port, clients[0].cookies["desk_session"])
        print(f"rows: {args.rows}, reviewers: {args.reviewers}, requests per page kind: {args.requests}")
        print(f"first list page after a change:     {first_list * 1000:7.0f} ms  (every row built once)")
        print(f"JSON API (baseline, median):        {api * 1000:7.0f} ms")
        print(f"list page p95 under load:           {p95(lists) * 1000:7.0f} ms  (target 200)  "
              f"{ratio(p95(lists), api)}")
        print(f"list search (sorted, page 2) p95:   {p95(searches) * 1000:7.0f} ms  (target 200)")
        print(f"entry page p95 under load:          {p95(entries) * 1000:7.0f} ms  (target 200)")
        print(f"thumbnail strip, first frame:       {strip_first * 1000:7.0f} ms  (8 frames made; cached after: "
              f"p95 {p95(strips) * 1000:.0f} ms)")
        print(f"video Range after a seek (p95):     {p95(seeks) * 1000:7.0f} ms  (target 100)")
        if interactive is not None:
            print(f"list page interactive in Chromium:  {interactive * 1000:7.0f} ms  (target 1000)")
        server.terminate()
        server.wait(10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def list_interactive(port: int, session: str) -> float | None:
    """From navigation to the list script being ready (all rows in, handlers attached), in Chromium."""
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not found: the in-browser figure is skipped")
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context()
        context.add_cookies([{"name": "desk_session", "value": session, "domain": "127.0.0.1", "path": "/"}])
        page = context.new_page()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/list")
            page.wait_for_selector("body[data-ready='1']", state="attached")
            times.append(time.perf_counter() - start)
        browser.close()
        return statistics.median(times)


if __name__ == "__main__":
    main()
