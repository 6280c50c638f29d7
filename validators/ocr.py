"""Read the text in a video's opening seconds: the caption band of every sampled frame, the whole of a few.

One ffmpeg decodes the window and hands over ``fps`` frames a second, already scaled down; a thread
reads them ahead, so decoding runs while the models load and while a frame is read. Per frame:
a band that repeats the last one is skipped, a band without a single sharp edge (no text can be
there) is skipped, and only then does the detector run, at a small size. A few frames spread over
the window are read whole, for classification markings anywhere in the picture. The scan stops at
the opening phrase, but still reads the whole frames that remain.
"""

from __future__ import annotations

import functools
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

from validators.phrase import find_phrase

MODEL_DIR_ENV = "INTAKE_OCR_MODEL_DIR"   # a folder with other PP-OCR models (same file names) than the wheel's
MODEL_FILES = {"det": "ch_PP-OCRv4_det_infer.onnx", "rec": "ch_PP-OCRv4_rec_infer.onnx"}
SAME_FRAME = 3.0        # mean absolute difference (0–255) of small grey copies below which a picture repeats…
SAME_PATCH = 20.0       # …if no patch of it changed more than this (a new caption of the same length as the last)
BAND_DET_WIDTH = 640    # the caption band is detected at this width (a 1080p caption stays 12+ px high)
EDGE_STEP = 40          # a jump in grey level this big between neighbours is a sharp edge
MIN_EDGES = 0.002       # a picture with fewer sharp-edge pixels than this holds no readable text
AHEAD = 2               # frames decoded ahead of the reader (each 1.5 MB at 960×540)
PHRASE_LINES = 6        # a phrase may run over the last few caption lines


@functools.cache
def engine():
    """The text reader (models loaded once per process); see validators.ocr_models for where they come from."""
    from validators.ocr_models import TextReader

    return TextReader()


class Frames:
    """``fps`` frames a second of the first ``scan_seconds`` of a video, as (seconds, BGR image).

    Frames fit in ``side``×``side`` (never enlarged; a rotated phone video comes upright). A str
    ``path`` is used as given (it may be /proc/self/fd/N for an inherited ``fds`` descriptor).
    ``ffmpeg`` and ``input_options`` (how it may open the input) come from the caller, who has
    validators.tools loaded: this process stays without ffmpeg-python.
    """

    def __init__(self, path: Path | str, scan_seconds: float, fps: float, side: int, timeout: float,
                 ffmpeg: str, input_options: tuple[str, ...], fds: tuple[int, ...] = ()):
        target = path if isinstance(path, str) else str(path.resolve())
        vf = (f"fps={fps},scale=w='min({side},iw)':h='min({side},ih)':force_original_aspect_ratio=decrease:"
              "force_divisible_by=2")
        # skip_frame noref: frames no other frame refers to are not decoded at all (a third of the work for
        # video with B-frames); the frame sampled for a second is then at most a frame or two off.
        # Two decoding threads, not one per core: each holds frames, and a PC with more cores is no reason
        # for more memory (the OCR uses one thread of its own).
        args = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", *input_options, "-skip_frame", "noref",
                "-threads", "2", "-t", f"{scan_seconds:.2f}", "-i", target,
                "-an", "-sn", "-dn", "-vf", vf, "-f", "image2pipe", "-vcodec", "ppm", "pipe:"]
        self.fps = fps
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, pass_fds=fds)
        self._killer = threading.Timer(timeout, self._proc.kill)   # a stuck decoder never holds the pipeline
        self._killer.start()
        self._queue: queue.Queue = queue.Queue(AHEAD)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, name="ocr-frames", daemon=True)
        self._thread.start()

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

        index = 0
        while (item := self._queue.get()) is not None:
            width, height, raw = item
            frame = cv2.cvtColor(np.frombuffer(raw, np.uint8).reshape(height, width, 3), cv2.COLOR_RGB2BGR)
            item = raw = None   # the models read BGR; the RGB bytes go now, not at the next frame
            yield index / self.fps, frame
            index += 1

    def close(self) -> None:
        self._closed.set()
        self._killer.cancel()
        self._proc.kill()
        self._proc.wait()
        self._proc.stdout.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Frames":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def whole_frame_indices(scan_seconds: float, fps: float, count: int) -> set[int]:
    """Which sampled frames are read whole: ``count`` of them, spread evenly over the window."""
    frames = max(1, int(scan_seconds * fps))
    count = min(count, frames)
    return {min(frames - 1, int((i + 0.5) * frames / count)) for i in range(count)}


def _signature(image):
    """The picture as 8×32 patches of mean grey."""
    import cv2
    import numpy as np

    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (32, 8), interpolation=cv2.INTER_AREA).astype(np.float32)


def _same(signature, last) -> bool:
    import numpy as np

    if last is None or signature.shape != last.shape:
        return False
    change = np.abs(signature - last)
    return float(change.mean()) < SAME_FRAME and float(change.max()) < SAME_PATCH


def may_hold_text(image) -> bool:
    """False when no pixel pair of the picture differs sharply enough for any readable character (flat or
    blurred footage): the detector, the costly part, is then skipped."""
    import numpy as np

    half = image[::2, ::2].astype(np.int16)   # every other pixel of every other row is plenty
    luma = (half[:, :, 0] + 2 * half[:, :, 1] + half[:, :, 2]) >> 2   # yellow on white still differs
    jumps = np.abs(np.diff(luma, axis=1)) >= EDGE_STEP
    return bool(jumps.mean() >= MIN_EDGES) if jumps.size else False


def scan(frames: Iterator[tuple[float, "object"]], reader, *, band: float, whole_at: set[int], max_errors: float,
         deadline: float) -> dict:
    """Read the frames; ``{"lines": [(seconds, text)], "hit": phrase match or None}``. Lines are every distinct
    line read (caption or elsewhere), in order of first sight."""
    lines: list[tuple[float, str]] = []
    seen: set[str] = set()
    captions: list[str] = []
    hit = None
    last_band = last_whole = None
    remaining_whole = max(whole_at, default=-1)
    for index, (seconds, frame) in enumerate(frames):
        if time.monotonic() > deadline or (hit and index > remaining_whole):
            break
        height, width = frame.shape[:2]
        top = height - max(2, int(height * band))
        whole = index in whole_at
        if hit and not whole:
            continue
        if whole and not _same(signature := _signature(frame), last_whole):
            last_whole = signature
            last_band = _signature(frame[top:])
            # in strips as high as the band: the whole frame costs no more memory than a band
            found = (reader.read(frame, min(1.0, BAND_DET_WIDTH / width), strip=height - top)
                     if may_hold_text(frame) else [])
            in_band = [line.text for line in found if (line.top + line.bottom) / 2 >= top]
            page = "\n".join(line.text for line in found)
        else:
            caption_band = frame[top:]
            signature = _signature(caption_band)
            if _same(signature, last_band) or not may_hold_text(caption_band):
                last_band = signature
                continue
            last_band = signature
            found = reader.read(caption_band, min(1.0, BAND_DET_WIDTH / width))
            in_band, page = [line.text for line in found], ""
        for line in found:
            if line.text not in seen:
                seen.add(line.text)
                lines.append((seconds, line.text))
        captions += [text for text in in_band if not captions or text != captions[-1]]
        if hit:
            continue
        match = find_phrase("\n".join(captions[-PHRASE_LINES:]), max_errors) or (page and find_phrase(page, max_errors))
        if match:
            hit = {"speaker": match.speaker, "topic": match.topic, "errors": match.errors,
                   "matched": match.matched, "seconds": seconds}
    return {"lines": lines, "hit": hit}
