"""The frame scan, as its callers see it: the text on screen over the whole video (or the opening window), read
in another process (the service's OCR worker, else a child of its own), and exactly what was covered.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ToolError
from core.numbers import duration_text
from validators import children, ocr_worker
from validators.ocr_worker import OCR_HINT, START_SECONDS
from validators.opened import OpenedFile, media_input
from validators.phrase import PhraseMatch
from validators.remux import DEMUXERS, input_options
from validators.rules import RulesConfig
from validators.texts import TextSource
from validators.tools import SAFE_INPUT_ARGS, ffmpeg_exe
from validators.worker_child import child_env, last_line

# What the scan may decode, by sniffed kind: an MP4 through the mp4 demuxer alone, a near miss through its own.
SCANNABLE = frozenset({"mp4", *DEMUXERS})
# How far short of the picture's end the last frame read may be and still count as the end: the sampling
# step, plus a second for frame durations and frames ffmpeg skips (skip_frame noref).
END_SLACK = 1.0


@dataclass(frozen=True)
class FrameScan:
    """What a frame scan read, and how far it got."""

    whole: bool                        # the whole video was asked for (else the opening window only)
    lines: list[TextSource] = field(default_factory=list)   # kind "ocr": seconds and box set
    frames: int = 0
    recognised: int = 0
    duration: float | None = None      # how long the picture runs, as far as anything tells
    covered: float = 0.0               # seconds from the start that were read
    problem: str | None = None         # why the scan did not reach the end (Chinese); None when it did
    hit: tuple[PhraseMatch, float] | None = None   # the opening phrase and its time, if looked for and found

    @property
    def complete(self) -> bool:
        return self.problem is None

    def coverage(self) -> str:
        """What was read, as a reviewer reads it: 全片 2分0秒（共读取 132 帧画面）, or 前 1分2秒（…）."""
        if not self.complete and not self.frames:
            return "画面（未能读取任何一帧）"
        return f"{'全片' if self.complete else '前'} {duration_text(self.covered) or '0秒'}（共读取 {self.frames} 帧画面）"

    def details(self) -> dict:
        return {"scanned_seconds": round(self.covered, 1), "frames": self.frames,
                "duration_seconds": round(self.duration, 1) if self.duration is not None else None,
                "complete": self.complete, "recognised": self.recognised}


def input_options_for(kind: str) -> list[str]:
    """ffmpeg's input options for a file of sniffed ``kind`` (see SCANNABLE)."""
    return list(SAFE_INPUT_ARGS) if kind == "mp4" else input_options(kind)


def scan_frames(source: Path | OpenedFile, kind: str, rules: RulesConfig, *, whole: bool, window: float,
                duration: float | None) -> FrameScan:
    """Read the frames of ``source``: the whole video when ``whole``, else until the opening phrase is found within
    ``window`` seconds (0: no phrase search). ``duration``: how long the picture should run (None: as ffmpeg reads
    it). Raises ToolError when the reading process itself fails: that is not a property of the file."""
    opening, sensitive = rules.opening, rules.sensitive
    every = sensitive.sample_seconds
    timeout = sensitive.timeout_seconds if whole else opening.timeout_seconds
    target, fds = media_input(source)
    request = {"path": target, "fds": list(fds), "every": every, "until": None if whole else window,
               "window": window, "window_every": 1 / opening.ocr_fps, "band": opening.ocr_band,
               "side": opening.ocr_width, "max_errors": opening.max_errors, "timeout": timeout,
               "ffmpeg": ffmpeg_exe(), "input_options": input_options_for(kind)}
    started = time.monotonic()
    worker = ocr_worker.current()
    answer = (worker.ask if worker is not None else _run_child)(request, fds, timeout + START_SECONDS)
    return _scan_of(answer, whole, every, duration, time.monotonic() - started)


def _scan_of(answer: dict, whole: bool, every: float, duration: float | None, spent: float) -> FrameScan:
    lines = [TextSource("ocr", text, None, seconds, tuple(box)) for seconds, text, box in answer["lines"]]
    hit = answer.get("hit")
    phrase = (PhraseMatch(hit["speaker"], hit["topic"], hit["errors"], hit["matched"]), hit["seconds"]) \
        if hit else None
    frames, last = answer["frames"], answer["last_seconds"]
    # where nothing else said how long the picture runs (an MKV, an AVI): the input's length as ffmpeg read it
    duration = duration or (float(answer["input_seconds"]) if answer.get("input_seconds") else None)
    covered = 0.0 if last is None else last
    if not whole:
        return FrameScan(False, lines, frames, answer["recognised"], duration, covered, None, phrase)
    problem = None
    if answer.get("lines_dropped"):   # read, but too much of it to keep: what was not kept was not searched
        problem = f"画面文字过多，有 {answer['lines_dropped']} 行没有保留查找"
    elif answer["timed_out"] or answer["killed"]:
        problem = f"超过 {spent:.0f} 秒时限"
    elif not frames:
        problem = "无法解码画面" + _first_error(answer)
    elif duration is not None and last + every + END_SLACK < duration:
        problem = f"画面只能解码到约第 {last:.0f} 秒（视频长 {duration_text(duration)}）" + _first_error(answer)
    elif answer["returncode"] not in (0, None) and not answer.get("stopped_early"):
        problem = "解码中途出错" + _first_error(answer)
    if problem is None:
        covered = max(duration or 0.0, covered)
    return FrameScan(True, lines, frames, answer["recognised"], duration, covered, problem, phrase)


def _first_error(answer: dict) -> str:
    errors = answer.get("errors") or []
    return f"：{errors[0][:120]}" if errors else ""


def _run_child(request: dict, fds: tuple[int, ...], timeout: float) -> dict:
    """A one-shot child's answer; ToolError saying, in Chinese, why there is none."""
    try:
        proc = children.run([sys.executable, "-P", "-m", "validators.ocr_child", json.dumps(request)],
                            timeout=timeout, env=child_env(), pass_fds=fds)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"画面文字识别程序超过 {timeout:.0f} 秒没有结束", OCR_HINT) from exc
    except OSError as exc:
        raise ToolError(f"无法启动画面文字识别程序：{exc.strerror or exc}", OCR_HINT) from exc
    if proc.returncode != 0:
        raise ocr_worker.ended(proc.returncode, last_line(proc.stderr))
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "lines" not in answer or "frames" not in answer:
        raise ToolError("画面文字识别程序的输出无法识别", OCR_HINT)
    return answer
