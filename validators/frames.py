"""Sampled frames of a video, with their times: what the frame scan reads (in the OCR child).

One ffmpeg decodes the video once and hands over scaled-down frames; each frame's time comes from ffmpeg's own
``showinfo`` line, so a video with variable frame rate or a start offset is timed as a player shows it.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from pathlib import Path
from typing import Iterator

SCENE_CHANGE = 0.3      # ffmpeg's scene score (0–1) above which a frame starts a new scene
AHEAD = 2               # frames decoded ahead of the reader (each 1.5 MB at 960×540)
MAX_ERRORS = 20         # error lines kept
# The decoder refuses pictures larger than this (a phone's 4K is 8.3 million pixels): a file that claims an
# enormous frame size cannot make the scan allocate gigabytes for each frame.
MAX_PIXELS = 4096 * 4096
SHOWINFO = re.compile(r"\[Parsed_showinfo_\d+ @ [^\]]*\] \[info\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[\d.]+)")
ERROR_LEVELS = ("[error]", "[fatal]", "[panic]")
# "[info]   Duration: 00:01:50.02, start: ...": the input's length as its demuxer reads it. Anchored at the line's
# start: a metadata value that holds a line break is printed on a continuation starting with ":".
DURATION_LINE = re.compile(r"^\[info\]\s+Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?),")


def select_expression(every: float, window: float = 0.0, window_every: float | None = None) -> str:
    """ffmpeg ``select``: the first frame; then one once ``every`` seconds have passed since the last one
    chosen (``window_every`` before ``window`` seconds); and a scene change, at most four times as often."""
    step = f"if(lt(t\\,{window:.3f})\\,{window_every:.3f}\\,{every:.3f})" if window and window_every else \
        f"{every:.3f}"
    since = "t-prev_selected_t"
    return (f"if(isnan(prev_selected_t)\\,1\\,gte({since}\\,{step})"
            f"+gt(scene\\,{SCENE_CHANGE})*gte({since}\\,{step}/4))")


class Frames:
    """Iterate as (seconds, BGR image), frames fitting in ``side``×``side`` (never enlarged), until ``until``
    seconds (None: the whole video). A str ``path`` is used as given (it may be /proc/self/fd/N). Afterwards:
    ffmpeg's ``errors``, ``returncode``, ``killed`` by the timeout, and ``input_seconds`` as ffmpeg read it.
    """

    def __init__(self, path: Path | str, *, every: float, side: int, timeout: float, ffmpeg: str,
                 input_options: tuple[str, ...], fds: tuple[int, ...] = (), until: float | None = None,
                 window: float = 0.0, window_every: float | None = None):
        target = path if isinstance(path, str) else str(path.resolve())
        vf = (f"select='{select_expression(every, window, window_every)}',"
              f"scale=w='min({side},iw)':h='min({side},ih)':force_original_aspect_ratio=decrease:"
              "force_divisible_by=2,showinfo=checksum=0")
        limit = ["-t", f"{until:.2f}"] if until else []
        # skip_frame noref: frames no other frame refers to are not decoded at all (a third of the work for
        # video with B-frames); a sampled frame is then at most a frame or two off. One decoding thread: the
        # reader beside it is slower still (a 30 s 1080p file: 4.2 s of decoding, 5 s of reading text), and each
        # more thread holds frames (5 MB at the burst's peak).
        # level+info: showinfo speaks at info level; the level tag tells its lines from ffmpeg's errors.
        args = [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info", *input_options,
                "-skip_frame", "noref", "-threads", "1", "-max_pixels", str(MAX_PIXELS), *limit, "-i", target,
                "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", vf, "-fps_mode", "passthrough",
                "-f", "image2pipe", "-vcodec", "ppm", "pipe:"]
        self.errors: list[str] = []
        self.killed = False
        self.input_seconds: float | None = None
        self._times: list[float] = []
        self._timed = threading.Condition()
        self._stderr_done = False
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, pass_fds=fds)
        self._killer = threading.Timer(timeout, self._kill)   # a stuck decoder never holds the pipeline
        self._killer.start()
        self._queue: queue.Queue = queue.Queue(AHEAD)
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._read, name="scan-frames", daemon=True),
                         threading.Thread(target=self._read_log, name="scan-log", daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def _kill(self) -> None:
        self.killed = True
        self._proc.kill()

    def _read(self) -> None:
        stream = self._proc.stdout
        try:
            while not self._closed.is_set():
                header = [stream.readline(32) for _ in range(3)]   # b"P6\n", b"W H\n", b"255\n"
                if header[0] != b"P6\n":
                    return
                width, height = map(int, header[1].split())
                raw = stream.read(width * height * 3)
                if len(raw) < width * height * 3:
                    return
                self._put((width, height, raw))
        except (OSError, ValueError):
            return
        finally:
            self._put(None)

    def _read_log(self) -> None:
        for raw in self._proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            shown = SHOWINFO.search(line)
            if shown:
                with self._timed:
                    self._times.append(float(shown.group(1)))
                    self._timed.notify_all()
            elif any(level in line for level in ERROR_LEVELS) and len(self.errors) < MAX_ERRORS:
                self.errors.append(line[:300])
            elif self.input_seconds is None and (length := DURATION_LINE.match(line)):
                hours, minutes, secs = length.groups()
                self.input_seconds = int(hours) * 3600 + int(minutes) * 60 + float(secs)
        with self._timed:
            self._stderr_done = True
            self._timed.notify_all()

    def _time_of(self, index: int) -> float | None:
        """The time of the ``index``-th frame: its showinfo line is written before the frame itself."""
        with self._timed:
            self._timed.wait_for(lambda: len(self._times) > index or self._stderr_done, timeout=10)
            return self._times[index] if len(self._times) > index else None

    def _put(self, item) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[tuple[float, "object"]]:
        import cv2
        import numpy as np

        index, seconds = 0, 0.0
        while (item := self._queue.get()) is not None:
            width, height, raw = item
            frame = cv2.cvtColor(np.frombuffer(raw, np.uint8).reshape(height, width, 3), cv2.COLOR_RGB2BGR)
            item = raw = None   # the models read BGR; the RGB bytes go now, not at the next frame
            timed = self._time_of(index)
            seconds = max(0.0, timed) if timed is not None else seconds
            yield seconds, frame
            index += 1
        self._proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)

    def close(self) -> None:
        self._closed.set()
        self._killer.cancel()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._proc.stderr.close()

    def __enter__(self) -> "Frames":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
