"""Find and run ffmpeg and MediaInfo safely: local files only, always with a timeout."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from core.errors import ToolError
from validators import children
from validators.opened import OpenedFile, media_input

# ffmpeg may only read plain local files, and only through the mov/mp4 demuxer:
# an ".mp4" that is really a playlist must not make it open anything else.
SAFE_INPUT = {
    "protocol_whitelist": "file",
    "format_whitelist": "mov,mp4,m4a,3gp,3g2,mj2",
    "f": "mp4",
}
SAFE_INPUT_ARGS = [arg for key, value in SAFE_INPUT.items() for arg in (f"-{key}", value)]
MAX_ERROR_TEXT = 4000
MAX_DECODE_THREADS = 2


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg every check runs: ``$INTAKE_FFMPEG`` when set, else the imageio-ffmpeg wheel's, else the one on PATH.

    The wheel's build comes first: the same pinned ffmpeg on every machine gives a file the same verdict
    wherever it is checked, and it starts in about a third of the time of a distribution's dynamically
    linked ffmpeg (a check starts ffmpeg two or three times per file).
    """
    chosen = os.environ.get("INTAKE_FFMPEG")
    if chosen:
        return chosen
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # the wheel raises RuntimeError or ImportError where it has no ffmpeg
        pass
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise ToolError("找不到 ffmpeg。", "请重新安装本工具的依赖（pip install imageio-ffmpeg），或安装 ffmpeg（apt-get install ffmpeg）。")


@dataclass(frozen=True)
class DecodeReport:
    ok: bool
    errors: str
    timed_out: bool = False


class Span(NamedTuple):
    """What one decoder reads: from ``start`` (None: the beginning) for ``length`` seconds (None: to the end).
    ``then_to_end``: the rest is still read to the end, its picture demuxed but not decoded (this bounds the cost
    of a long-GOP file's tail)."""

    start: float | None
    length: float | None
    then_to_end: bool = False


Spans = list[Span]


def decode(source: Path | OpenedFile, spans: Spans, timeout: float) -> DecodeReport:
    """Decode ``spans`` of ``source`` and judge them: any error output is a failure (ffmpeg exits 0 on corrupt
    data otherwise), a timeout a timeout.

    One ffmpeg reads every span, each as an input of its own: its inputs are decoded side by side, a thread
    each, for the memory of one process (two ffmpegs held 25 MB more at the burst's peak)."""
    target, fds = media_input(source)
    # The spans share the cores, two threads each at most: each more thread holds frames (a 1080p decode on 64
    # threads held 467 MB), and more cores are no reason for more memory.
    threads = str(max(1, min(MAX_DECODE_THREADS, (os.cpu_count() or 1) // len(spans))))
    inputs: list[str] = []
    outputs: list[str] = []
    for n, (start, length, then_to_end) in enumerate(spans):
        inputs += ["-threads", threads, *SAFE_INPUT_ARGS, *(["-ss", f"{start:.3f}"] if start else [])]
        if then_to_end and length:
            # The picture for ``length`` seconds into one null output; everything to the end into another, the
            # video copied (demuxed, not decoded) and the sound decoded.
            outputs += ["-map", f"{n}:v", "-t", f"{length:.3f}", "-f", "null", "-",
                        "-map", f"{n}:v", "-c:v", "copy", "-map", f"{n}:a?", "-f", "null", "-"]
        else:
            inputs += ["-t", f"{length:.3f}"] if length else []
            # The span's video and audio (whichever it has) into a null output.
            outputs += ["-map", f"{n}:v?", "-map", f"{n}:a?", "-f", "null", "-"]
        inputs += ["-i", target]
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-xerror", *inputs, *outputs]
    try:
        proc = children.run(args, timeout=timeout, pass_fds=fds)
    except subprocess.TimeoutExpired:
        return DecodeReport(False, "", timed_out=True)
    except OSError as exc:
        raise ToolError(f"无法运行 ffmpeg：{exc}", "请检查 ffmpeg 是否已安装且可执行。") from exc
    said = proc.stderr.decode("utf-8", "replace").strip()
    return DecodeReport(proc.returncode == 0 and not said, said[:MAX_ERROR_TEXT])
