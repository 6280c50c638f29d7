"""Benchmark: the main job. A burst of contest-sized files dropped at once into a running `intake run` (OCR and
the whole-video secrecy scan on, as configured by default), until every one is recorded.

    python bench/bench_burst.py [--files 50] [--seconds 30] [--rounds 3] [--work DIR] [--repo PATH ...]

The files (made once into --work): 1080p30 H.264/AAC at a phone's bitrate with a caption band, half of them
phone-like (a keyframe every second), half a long-GOP export (keyframes 250 frames apart) of noisier footage;
each copy made distinct (its own tag), so that no duplicate shortcut is taken.

Each round, interleaved:
- the floor, serially for the same files: a SHA-256 read, a durable copy (copy and fsync), and ffmpeg's decode
  of what the checks decode (the whole picture for the scan, and the first and last two seconds of both streams
  for the integrity check);
- MediaConch over the same files, one process each, with the policy of bench_validate.py (when installed);
- `intake run` of each --repo (default: this checkout), on a database made beforehand: the files dropped into
  its inbox at once, timed until every one has its result note in done/, with the most memory its process tree
  held at one moment.

Printed: the median and range of each, the ratio to the floor (target <= 2x), files per minute, and the tree's peak
(target <= 300 MB) both as the sum of resident sets and as the sum of proportional sets (shared pages counted
once), with the processes that held the highest.
"""

from __future__ import annotations

import argparse
import hashlib
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

from bench.bench_validate import mediaconch_policy  # noqa: E402
from bench.common import ratio, tree_rss_peak  # noqa: E402
from tests import media  # noqa: E402
from validators.rules import RulesConfig  # noqa: E402
from validators.tools import ffmpeg_exe  # noqa: E402

CAPTION = "我是保密法治代言人李明，今天我要讲的是手机使用中的保密常识"


