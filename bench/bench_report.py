"""Benchmark: the screening report for 2,000 recorded submissions (synthetic rows, real thumbnails).

    python bench/bench_report.py [--rows 2000]

Targets: HTML and XLSX each take at most 3 s; the HTML page becomes interactive in Chromium
within 2 s. As a same-run baseline, the JSON report of the same rows (no rendering) is timed too.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import ffmpeg, ratio  # noqa: E402
from intake.config import config_from_dict  # noqa: E402
from intake.pipeline.stages import inspect_files, store_files  # noqa: E402
from intake.pipeline.recording import record_submission  # noqa: E402
from intake.report import build  # noqa: E402
from intake.pipeline.services import open_services  # noqa: E402
from intake.pipeline.task import MediaTask, SubmissionTask  # noqa: E402
from intake.pipeline.views import submission_views  # noqa: E402
from validators.results import failed, passed, warned  # noqa: E402

UNITS = ["城中区", "鱼峰区", "柳南区", "柳北区", "柳江区", "柳城县", "鹿寨县", "融安县", "融水苗族自治县", "三江侗族自治县"]


def populate(services, rows: int, clip: Path) -> None:
    sample = SubmissionTask(source="cli", received_at=datetime.now(timezone.utc),
                            files=[MediaTask(source_path=clip, original_name=clip.name)])
    store_files(sample, services)
    inspect_files(sample, services)
    media = sample.files[0]
    rng = random.Random(7)
    start = datetime(2024, 4, 1, tzinfo=timezone.utc)
    for i in range(rows):
        unit = rng.choice(UNITS)
        checks = [passed("contact_info", "ok")]
        roll = rng.random()
        if roll < 0.2:
            checks.append(warned("duration", "too_long_grace", "时长 2分3秒，略超过 2分（原则上不超过）。",
                                 advice="视频时长 2分3秒，略超过 2分（原则上不超过），是否接受由主办方决定。"))
        elif roll < 0.3:
            checks.append(failed("container", "quicktime", "文件实际是QuickTime（.mov）视频，不是 MP4。",
                                 advice="文件实际是QuickTime（.mov）视频，不是 MP4。请转换为 MP4 后重新报送。"))
        task = SubmissionTask(source=rng.choice(["mail", "folder"]), received_at=start + timedelta(minutes=i),
                              source_ref=f"bench:{i}", unit=unit, unit_raw=unit + "委保密办", contact=f"联系人{i}",
                              phone=f"138{i:08d}", title=f"作品<{i}>", checks=checks,
                              files=[MediaTask(source_path=None, original_name=f"作品{i}.mp4",
                                               size_bytes=media.size_bytes, blob=media.blob, report=media.report)])
        record_submission(services.db, task)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep a copy of the HTML in /tmp/bench-report.html")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="intake-bench-report-"))
    try:
        config = config_from_dict({}, base_dir=work)
        services = open_services(config)
        clip = work / "clip.mp4"
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=3", "-f", "lavfi", "-i", "sine=duration=3",
               "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip))
        populate(services, args.rows, clip)
        views = submission_views(services.db)
        t_json, _ = timed(lambda: build.json_report(views))
        t_views, views = timed(lambda: submission_views(services.db))
        html_path = work / "report.html"
        t_html, text = timed(lambda: build.html_report(views, config, html_path))
        html_path.write_text(text, encoding="utf-8")
        t_xlsx, _ = timed(lambda: build.write_xlsx(views, work / "report.xlsx"))
        t_ready = chromium_ready(html_path)
        print(f"{len(views)} submissions; HTML {html_path.stat().st_size / 1048576:.1f} MB")
        print(f"load views from the database {t_views:6.2f} s")
        print(f"baseline: JSON report        {t_json:6.2f} s")
        print(f"HTML report                  {t_html:6.2f} s  {ratio(t_html, t_json)} of JSON  (target <= 3 s)")
        print(f"XLSX report                  {t_xlsx:6.2f} s  {ratio(t_xlsx, t_json)} of JSON  (target <= 3 s)")
        print(f"Chromium: open to interactive {t_ready:5.2f} s  (target <= 2 s)")
        if "--keep" in sys.argv:
            shutil.copy(html_path, "/tmp/bench-report.html")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def chromium_ready(path: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto("about:blank")
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="commit")
        page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60000)
        elapsed = time.perf_counter() - start
        # Interactive means a filter answers too.
        page.fill("#search", "柳南区")
        page.wait_for_function("document.getElementById('count-visible').textContent !== '%d'" % 0, timeout=60000)
        browser.close()
        return elapsed


if __name__ == "__main__":
    main()
