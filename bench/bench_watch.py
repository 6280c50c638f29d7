"""Benchmark: 200 small clips dropped into the inbox at once, against direct ingest of the same files.

    python bench/bench_watch.py [--count 200] [--work DIR]

Both runs start from an empty database and store in the same run. Target: watching costs at most
1.2x the direct ingest (throughput ratio printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import INTAKE, ffmpeg, ratio  # noqa: E402

DIRECT = r"""
import sys
from datetime import datetime, timezone
from pathlib import Path
from intake.config import load_config
from intake.pipeline.stages import process
from intake.pipeline.services import open_services
from intake.pipeline.task import MediaTask, SubmissionTask
services = open_services(load_config())
for name in sorted(Path(sys.argv[1]).iterdir()):
    task = SubmissionTask(source="cli", received_at=datetime.now(timezone.utc),
                          files=[MediaTask(source_path=name, original_name=name.name)])
    process(task, services)
"""


def make_clips(folder: Path, count: int) -> None:
    """``count`` distinct valid MP4s: one short clip, each copy with its own trailing free box."""
    base = folder / "base.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3", "-f", "lavfi",
           "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           "-shortest", str(base))
    data = base.read_bytes()
    clips = folder / "clips"
    clips.mkdir()
    for i in range(count):
        tag = f"clip {i}".encode()
        (clips / f"柳南区-张三-13800138000-作品{i:03d}.mp4").write_bytes(
            data + struct.pack(">I4s", 8 + len(tag), b"free") + tag)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        tmp = Path(tmp)
        make_clips(tmp, args.count)
        direct_dir, watch_dir = tmp / "direct", tmp / "watch"
        for d in (direct_dir, watch_dir):
            d.mkdir()
            # OCR is timed by bench_scan.py; here it would only add the same cost to both sides.
            (d / "config.yaml").write_text("watch:\n  settle_seconds: 0.5\nrules:\n  opening:\n    ocr: false\n  sensitive:\n    scan: false\n")

        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", DIRECT, str(tmp / "clips")], cwd=direct_dir, env=env, check=True)
        direct = time.perf_counter() - start

        shutil.copytree(tmp / "clips", watch_dir / "inbox")   # "dropped at once"
        start = time.perf_counter()
        subprocess.run(INTAKE + ["run", "--once"], cwd=watch_dir, env=env, check=True, capture_output=True)
        watched = time.perf_counter() - start
        left = list((watch_dir / "inbox").iterdir())
        assert not left, f"{len(left)} files left in the inbox"

    n = args.count
    print(f"{n} clips of 3 s, 320x240")
    print(f"direct ingest, one process  {direct:7.2f} s  {n / direct:6.1f} files/s")
    print(f"intake run --once (watch)   {watched:7.2f} s  {n / watched:6.1f} files/s")
    print(f"watch / direct              {ratio(watched, direct)}   (target <= 1.2x; includes start-up, settle "
          f"time, result notes and moves)")


if __name__ == "__main__":
    main()