def encode(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


def source(work: Path, name: str, seconds: int, gop: int, noise: int, font: str) -> Path:
    path = work / f"burst-{name}-{seconds}s.mp4"
    if path.exists():
        return path
    text = work / "burst-caption.txt"
    text.write_text(CAPTION, encoding="utf-8")
    encode("-f", "lavfi", "-i", "life=s=480x270:mold=10:rate=30:ratio=0.15:death_color=#3a5f7d:life_color=#d9c49a,"
                                f"scale=1920:1080:flags=bicubic,noise=alls={noise}:allf=t",
           "-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}", "-t", str(seconds),
           "-vf", f"drawtext=fontfile={font}:textfile={text}:fontcolor=white:fontsize=48:x=(w-text_w)/2:y=h-120:"
                  "box=1:boxcolor=black@0.5:boxborderw=10",
           "-c:v", "libx264", "-preset", "veryfast", "-b:v", "12M", "-maxrate", "14M", "-bufsize", "14M",
           "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "128k", str(path))
    return path


def burst_files(work: Path, count: int, seconds: int) -> list[Path]:
    font = media.cjk_font()
    if not font:
        sys.exit("需要中文字体：apt-get install fonts-noto-cjk")
    phone = source(work, "phone", seconds, 30, 5, font)
    export = source(work, "longgop", seconds, 250, 10, font)
    folder = work / f"burst-{count}x{seconds}s"
    folder.mkdir(exist_ok=True)
    files = []
    for n in range(count):
        path = folder / f"柳南区-张三-1380013{n:04d}-作品{n:02d}.mp4"
        if not path.exists():   # a stream copy with a tag of its own: distinct bytes, the same picture
            encode("-i", str(phone if n % 2 == 0 else export), "-c", "copy", "-metadata", f"comment=copy {n}",
                   str(path))
        files.append(path)
    return files


def floor(files: list[Path], scratch: Path) -> float:
    """SHA-256 read + durable copy + ffmpeg's decode of the spans the checks decode, serially."""
    start = time.perf_counter()
    for path in files:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
        copy = scratch / "copy.mp4"
        shutil.copyfile(path, copy)
        with copy.open("rb+") as fh:
            os.fsync(fh.fileno())
        copy.unlink()
        ff = [ffmpeg_exe(), "-nostdin", "-v", "error"]
        subprocess.run([*ff, "-i", str(path), "-map", "0:v:0", "-f", "null", "-"], check=True)   # the scan
        subprocess.run([*ff, "-t", "2", "-i", str(path), "-f", "null", "-"], check=True)          # integrity, head
        subprocess.run([*ff, "-sseof", "-2", "-i", str(path), "-f", "null", "-"], check=True)     # and tail
    return time.perf_counter() - start


def mediaconch(files: list[Path], scratch: Path) -> float | None:
    conch = shutil.which("mediaconch")
    if not conch:
        return None
    policy = scratch / "policy.xml"
    policy.write_text(mediaconch_policy(RulesConfig()))
    start = time.perf_counter()
    for path in files:
        subprocess.run([conch, "--Force", "-p", str(policy), str(path)], stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def intake_run(files: list[Path], scratch: Path, repo: Path) -> tuple[float, list]:
    """(seconds until every file is recorded, the tree's peaks as ``tree_rss_peak`` gives them) of a real
    `intake run` of ``repo``."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    inbox = folder / "inbox"
    inbox.mkdir()
    (folder / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\nwatch:\n  settle_seconds: 1\n",
                                        encoding="utf-8")
    staging = folder / "staging"
    staging.mkdir()
    for path in files:   # on the same file system, so that the drop itself is a rename
        shutil.copyfile(path, staging / path.name)
    env = {**os.environ, "PYTHONPATH": str(repo)}
    # The database exists, as it does for a service that has run before: creating it (once, at installation)
    # loads Alembic, which the running service would then hold for the whole burst.
    subprocess.run([sys.executable, "-m", "intake", "migrate"], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    said = folder / "run.out"
    with said.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "intake", "run"], cwd=folder, env=env, stdout=out,
                                stderr=subprocess.DEVNULL)
    try:
        with tree_rss_peak(proc.pid) as peak:
            while "按 Ctrl-C 停止".encode() not in said.read_bytes():   # the service is up
                if proc.poll() is not None:
                    sys.exit(f"intake run ended early ({proc.returncode})")
                time.sleep(0.1)
            start = time.perf_counter()
            for path in files:
                (staging / path.name).rename(inbox / path.name)
            while len(list((folder / "done").rglob("*.结果.txt"))) < len(files):
                if proc.poll() is not None:
                    sys.exit(f"intake run ended early ({proc.returncode})")
                time.sleep(0.2)
            took = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
    return took, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repo", type=Path, action="append", help="a checkout whose intake run to time")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    repos = [r.resolve() for r in args.repo or [REPO]]
    files = burst_files(args.work, args.files, args.seconds)
    scratch = Path(tempfile.mkdtemp(dir=args.work))
    floors, conches, runs = [], [], {repo: [] for repo in repos}
    try:
        for _ in range(args.rounds):
            floors.append(floor(files, scratch))
            conch = mediaconch(files, scratch)
            if conch is not None:
                conches.append(conch)
            for repo in repos:
                runs[repo].append(intake_run(files, scratch, repo))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    m = statistics.median
    size = sum(f.stat().st_size for f in files) / 1048576

    def spread(values: list[float]) -> str:
        return f"{m(values):6.1f} s ({min(values):.1f}–{max(values):.1f})"

    print(f"{len(files)} files of {args.seconds} s 1080p ({size:.0f} MiB in all), {args.rounds} rounds")
    print(f"floor (SHA-256 + durable copy + decode of what the checks decode, serially)  {spread(floors)}")
    if conches:
        print(f"MediaConch, one process a file                                              {spread(conches)}")
    for repo, results in runs.items():
        times, peaks, pss = [t for t, _ in results], [p[0] for _, p in results], [p[1] for _, p in results]
        ratios = [t / f for t, f in zip(times, floors)]
        print(f"intake run ({repo.name}): {spread(times)}  {ratio(m(times), m(floors))} the floor "
              f"(rounds {min(ratios):.2f}–{max(ratios):.2f}x; target <= 2x)"
              + (f", {ratio(m(times), m(conches))} MediaConch" if conches else "")
              + f"; {len(files) / m(times) * 60:.1f} files a minute; tree peak {max(peaks):.0f} MB "
                f"({min(peaks):.0f}–{max(peaks):.0f}; target <= 300), proportional set {max(pss):.0f} MB "
                f"({min(pss):.0f}–{max(pss):.0f})")
        print("  at the highest peak: " + max((p for _, p in results), key=lambda p: p[0])[2])


if __name__ == "__main__":
    main()
