"""Benchmark: the opening-phrase scan (OCR) against ffmpeg's own decode of the same window, in the same run.

    python bench/bench_opening.py [--runs 3] [--work DIR]

Clips (1080p, made once into --work): no caption at all in a 30 s clip at about 22 Mb/s (the worst
case: the whole window is read), and a caption at 2 s in a 2-minute clip and in a 20 s one.
Each timed run is a fresh process timing check_opening alone, as ``intake validate`` runs it (a
fresh OCR child, models loaded); "warm worker" is ``intake run``'s long-lived worker, models
already loaded. The baseline, interleaved with the runs: ffmpeg decoding the same window at 1 fps.
Peak memory is measured in separate runs: the VmHWM of every process of the tree (the intake
process, the OCR child, its ffmpeg), sampled from /proc every 10 ms and summed.

Targets: no caption <= 3x the decode; tree peak <= 300 MB; a caption at 2 s within 5 s; the
2-minute clip costs no more than the 20 s one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import process_tree_peaks, ratio  # noqa: E402
from tests import media  # noqa: E402
from validators.rules import OpeningConfig  # noqa: E402
from validators.mediainfo_pool import probe_media  # noqa: E402
from validators.tools import ffmpeg_exe  # noqa: E402

CHILD = r"""
import json, sys, time
from pathlib import Path
import intake.cli  # noqa: F401 (the intake process as `intake validate` has it loaded)
from validators.opening import check_opening
from validators.rules import RulesConfig
from validators.mediainfo_pool import MediaFacts
path, facts, warm = Path(sys.argv[1]), MediaFacts.from_json(json.loads(sys.argv[2])), sys.argv[3] == "warm"
rules = RulesConfig()
if warm:  # intake run: the service's worker, its models loaded by an earlier video
    from validators import ocr_worker
    ocr_worker.start_service()
    check_opening(path, facts, rules.opening, [])
start = time.perf_counter()
result = check_opening(path, facts, rules.opening, [])
print(json.dumps({"seconds": time.perf_counter() - start, "status": result.check.status.value,
                  "message": result.check.message}))
if warm:
    ocr_worker.stop_service()
"""
CAPTION = "我是保密法治代言人张三，今天我要讲的是保密法"


def make_captioned(path: Path, seconds: int, font: str) -> Path:
    if path.exists():
        return path
    text = path.with_suffix(".txt")
    text.write_text(CAPTION, encoding="utf-8")
    media.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
                 "-f", "lavfi", "-i", f"sine=duration={seconds}",
                 "-vf", f"drawtext=fontfile={font}:textfile={text}:fontcolor=white:fontsize=64:x=(w-text_w)/2:"
                        "y=h-150:box=1:boxcolor=black@0.6:boxborderw=8:enable='between(t,2,8)'",
                 "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-c:a", "aac", str(path))
    text.unlink()
    return path


def make_plain(path: Path, seconds: int) -> Path:
    """No caption; a busy test pattern that changes every frame, at a phone's bitrate."""
    if not path.exists():
        media.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
                     "-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                     "-b:v", "22M", "-maxrate", "22M", "-bufsize", "22M", "-pix_fmt", "yuv420p", "-c:a", "aac",
                     str(path))
    return path


def decode_window(path: Path, seconds: float) -> float:
    start = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-t", f"{seconds}", "-i", str(path), "-vf", "fps=1",
                    "-an", "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def child(path: Path, warm: bool = False) -> subprocess.Popen:
    facts = probe_media(path, 60)
    payload = json.dumps({"general": facts.general, "video": facts.video, "audio": facts.audio, "text": facts.text},
                         default=str)
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), payload, "warm" if warm else "cold"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def timed(path: Path, warm: bool = False) -> dict:
    proc = child(path, warm)
    out, _ = proc.communicate()
    if proc.returncode:
        sys.exit(f"the measured process failed on {path.name}")
    return json.loads(out)


def tree_peak(path: Path, warm: bool = False) -> tuple[float, dict[str, float]]:
    """(the tree's peak, MB; the largest VmHWM of each kind of process). The peak sums one process of
    each kind: the worker's two ffmpeg runs (warm-up, then the measured one) never overlap."""
    proc = child(path, warm)
    with process_tree_peaks(proc.pid) as peaks:
        proc.communicate()
    by_kind: dict[str, float] = {}
    for argv, mb in peaks.values():
        name = ("OCR worker" if b"--serve" in argv else "OCR child" if b"validators.ocr_child" in argv
                else "ffmpeg" if argv and argv[0].endswith(b"ffmpeg") else "intake")
        by_kind[name] = max(by_kind.get(name, 0), mb)
    return sum(by_kind.values()), by_kind


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args()
    font = media.cjk_font()
    if not font:
        sys.exit("需要中文字体：apt-get install fonts-noto-cjk")
    args.work.mkdir(parents=True, exist_ok=True)
    plain = make_plain(args.work / "opening-no-caption-1080p.mp4", 30)
    long_clip = make_captioned(args.work / "opening-caption-2min-1080p.mp4", 120, font)
    short_clip = make_captioned(args.work / "opening-caption-20s-1080p.mp4", 20, font)
    window = OpeningConfig().scan_seconds

    decode, cold, warm, long_runs, short_runs = [], [], [], [], []
    for _ in range(args.runs):
        decode.append(decode_window(plain, window))
        cold.append(timed(plain))
        decode.append(decode_window(plain, window))
        warm.append(timed(plain, warm=True))
        long_runs.append(timed(long_clip))
        short_runs.append(timed(short_clip))
    m = statistics.median
    floor = m(decode)

    def line(name: str, runs: list[dict]) -> str:
        times = [r["seconds"] for r in runs]
        return (f"{name:44s} median {m(times):5.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})  "
                f"{runs[0]['status']}")

    print(f"file: {plain.name}, {plain.stat().st_size / 1048576:.0f} MiB; window {window:g} s; {args.runs} runs")
    print(f"{'baseline: ffmpeg decodes the window at 1 fps':44s} median {floor:5.2f} s  "
          f"(runs: {', '.join(f'{t:.2f}' for t in decode)})")
    print(line("no caption (validate: a fresh OCR child)", cold)
          + f"  {ratio(m(r['seconds'] for r in cold), floor)} the decode (target <= 3x)")
    print(line("no caption (intake run: the warm worker)", warm)
          + f"  {ratio(m(r['seconds'] for r in warm), floor)} the decode")
    print(line("caption at 2 s, 2-minute 1080p", long_runs) + "  (target <= 5 s)")
    print(line("caption at 2 s, 20 s 1080p", short_runs))
    long_median, short_median = m(r["seconds"] for r in long_runs), m(r["seconds"] for r in short_runs)
    print(f"2-minute / 20 s: {ratio(long_median, short_median)}   (flat in length: about 1x)")
    for name, path, is_warm in (("no caption, validate", plain, False), ("no caption, intake run", plain, True),
                                ("caption at 2 s, 2-minute", long_clip, False)):
        total, kinds = tree_peak(path, is_warm)
        parts = " + ".join(f"{kind} {mb:.0f}" for kind, mb in sorted(kinds.items()))
        print(f"peak memory of the process tree, {name:24s} {total:5.0f} MB  ({parts}; target <= 300 MB)")


if __name__ == "__main__":
    main()
