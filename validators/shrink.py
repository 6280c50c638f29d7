"""Shrink: a lossy re-encode that brings a video under the size limit (only ever on a reviewer's command).

H.264 in one pass at a bitrate planned from the duration, held to it by the VBV, AAC at 128 kbit/s: the file
lands at about 95 % of the limit. One pass, not two: a file over the limit is far above any bitrate worth
judging, and a second pass would double the time for nothing a reviewer can see (a 70 s 1080p file took
4½ minutes in two passes). The input is read as the checks read it (``SAFE_INPUT``).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from core.errors import ShrinkFailed, ToolError
from validators import children
from validators.opened import OpenedFile, media_input
from validators.tools import SAFE_INPUT_ARGS, ffmpeg_exe

FILL = 0.95                # of the size limit: room for the estimate to be a little off
AUDIO_BPS = 128_000
MUXING_SHARE = 0.02        # what the MP4's own boxes take beside the streams
MIN_VIDEO_BPS = 100_000    # below this the picture is no longer worth judging
Progress = Callable[[float], None]   # the share done, 0..1


@dataclass(frozen=True)
class ShrinkPlan:
    seconds: float
    video_bps: int
    audio_bps: int | None     # None: the file has no sound
    target_bytes: int

    def after(self, got: int) -> "ShrinkPlan":
        """The plan for another try, when this one came out at ``got`` bytes (over the limit)."""
        return replace(self, video_bps=int(self.video_bps * self.target_bytes / got * 0.97))

    @property
    def workable(self) -> bool:
        return self.video_bps >= MIN_VIDEO_BPS


def plan_shrink(seconds: float, has_audio: bool, limit_bytes: int) -> ShrinkPlan:
    """The bitrates that make ``seconds`` of video about ``FILL`` of ``limit_bytes`` (see ``workable``)."""
    target = int(limit_bytes * FILL)
    audio = AUDIO_BPS if has_audio else None
    video = int(target * 8 * (1 - MUXING_SHARE) / seconds) - (audio or 0)
    return ShrinkPlan(seconds, video, audio, target)


def shrink_to_mp4(source: OpenedFile, target: Path, plan: ShrinkPlan, *, preset: str, timeout: float,
                  progress: Progress | None = None) -> None:
    """Re-encode ``source`` into an MP4 at ``target`` following ``plan``; raises ShrinkFailed."""
    source_path, fds = media_input(source)
    rate = str(plan.video_bps)
    video = ["-map", "0:v:0", "-c:v", "libx264", "-preset", preset, "-b:v", rate, "-maxrate", rate,
             "-bufsize", rate, "-pix_fmt", "yuv420p"]
    audio = ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(plan.audio_bps)] if plan.audio_bps else []
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-nostats", "-progress", "pipe:1",
            *SAFE_INPUT_ARGS, "-i", source_path, *video, *audio, "-movflags", "+faststart", "-f", "mp4", "-y",
            str(target)]

    def on_line(line: str) -> None:
        key, _, value = line.partition("=")
        if progress and key == "out_time_us" and value.strip().isdigit():
            progress(min(1.0, int(value) / 1e6 / plan.seconds) if plan.seconds > 0 else 0.0)

    try:
        proc = children.run_lines(args, timeout=max(1.0, timeout), on_line=on_line, pass_fds=fds)
    except subprocess.TimeoutExpired as exc:
        raise ShrinkFailed("timeout") from exc
    except OSError as exc:
        raise ToolError(f"无法运行 ffmpeg：{exc}", "请检查 ffmpeg 是否已安装且可执行。") from exc
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ShrinkFailed((lines[0] if lines else f"exit {proc.returncode}")[:400])
    if progress:
        progress(1.0)
