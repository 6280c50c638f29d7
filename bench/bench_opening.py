"""Benchmark: find the opening phrase burnt in at 2 s, on a 2-minute 1080p clip and on a 20 s one.

    python bench/bench_opening.py [--runs 3]

Each run is a fresh process (OCR model load included) timing check_opening alone.
Target: median at most 5 s on a 2-core machine; the 20 s clip shows the cost does not
grow with the video's length.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import ratio  # noqa: E402
from tests import media  # noqa: E402

CHILD = r"""
import json, sys, time
from pathlib import Path
from validators.opening import check_opening
from validators.rules import RulesConfig
from validators.tools import probe_media
path = Path(sys.argv[1])
rules = RulesConfig()
facts = probe_media(path, 30)
start = time.perf_counter()
result = check_opening(path, facts, rules.opening, [])
print(json.dumps({"seconds": time.perf_counter() - start, "status": result.check.status.value,
                  "message": result.check.message}))
"""
CAPTION = "我是保密法治代言人张三，今天我要讲的是保密法"


def make(path: Path, seconds: int, font: str) -> Path:
    text = path.with_suffix(".txt")
    text.write_text(CAPTION, encoding="utf-8")
    media.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
                 "-f", "lavfi", "-i", f"sine=duration={seconds}",
                 "-vf", f"drawtext=fontfile={font}:textfile={text}:fontcolor=white:fontsize=64:x=(w-text_w)/2:"
                        "y=h-150:box=1:boxcolor=black@0.6:boxborderw=8:enable='between(t,2,8)'",
                 "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-c:a", "aac", str(path))
    text.unlink()
    return path


def timed_runs(path: Path, runs: int) -> list[dict]:
    out = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        out.append(json.loads(proc.stdout))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    font = media.cjk_font()
    if not font:
        sys.exit("需要中文字体：apt-get install fonts-noto-cjk")
    with tempfile.TemporaryDirectory() as tmp:
        long_clip = make(Path(tmp) / "long.mp4", 120, font)
        short_clip = make(Path(tmp) / "short.mp4", 20, font)
        long_runs = timed_runs(long_clip, args.runs)
        short_runs = timed_runs(short_clip, args.runs)
    for name, runs in (("2-minute 1080p", long_runs), ("20 s 1080p", short_runs)):
        times = [r["seconds"] for r in runs]
        print(f"{name:15s} median {statistics.median(times):5.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})"
              f"  {runs[0]['status']}: {runs[0]['message']}")
    long_median = statistics.median(r["seconds"] for r in long_runs)
    short_median = statistics.median(r["seconds"] for r in short_runs)
    print(f"2-minute / 20 s: {ratio(long_median, short_median)}   (target: 2-minute median <= 5 s)")


if __name__ == "__main__":
    main()
