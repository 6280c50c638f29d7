"""Benchmark: ingest and validate a ~300 MB MP4 against baselines measured in the same run.

    python bench/bench_ingest.py [--work DIR] [--rounds N]

Baselines, interleaved with the measured work so that disk write-back noise hits both:
a hashlib SHA-256 read of the file, and a durable copy (copy + fsync).
Targets: storing (ingest minus validate) <= 1.3x the durable copy; peak memory < 150 MB;
`intake validate` <= 4x the SHA-256 read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import INTAKE, contest_mp4, ratio  # noqa: E402

# Runs in a fresh process per round so that its peak RSS is the ingest's own.
INGEST_CHILD = r"""
import json, sys, time
from datetime import datetime, timezone
from pathlib import Path
from intake import pipeline
from intake.config import load_config
from intake.services import open_services
from intake.task import MediaTask, SubmissionTask

src = Path(sys.argv[1])
services = open_services(load_config())
task = SubmissionTask(source="cli", received_at=datetime.now(timezone.utc), unit="柳南区", contact="张三",
                      phone="13800138000", files=[MediaTask(source_path=src, original_name=src.name)])
times = {}
for stage in pipeline.STAGES:
    start = time.perf_counter()
    stage(task, services)
    times[stage.__name__] = time.perf_counter() - start
print(json.dumps({"total": sum(times.values()), "validate": times["inspect_files"], "outcome": task.outcome.value,
                  "stages": times,
                  "peak_rss_mb": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024}))
"""


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sha_read(path: Path) -> None:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)


def durable_copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with dst.open("rb+") as fh:
        os.fsync(fh.fileno())
    dst.unlink()


def ingest_once(src: Path, work: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=work) as d:
        Path(d, "config.yaml").write_text("{}\n")
        out = subprocess.run([sys.executable, "-c", INGEST_CHILD, str(src.resolve())], cwd=d, check=True,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    src = contest_mp4(args.work)
    print(f"file: {src} ({src.stat().st_size / 1024 / 1024:.0f} MiB), {args.rounds} rounds, medians")

    sha, copy, validate, ingests = [], [], [], []
    for _ in range(args.rounds):
        sha.append(timed(lambda: sha_read(src)))
        copy.append(timed(lambda: durable_copy(src, args.work / "copy.tmp")))
        # The media checks alone (the target); OCR of captions is measured by bench_opening.py.
        validate.append(timed(lambda: subprocess.run(INTAKE + ["validate", "--no-ocr", str(src)], capture_output=True,
                                                     cwd=args.work, env={**os.environ, "PYTHONPATH": str(REPO)})))
        ingests.append(ingest_once(src, args.work))

    m = statistics.median
    sha_s, copy_s, validate_s = m(sha), m(copy), m(validate)
    storing = m(r["total"] - r["validate"] for r in ingests)
    peak = max(r["peak_rss_mb"] for r in ingests)
    print(f"baseline sha256 read       {sha_s:7.3f} s")
    print(f"baseline durable copy      {copy_s:7.3f} s")
    print(f"intake validate --no-ocr   {validate_s:7.3f} s   {ratio(validate_s, sha_s)} of the sha256 read  (target <= 4x)")
    print(f"ingest, all stages         {m(r['total'] for r in ingests):7.3f} s   outcome {ingests[0]['outcome']}")
    print(f"storing = ingest-validate  {storing:7.3f} s   {ratio(storing, copy_s)} of the durable copy (target <= 1.3x)")
    for name in ingests[0]["stages"]:
        print(f"    {name:24} {m(r['stages'][name] for r in ingests):7.3f} s")
    print(f"peak RSS of the ingest     {peak:7.1f} MB  (target < 150 MB; ffmpeg/MediaInfo run in child processes)")


if __name__ == "__main__":
    main()
