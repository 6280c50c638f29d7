"""Benchmark: the lossless remux of a ~300 MB QuickTime file to MP4, against a durable copy of it in the same run.

    python bench/bench_remux.py [--work DIR] [--rounds N]

What is timed is what the pipeline's remux adds before the MP4 is checked: ffmpeg's ``-c copy`` (the index
written into room kept at the front, ``-moov_size``; +faststart only when it does not fit) into the store's temporary folder and the store taking the file under its content name (hash +
fsync); the streams come from MediaInfo's look at the file, which the checks made already (printed apart). The baseline, interleaved with it so that disk write-back
noise hits both, is a durable copy (copy + fsync) of the same MOV.
Target: remux <= 1.5x the durable copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import big_mp4, ffmpeg, ratio  # noqa: E402
from storage.filestore import FileStore  # noqa: E402
from validators.opened import OpenedFile  # noqa: E402
from validators.remux import remux_to_mp4, streams_from_facts  # noqa: E402
from validators.mediainfo import probe_media  # noqa: E402

TARGET = 1.5


def big_mov(folder: Path) -> Path:
    """About 300 MB of 1080p H.264/AAC in a QuickTime file (the MP4 of bench.common, rewrapped)."""
    out = folder / "big.mov"
    if not out.exists():
        ffmpeg("-i", str(big_mp4(folder, 300 * 1024 * 1024)), "-c", "copy", "-f", "mov", str(out))
    return out


def durable_copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with dst.open("rb+") as fh:
        os.fsync(fh.fileno())
    dst.unlink()


def remux(src: Path, store: FileStore, streams) -> None:
    temp = store.new_temp()
    with OpenedFile.open(src) as opened:
        remux_to_mp4(opened, "quicktime", streams, temp, timeout=600)
    blob = store.adopt(temp)
    store.path_of(blob.relative_path).unlink()


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "intake-bench")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    src = big_mov(args.work)
    store = FileStore(args.work / "store")
    print(f"MOV: {src.stat().st_size / 2**20:.0f} MiB")
    with OpenedFile.open(src) as opened:
        start = time.perf_counter()
        streams = streams_from_facts(probe_media(opened, 60))
        print(f"MediaInfo (done by the checks anyway): {time.perf_counter() - start:.2f} s, {streams}")
    assert streams and streams.lossless, streams
    copies, remuxes = [], []
    for index in range(args.rounds):
        copies.append(timed(durable_copy, src, args.work / "copy.tmp"))
        remuxes.append(timed(remux, src, store, streams))
        print(f"round {index + 1}: durable copy {copies[-1]:.2f} s, remux {remuxes[-1]:.2f} s "
              f"({ratio(remuxes[-1], copies[-1])})")
    copy, made = statistics.median(copies), statistics.median(remuxes)
    verdict = "ok" if made <= TARGET * copy else "over target"
    print(f"median: durable copy {copy:.2f} s, remux {made:.2f} s -> {ratio(made, copy)} "
          f"(target <= {TARGET}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
