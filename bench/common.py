"""Helpers for the benchmark scripts: medians, making big media, running the CLI."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

INTAKE = [sys.executable, "-m", "intake"]
REPO = Path(__file__).resolve().parents[1]


def _compiled() -> None:
    """Byte-compile the tool's own packages once, as an installed tool runs after its first start: where
    PYTHONDONTWRITEBYTECODE is set (this machine's environment sets it), every command would otherwise
    compile each module it imports afresh, and the benches would time the compiler."""
    import compileall

    for package in ("core", "intake", "validators", "storage"):
        compileall.compile_dir(REPO / package, quiet=1)


_compiled()


def bench_arguments(rounds: int) -> argparse.Namespace:
    """``--work DIR`` (made if missing; media are cached there), ``--rounds N`` and ``--gop N`` (frames between
    keyframes of the contest file: 50, a 2 s GOP at 25 frames a second, or 250 for a long-GOP export)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--gop", type=int, default=50)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    return args


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far, and of theirs."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed_cpu(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes ``fn`` ran): on a busy machine the CPU tells more."""
    cpu = children_cpu()
    wall = timed(fn)
    return wall, children_cpu() - cpu


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ffmpeg(*args: str) -> None:
    subprocess.run([shutil.which("ffmpeg") or "ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def big_mp4(folder: Path, target_bytes: int = 290 * 1024 * 1024) -> Path:
    """About ``target_bytes`` of valid 1080p MP4: copies of a high-bitrate clip joined with -c copy."""
    out = folder / "big.mp4"
    if out.exists() and out.stat().st_size > target_bytes * 0.8:
        return out
    piece = folder / "piece.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25:duration=4",
           "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
           "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "60M", "-minrate", "60M", "-maxrate", "60M",
           "-bufsize", "60M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(piece))
    copies = max(1, int(target_bytes / piece.stat().st_size))
    listing = folder / "list.txt"
    listing.write_text("".join(f"file '{piece.resolve()}'\n" for _ in range(copies)))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out))
    return out


def contest_mp4(folder: Path, seconds: int = 110, target_bytes: int = 285 * 1024 * 1024, gop: int = 50) -> Path:
    """The issue's file: ``seconds`` of 1080p H.264/AAC, about ``target_bytes`` (under the 300 MiB limit), with
    a keyframe every ``gop`` frames.

    One 10 s high-bitrate piece is encoded and copies are joined with -c copy (a continuous timeline),
    so making it takes seconds, not minutes. Cached in ``folder`` between runs.
    """
    out = folder / (f"contest-{seconds}s.mp4" if gop == 50 else f"contest-{seconds}s-gop{gop}.mp4")
    if out.exists() and out.stat().st_size > target_bytes * 0.9:
        return out
    piece_seconds = 10
    bits = int(target_bytes * 8 / seconds) - 128_000
    piece = folder / "contest-piece.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={piece_seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:duration={piece_seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-b:v", str(bits), "-minrate", str(bits),
           "-maxrate", str(bits), "-bufsize", str(bits), "-pix_fmt", "yuv420p", "-g", str(gop),
           "-keyint_min", str(gop), "-sc_threshold", "0",
           "-c:a", "aac", "-b:a", "128k", "-shortest", str(piece))
    listing = folder / "contest-list.txt"
    listing.write_text("".join(f"file '{piece.resolve()}'\n" for _ in range(seconds // piece_seconds)))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out))
    piece.unlink()
    listing.unlink()
    return out


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    found[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def _tree(root: int) -> set[int]:
    parents = _parents()
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def _status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next((int(line.split()[1]) for line in status if line.startswith(field)), 0) / 1024


def _sample(root: int, peaks: dict[int, tuple[list[bytes], float]], done: threading.Event) -> None:
    while not done.is_set():
        for pid in _tree(root):
            try:
                hwm = _status_mb(pid, "VmHWM:")
                with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                    argv = cmd.read().split(b"\0")
            except OSError:
                continue
            if hwm > peaks.get(pid, ([], 0.0))[1]:
                peaks[pid] = (argv, hwm)
        done.wait(0.01)


@contextlib.contextmanager
def tree_rss_peak(root: int) -> Iterator[list]:
    """While the block runs: the largest memory the tree under ``root`` (and it) held at one moment, in MB,
    sampled every 20 ms. Once the block is done: ``[rss, pss, breakdown]``: the peak of the sum of its
    processes' resident sets (shared pages counted in each process), the peak of the sum of their
    proportional sets (shared pages split between the processes that map them, as ``smem`` counts), and
    which processes held the RSS peak (``"intake 95 + ocr_child 160 + ffmpeg 40"``)."""
    peak: list = [0.0, 0.0, ""]
    done = threading.Event()

    def sample() -> None:
        count = 0
        while not done.is_set():
            held: dict[int, float] = {}
            # smaps_rollup walks a process's whole memory map: read every 10th sample (0.2 s), so that the
            # sampling does not weigh on the run it measures.
            pss, with_pss = 0.0, count % 10 == 0
            for pid in _tree(root):
                try:
                    held[pid] = _status_mb(pid, "VmRSS:")
                    pss += _rollup_mb(pid, "Pss:") if with_pss else 0.0
                except OSError:
                    continue
            total = sum(held.values())
            if total > peak[0]:   # who held it: read only for a new peak (a child may exec since it was seen)
                peak[0] = total
                peak[2] = _breakdown(held)
            peak[1] = max(peak[1], pss)
            count += 1
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def _rollup_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        return next((int(line.split()[1]) for line in rollup if line.startswith(field)), 0) / 1024


def _breakdown(held: dict[int, float]) -> str:
    by_label: dict[str, float] = {}
    for pid, mb in held.items():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                label = _label(cmd.read().split(b"\0"))
        except OSError:
            label = "?"
        by_label[label] = by_label.get(label, 0.0) + mb
    return " + ".join(f"{name} {mb:.0f}" for name, mb in sorted(by_label.items(), key=lambda i: -i[1]))


def _label(argv: list[bytes]) -> str:
    """A short name for a process of the tree: the Python module it runs, or the program's name."""
    words = [a.decode("utf-8", "replace") for a in argv if a]
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1].rsplit(".", 1)[-1]
    return Path(words[0]).name if words else "?"


@contextlib.contextmanager
def process_tree_peaks(root: int) -> Iterator[dict[int, tuple[list[bytes], float]]]:
    """While the block runs, every process under ``root`` (and it): pid -> (its argv, its peak RSS in MB)."""
    peaks: dict[int, tuple[list[bytes], float]] = {}
    done = threading.Event()
    sampler = threading.Thread(target=_sample, args=(root, peaks, done))
    sampler.start()
    try:
        yield peaks
    finally:
        done.set()
        sampler.join()
