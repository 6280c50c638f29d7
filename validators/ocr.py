"""Read burnt-in captions: sample frames from the opening seconds, crop to the caption band, OCR them.

The RapidOCR engine (its wheel ships the Chinese PP-OCR models; nothing is
downloaded) is loaded once per process. Frames nearly the same as the last
one read are skipped, and the caller stops the scan as soon as it has what it
looks for.
"""

from __future__ import annotations

import functools
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import ffmpeg as ffmpeg_python

from validators.tools import SAFE_INPUT, ffmpeg_exe

SAME_FRAME = 3.0   # mean absolute difference (0–255) of small grey copies below which a frame repeats
MODEL_DIR_ENV = "INTAKE_OCR_MODEL_DIR"   # a folder with other PP-OCR models (same file names) than the wheel's
MODEL_FILES = {"det": "ch_PP-OCRv4_det_infer.onnx", "cls": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
               "rec": "ch_PP-OCRv4_rec_infer.onnx"}


@functools.cache
def engine():
    """The OCR engine with the models its wheel ships, or those in the folder ``$INTAKE_OCR_MODEL_DIR`` names."""
    from rapidocr_onnxruntime import RapidOCR

    folder = os.environ.get(MODEL_DIR_ENV)
    if not folder:
        return RapidOCR()
    models = Path(folder)
    for name in MODEL_FILES.values():
        if not (models / name).is_file():
            raise FileNotFoundError(f"{MODEL_DIR_ENV} 指定的文件夹中没有模型文件 {models / name}")
    return RapidOCR(**{f"{kind}_model_path": str(models / name) for kind, name in MODEL_FILES.items()})


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def caption_frames(path: Path | str, width: int, height: int, scan_seconds: float, fps: float, band: float,
                   out_width: int, timeout: float, fds: tuple[int, ...] = ()) -> Iterator[tuple[float, "object"]]:
    """(seconds, BGR image) of the caption band, ``fps`` frames a second, for the first ``scan_seconds``.

    A str ``path`` is used as given (it may be /proc/self/fd/N for an inherited ``fds`` descriptor).
    """
    import numpy as np

    band_height = _even(height * band)
    out_height = _even(band_height * out_width / width)
    vf = f"fps={fps},crop={_even(width)}:{band_height}:0:{_even(height - band_height)},scale={out_width}:{out_height}"
    target = path if isinstance(path, str) else str(path.resolve())
    args = (ffmpeg_python.input(target, t=f"{scan_seconds:.2f}", **SAFE_INPUT)
            .output("pipe:", f="rawvideo", pix_fmt="bgr24", vf=vf, an=None)
            .global_args("-nostdin", "-hide_banner", "-v", "error").compile(cmd=ffmpeg_exe()))
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            pass_fds=fds)
    killer = threading.Timer(timeout, proc.kill)   # a stuck decoder never holds the pipeline
    killer.start()
    frame_bytes = out_width * out_height * 3
    index = 0
    try:
        while True:
            raw = proc.stdout.read(frame_bytes)
            if len(raw) < frame_bytes:
                return
            yield index / fps, np.frombuffer(raw, np.uint8).reshape(out_height, out_width, 3)
            index += 1
    finally:
        killer.cancel()
        proc.kill()
        proc.wait()


def _signature(image):
    grey = image.mean(axis=2)
    h, w = grey.shape
    return grey[: h - h % 8, : w - w % 32].reshape(8, (h - h % 8) // 8, 32, (w - w % 32) // 32).mean(axis=(1, 3))


def read_lines(image) -> list[str]:
    """Text lines in reading order (top to bottom, then left to right)."""
    result, _ = engine()(image, use_cls=False)
    if not result:
        return []
    boxes = sorted(result, key=lambda r: (round(r[0][0][1] / 20), r[0][0][0]))
    return [text for _, text, score in boxes if float(score) >= 0.5]


def ocr_captions(frames: Iterator[tuple[float, "object"]], deadline: float) -> Iterator[tuple[float, list[str]]]:
    """OCR each new-looking frame; yields (seconds, lines) for frames that carry text."""
    import numpy as np

    last = None
    for seconds, image in frames:
        if time.monotonic() > deadline:
            return
        signature = _signature(image)
        if last is not None and float(np.abs(signature - last).mean()) < SAME_FRAME:
            continue
        last = signature
        lines = read_lines(image)
        if lines:
            yield seconds, lines
