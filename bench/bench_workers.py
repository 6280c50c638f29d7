"""Benchmark: small clips through two workers sharing one PostgreSQL, against one worker, in the same run.

    python bench/bench_workers.py [--count 500]

Each run starts from a fresh database and a full drop folder; ``intake run --once`` processes
everything and exits. Prints throughput and the speed-up of two workers over one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import INTAKE  # noqa: E402
from tests import mails, media  # noqa: E402
from tests.postgres import Postgres  # noqa: E402


def run_workers(folder: Path, clips: list[Path], url: str, workers: int) -> float:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "inbox").mkdir(parents=True)
    for clip in clips:
        shutil.copy(clip, folder / "inbox" / clip.name)
    (folder / "config.yaml").write_text(
        f"database:\n  url: {url}\nwatch:\n  settle_seconds: 0.2\n"
        "rules:\n  opening:\n    ocr: false\n  sensitive:\n    scan: false\ncontest:\n  deadline: 2099-12-31 23:59:59\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(INTAKE + ["migrate"], cwd=folder, env=env, check=True, capture_output=True)
    start = time.perf_counter()
    procs = [subprocess.Popen(INTAKE + ["run", "--once"], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    for proc in procs:
        proc.wait()
    elapsed = time.perf_counter() - start
    left = list((folder / "inbox").iterdir())
    assert not left, f"{len(left)} files left"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="intake-bench-workers-"))
    server = Postgres().start()
    try:
        base = media.clip(work / "base.mp4", 2, size="160x120", rate=10)
        data = base.read_bytes()
        source = work / "clips"
        source.mkdir()
        clips = []
        for i in range(args.count):
            path = source / f"柳南区-张三-13800000000-作品{i:03d}.mp4"
            path.write_bytes(mails.variant(data, f"clip {i}"))
            clips.append(path)
        one = run_workers(work / "one", clips, server.new_database(), 1)
        two = run_workers(work / "two", clips, server.new_database(), 2)
        n = args.count
        print(f"{n} clips of 2 s (160x120), PostgreSQL, OCR off")
        print(f"one worker   {one:7.1f} s  {n / one:5.1f} files/s")
        print(f"two workers  {two:7.1f} s  {n / two:5.1f} files/s")
        print(f"speed-up     {one / two:.2f}x on {os.cpu_count()} cores")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
