"""Benchmark: the secrecy scan of whole 2-minute 1080p videos, in a whole `intake validate` process, against
ffmpeg's own full decode of the same file, measured in the same run.

    python bench/bench_scan.py [--rounds 3] [--work DIR] [--burst N]

Files (made once into --work; 1080p30, 2 minutes, H.264 at a phone's bitrate, AAC):
- phone:  moving, textured footage with a caption band that changes every 4 s, a 1 s GOP, and a document
          page with 机密★10年 from 1:10 to 1:13;
- longgop: the same picture with keyframes 250 frames apart;
- text:   credits rolling over the whole video: every frame has text to recognise, none of it where it was.

Each round, per file, interleaved: the baseline (``ffmpeg -i FILE -f null -``, a full decode of both
streams), then ``intake validate --json FILE`` with the default config (the whole-video scan on), and the
most memory its process tree held at one moment (the sum of the tree's resident sets, sampled from /proc). Printed: the medians, the range, the ratio to the decode
(target <= 3x on the phone file), frames read and lines recognised, and the peak (target <= 300 MB).

``--burst N``: N copies of the phone file (each made distinct by a byte of its own) dropped into a running
``intake run`` (OCR and scan on, its long-lived OCR worker): files per minute until all are recorded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import INTAKE, ratio, tree_rss_peak  # noqa: E402
from tests import media  # noqa: E402
from validators.tools import ffmpeg_exe  # noqa: E402

SECONDS = 120
CAPTIONS = ["我是保密法治代言人李明，今天我要讲的是手机使用中的保密常识", "手机不得存储和处理涉密信息",
            "不得在微信群里谈论工作秘密", "涉密文件要按密级管理", "保守国家秘密是每个公民的义务",
            "废旧手机要妥善处置", "不要随意连接公共无线网络", "安装应用要注意查看权限"]
PAGE = [("机密★10年", 34, "black", 130, 90), ("关于加强涉密载体管理的通知", 52, "red", 210, 170),
        ("各单位：为进一步做好保密工作，现将有关事项通知如下。", 32, "black", 130, 280),
        ("一、严格执行涉密文件登记、传阅和归档制度。", 32, "black", 130, 340)]


def _texts(folder: Path, lines: list[str], prefix: str) -> list[Path]:
    paths = []
    for index, line in enumerate(lines):
        path = folder / f"{prefix}{index}.txt"
        path.write_text(line, encoding="utf-8")
        paths.append(path)
    return paths


def footage() -> str:
    """Moving, textured picture that changes every frame (a camera's view is never still)."""
    return ("life=s=480x270:mold=10:rate=30:ratio=0.15:death_color=#3a5f7d:life_color=#d9c49a,"
            "scale=1920:1080:flags=bicubic,noise=alls=6:allf=t")


def encode(*args: str) -> None:
    """ffmpeg without a time bound (two minutes of 1080p take a few minutes to encode here)."""
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


def make_phone(path: Path, gop: int, font: str) -> Path:
    if path.exists():
        return path
    folder = path.parent / f"{path.stem}-text"
    folder.mkdir(exist_ok=True)
    captions = _texts(folder, CAPTIONS, "caption")
    filters = []
    for second in range(0, SECONDS, 4):
        text = captions[(second // 4) % len(captions)]
        filters.append(f"drawtext=fontfile={font}:textfile={text}:fontcolor=white:fontsize=52:x=(w-text_w)/2:"
                       f"y=h-130:box=1:boxcolor=black@0.5:boxborderw=10:enable='between(t,{second},{second + 3.95})'")
    page = _texts(folder, [line for line, *_ in PAGE], "page")
    shown = "enable='between(t,70,73)'"
    filters.append(f"drawbox=x=100:y=60:w=1000:h=760:color=white@1:t=fill:{shown}")
    for file, (_, size, colour, x, y) in zip(page, PAGE):
        filters.append(f"drawtext=fontfile={font}:textfile={file}:fontcolor={colour}:fontsize={size}:x={x}:y={y}:{shown}")
    script = folder / "filters.txt"
    script.write_text(",".join(filters), encoding="utf-8")
    encode("-f", "lavfi", "-i", footage(), "-f", "lavfi", "-i", f"sine=frequency=300:duration={SECONDS}",
                 "-t", str(SECONDS), "-/vf", str(script), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "14M", "-maxrate", "16M",
                 "-bufsize", "16M", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                 "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path))
    shutil.rmtree(folder)
    return path


def make_text(path: Path, font: str) -> Path:
    """Credits rolling for the whole video: 14 lines on screen at a time, each moving every frame."""
    if path.exists():
        return path
    credits = path.with_suffix(".txt")
    rows = [f"第{n}条  {CAPTIONS[n % len(CAPTIONS)]}" for n in range(1, 200)]
    credits.write_text("\n".join(rows), encoding="utf-8")
    encode("-f", "lavfi", "-i", footage(), "-f", "lavfi", "-i", f"sine=frequency=300:duration={SECONDS}",
                 "-t", str(SECONDS), "-vf", f"drawtext=fontfile={font}:textfile={credits}:fontcolor=white:fontsize=44:line_spacing=30:"
                        f"x=200:y=h-t*60:box=1:boxcolor=black@0.4",
                 "-c:v", "libx264", "-preset", "veryfast", "-b:v", "14M", "-maxrate", "16M", "-bufsize", "16M",
                 "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path))
    credits.unlink()
    return path


def full_decode(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def validate(path: Path, work: Path) -> tuple[float, float, dict]:
    """(wall seconds, the tree's peak MB, the sensitive_content check) of a whole `intake validate` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([*INTAKE, "validate", "--json", str(path)], stdout=subprocess.PIPE, text=True, cwd=work)
    with tree_rss_peak(proc.pid) as peak:
        out, _ = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 3, 4):
        sys.exit(f"intake validate failed on {path.name}")
    [item] = json.loads(out)
    check = next(c for c in item["checks"] if c["id"] == "sensitive_content")
    return wall, peak[0], check


def burst(phone: Path, work: Path, count: int) -> None:
    folder = work / "burst"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "inbox").mkdir(parents=True)
    (folder / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\nwatch:\n  settle_seconds: 1\n",
                                        encoding="utf-8")
    proc = subprocess.Popen([*INTAKE, "run"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)   # the service is up (a bench, not a test: nothing else tells from outside)
        start = time.perf_counter()
        for n in range(count):
            target = folder / "inbox" / f"柳南区-张三-1380013{n:04d}-作品{n}.mp4"
            shutil.copyfile(phone, target.with_suffix(".part"))
            with target.with_suffix(".part").open("ab") as fh:
                fh.write(bytes([n]))   # distinct content: no duplicate shortcut
            target.with_suffix(".part").rename(target)
        while len(list((folder / "done").rglob("*.结果.txt"))) < count:
            time.sleep(0.5)
        took = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"burst: {count} files of 2 minutes into intake run: {took:.1f} s, "
          f"{count / took * 60:.2f} files per minute ({took / count:.1f} s a file)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=0)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    font = media.cjk_font()
    if not font:
        sys.exit("需要中文字体：apt-get install fonts-noto-cjk")
    files = {"phone": make_phone(args.work / "scan-phone-1080p.mp4", 30, font),
             "longgop": make_phone(args.work / "scan-longgop-1080p.mp4", 250, font),
             "text": make_text(args.work / "scan-text-1080p.mp4", font)}
    runs: dict[str, dict[str, list]] = {name: {"decode": [], "scan": [], "peak": []} for name in files}
    checks = {}
    for _ in range(args.rounds):
        for name, path in files.items():
            runs[name]["decode"].append(full_decode(path))
            wall, peak, checks[name] = validate(path, args.work)
            runs[name]["scan"].append(wall)
            runs[name]["peak"].append(peak)
    m = statistics.median
    for name, path in files.items():
        r, check = runs[name], checks[name]
        decode, scan = r["decode"], r["scan"]
        ratios = [s / d for s, d in zip(scan, decode)]
        print(f"{name:8s} {path.stat().st_size / 1048576:4.0f} MiB  full decode {m(decode):5.1f} s "
              f"({min(decode):.1f}–{max(decode):.1f})  validate {m(scan):5.1f} s ({min(scan):.1f}–{max(scan):.1f})  "
              f"{ratio(m(scan), m(decode))} the decode (rounds {min(ratios):.2f}–{max(ratios):.2f}x; target <= 3x)  "
              f"peak {max(r['peak']):.0f} MB (target <= 300)")
        details = check["details"]
        print(f"         frames read {details['frames']}, lines recognised {details['recognised']}, "
              f"found {[(f['text'], f['seconds']) for f in details['found']]}, code {check['code']}")
    if args.burst:
        burst(files["phone"], args.work, args.burst)


if __name__ == "__main__":
    main()
