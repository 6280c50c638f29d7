"""Benchmark: `intake fix --shrink` on the issue's file, 70 s of 1080p at about 320 MB (over the 300 MiB
limit), timed as a reviewer runs it (the real command, in its own process) against the video's own length.

    python bench/bench_shrink.py [--work DIR] [--rounds N]

Each round records the file in a fresh folder (`intake ingest`: over the limit, it is recorded, not
stored), then times `intake fix 1 --shrink --source FILE`: checking the original, keeping it in the store,
the re-encode, and every check of the new file. Target: under the video's duration (ratio < 1.0x).

The source is noisy 1080p at 30 frames a second (a phone's picture, not a flat test card: x264 and the
decoder both work for it), made once and cached in ``--work``. The project's config is the default but
for an open deadline and ``rules.opening.ocr: false``: the opening phrase's OCR is its own cost, the same
with or without a shrink. The whole-video secrecy scan stays on: `intake ingest` scans the file where it
is (untimed), and that scan stands for the shrunk file, which holds the same picture (see bench_scan for
the scan's own cost).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import INTAKE, bench_arguments, ratio, timed_cpu  # noqa: E402
from validators.tools import ffmpeg_exe  # noqa: E402

SECONDS = 70
PIECE_SECONDS = 10
SOURCE_BPS = 36_500_000          # 70 s of it with the sound: about 320 MB
TITLE = "我是保密法治代言人小测，今天我要讲的是保密法"
CONFIG = "contest:\n  deadline: 2099-12-31 23:59:59\nrules:\n  opening:\n    ocr: false\n"


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


def phone_video(folder: Path) -> Path:
    """70 s of noisy 1080p30 H.264 at about 36.5 Mbit/s with AAC sound: 10 s encoded, the copies joined."""
    out = folder / f"shrink-{SECONDS}s.mp4"
    if out.exists() and out.stat().st_size > 314_572_800:
        return out
    piece, listing = folder / "shrink-piece.mp4", folder / "shrink-list.txt"
    rate = str(SOURCE_BPS)
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={PIECE_SECONDS},noise=alls=12:allf=t",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={PIECE_SECONDS}",
           "-c:v", "libx264", "-preset", "ultrafast", "-b:v", rate, "-minrate", rate, "-maxrate", rate,
           "-bufsize", rate, "-pix_fmt", "yuv420p", "-g", "60", "-c:a", "aac", "-b:a", "128k", "-shortest", str(piece))
    listing.write_text("".join(f"file '{piece.resolve()}'\n" for _ in range(SECONDS // PIECE_SECONDS)))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", "-metadata", f"title={TITLE}", str(out))
    piece.unlink()
    listing.unlink()
    return out


def intake(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*INTAKE, *args], cwd=project, capture_output=True, text=True)


def one_round(source: Path, work: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of its processes, bytes of the shrunk file) of one `intake fix --shrink`."""
    with tempfile.TemporaryDirectory(dir=work, prefix="shrink-project-") as folder:
        project = Path(folder)
        (project / "config.yaml").write_text(CONFIG, encoding="utf-8")
        recorded = intake(project, "ingest", str(source), "--unit", "柳南区", "--contact", "张三",
                          "--phone", "13800138000")
        assert recorded.returncode == 4, recorded.stderr   # over the limit: recorded, not stored
        result: dict[str, subprocess.CompletedProcess] = {}
        wall, cpu = timed_cpu(lambda: result.setdefault("fix", intake(project, "fix", "1", "--shrink",
                                                                      "--source", str(source))))
        fix = result["fix"]
        assert fix.returncode == 0, fix.stdout + fix.stderr
        [sub] = json.loads(intake(project, "list", "--json").stdout)
        assert sub["outcome"] == "needs_review", sub["checks"]
        return wall, cpu, sub["files"][0]["size_bytes"]


def main() -> int:
    args = bench_arguments(rounds=3)
    source = phone_video(args.work)
    print(f"source: {source.stat().st_size / 1e6:.0f} MB, {SECONDS} s of 1920x1080 at 30 frames/s")
    walls = []
    for index in range(args.rounds):
        wall, cpu, size = one_round(source, args.work)
        walls.append(wall)
        print(f"round {index + 1}: intake fix --shrink {wall:.1f} s (CPU {cpu:.1f} s) -> {size / 1e6:.0f} MB, "
              f"{ratio(wall, SECONDS)} of the video's duration")
    low, high, mid = min(walls), max(walls), statistics.median(walls)
    verdict = "ok" if high < SECONDS else "over target"
    print(f"{args.rounds} rounds: {low:.1f}-{high:.1f} s, median {mid:.1f} s -> {ratio(low, SECONDS)}-"
          f"{ratio(high, SECONDS)} of the duration (target < 1.00x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
