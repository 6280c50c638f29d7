"""Read the text on screen in sampled frames of a video: every line, anywhere in the picture, with its time.

The cheap things come first: a frame that looks the same as the last one reuses its result, one without a
sharp edge is not read, and a line that looks the same as one in the last frame reuses that reading.
"""

from __future__ import annotations

import functools
import time
from typing import Iterator

from validators.phrase import find_phrase

SAME_FRAME = 3.0        # mean absolute difference (0–255) of small grey copies below which a picture repeats…
SAME_PATCH = 20.0       # …if no patch of it changed more than this (a new caption of the same length as the last)
DET_SIDE = 640          # the detector sees a frame with its long side this long: 24 px glyphs on 1080p stay 8 px
EDGE_STEP = 40          # a jump in grey level this big between neighbours is a sharp edge
MIN_EDGES = 0.002       # a picture with fewer sharp-edge pixels than this holds no readable text
PHRASE_LINES = 6        # a phrase may run over the last few caption lines
TOPIC_WAIT = 3          # caption changes to wait for the topic of a phrase found without one
MAX_LINES = 20_000      # lines kept of one video (two minutes of text on screen are a few thousand): the answer stays
                        # small; a video with more is still read to its end, and says how many were not kept


@functools.cache
def engine():
    """The text reader (models loaded once per process); see validators.ocr_models for where they come from."""
    from validators.ocr_models import TextReader

    return TextReader()


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


class OpeningSearch:
    """The opening phrase in the caption band of the frames within the window, captions joined over frames."""

    def __init__(self, window: float, band: float, max_errors: float):
        self.window, self.band, self.max_errors = window, band, max_errors
        self.captions: list[str] = []
        self.hit: dict | None = None
        self._waiting = 0   # caption changes still to wait for a missing topic

    @property
    def done(self) -> bool:
        return self.hit is not None and not self._waiting

    def see(self, seconds: float, height: int, lines) -> None:
        if seconds >= self.window or self.done:
            return
        top = height - max(2, int(height * self.band))
        in_band = [line.text for line in lines if (line.top + line.bottom) / 2 >= top]
        new = []
        for text in in_band:
            if not (self.captions or new) or text != (new or self.captions)[-1]:
                new.append(text)
        self.captions += new
        if self.hit is not None:   # found without its topic: only new captions can complete it
            if not new:
                return
            self._waiting -= 1
        joined = "\n".join(self.captions[-PHRASE_LINES:])
        page = "\n".join(line.text for line in lines)
        match = find_phrase(joined, self.max_errors) or (page and find_phrase(page, self.max_errors))
        if match and (self.hit is None or match.topic):
            first = self.hit["seconds"] if self.hit else seconds
            self.hit = {"speaker": match.speaker, "topic": match.topic, "errors": match.errors,
                        "matched": match.matched, "seconds": first}
            self._waiting = 0 if match.topic else TOPIC_WAIT
        self._waiting = max(self._waiting, 0)


def scan(frames: Iterator[tuple[float, "object"]], reader, *, opening: OpeningSearch | None,
         deadline: float, stop_at_phrase: bool = False) -> dict:
    """Read the frames: ``lines`` ([seconds, text, box as fractions of the frame], each when it appears),
    ``frames`` looked at, lines ``recognised`` afresh, ``last_seconds``, ``timed_out``, ``lines_dropped`` past
    MAX_LINES, and the opening phrase's ``hit``. ``stop_at_phrase``: end once the phrase is found."""
    lines: list[list] = []
    shown: set[str] = set()
    last_signature = None
    found: list = []
    known: list = []
    count = recognised = dropped = 0
    last_seconds = None
    timed_out = False
    for seconds, frame in frames:
        if time.monotonic() > deadline:
            timed_out = True
            break
        count += 1
        last_seconds = seconds
        height, width = frame.shape[:2]
        signature = _signature(frame)
        if not _same(signature, last_signature):
            last_signature = signature
            if may_hold_text(frame):
                found, known, fresh = reader.read(frame, min(1.0, DET_SIDE / max(height, width)), known)
                recognised += fresh
            else:
                found, known = [], []
        now = {line.text for line in found}
        for line in found:
            if line.text in shown:
                continue
            if len(lines) >= MAX_LINES:
                dropped += 1
            else:
                box = (line.left / width, line.top / height, line.right / width, line.bottom / height)
                lines.append([round(seconds, 2), line.text, [round(edge, 4) for edge in box]])
        shown = now
        if opening is not None:
            opening.see(seconds, height, found)
            if stop_at_phrase and (opening.done or seconds >= opening.window):
                break
    return {"lines": lines, "frames": count, "recognised": recognised, "lines_dropped": dropped,
            "last_seconds": last_seconds,
            "timed_out": timed_out, "hit": opening.hit if opening is not None else None}
