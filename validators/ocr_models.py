"""The PP-OCR text models the rapidocr-onnxruntime wheel ships (pinned to its 1.3 and 1.4 layout), run lean on
onnxruntime: a detector and a recogniser, nothing else loaded.

RapidOCR's own pipeline is not used, for two reasons measured on the job: it reads every line of every frame
anew, where the scan recognises only lines it has not read in the frame before; and configured as small as it
goes it peaked at 292 MB on its own, where the scan's whole process tree has 300 MB (this code: about 160 MB).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort


MODEL_DIR_ENV = "INTAKE_OCR_MODEL_DIR"   # a folder with other PP-OCR models (same file names) than the wheel's
MODEL_FILES = {"det": "ch_PP-OCRv4_det_infer.onnx", "rec": "ch_PP-OCRv4_rec_infer.onnx"}
DET_THRESH = 0.3        # probability above which a pixel is text
BOX_THRESH = 0.5        # mean probability a box needs
UNCLIP_RATIO = 1.6      # how far a box is grown around its text core (as PP-OCR does)
MIN_SIDE = 3
MAX_BOXES = 200
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
MAX_LINE_RATIO = 40     # a line wider than 40× its height is squeezed to that (a caption never is)
MIN_SCORE = 0.5
LOOK_HEIGHT = 12    # a line is compared with earlier ones at this height
SAME_SHAPE = 0.03   # two readings of one line differ in width by at most this share (their boxes are found anew)
SAME_GLYPH = 0.6    # the largest mean difference (in standard deviations) of a glyph-sized cell of a line as it was


@dataclass(frozen=True)
class Known:
    """A line read in the last frame: where it was, how it looked, and what it said."""

    box: np.ndarray
    look: np.ndarray
    text: str
    score: float


@dataclass(frozen=True)
class Line:
    text: str
    score: float
    top: float    # the box in source pixels, for reading order and position
    left: float
    bottom: float
    right: float


def model_dir() -> Path:
    """The folder ``$INTAKE_OCR_MODEL_DIR`` names, else the rapidocr-onnxruntime wheel's models (found, not imported)."""
    folder = os.environ.get(MODEL_DIR_ENV)
    if folder:
        models = Path(folder)
        for name in MODEL_FILES.values():
            if not (models / name).is_file():
                raise FileNotFoundError(f"{MODEL_DIR_ENV} 指定的文件夹中没有模型文件 {models / name}")
        return models
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("没有安装 rapidocr-onnxruntime（它带有文字识别模型）")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@functools.cache
def _shared_arena() -> None:
    """One memory arena for both models, registered once per process: its buffers are reused frame after frame.
    Without an arena every tensor was a fresh mapping of a few megabytes (lean_malloc in ocr_child hands those
    back at once), and the page faults made the scan 2.7 times slower (13.6 s against 5.0 s on a 30 s 1080p
    file) for 6 MB less at its peak; an arena per model held 20 MB more than the shared one."""
    cpu = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    ort.create_and_register_allocator(cpu, ort.OrtArenaCfg(0, -1, -1, -1))   # onnxruntime's defaults


def _session(path: Path) -> ort.InferenceSession:
    _shared_arena()
    options = ort.SessionOptions()
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.enable_mem_pattern = False   # its plans per input shape cost some 10 MB at the peak, and no time here
    options.intra_op_num_threads = 1   # 2 threads read no faster on 2 cores (measured), and spin under load
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class TextReader:
    """Finds text lines in an image and reads them."""

    def __init__(self):
        models = model_dir()
        self.det = _session(models / MODEL_FILES["det"])
        self.rec = _session(models / MODEL_FILES["rec"])
        meta = self.rec.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ValueError(f"识别模型 {models / MODEL_FILES['rec']} 中没有字符表")
        self.characters = ["", *meta["character"].splitlines(), " "]   # CTC blank first, space last

    def release(self) -> None:
        """Hand the shared arena's free buffers back (a tiny detection that shrinks it afterwards): a worker
        waiting for the next video holds 114 MB, not 146, while that video's other checks run."""
        shrink = ort.RunOptions()
        shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.det.run(None, {self.det.get_inputs()[0].name: np.zeros((1, 3, 32, 32), np.float32)}, shrink)

    def read(self, image: np.ndarray, det_scale: float = 1.0,
             known: list[Known] = ()) -> tuple[list[Line], list[Known], int]:
        """Lines in ``image`` (BGR) in reading order, what was read (the next frame's ``known``), and how many were
        recognised afresh; a line that looks the same as one in ``known`` takes that reading."""
        lines, seen, fresh = [], [], 0
        for box in self.detect(image, det_scale):
            crop = _crop(image, box)
            look = _look(crop)
            earlier = next((k for k in known if _same_line(k, box, look)), None)
            if earlier is None:
                text, score = self.recognise(crop)
                fresh += 1
            else:
                text, score = earlier.text, earlier.score
            seen.append(Known(box, look, text, score))
            if text.strip() and score >= MIN_SCORE:
                lines.append(Line(text, score, float(box[:, 1].min()), float(box[:, 0].min()),
                                  float(box[:, 1].max()), float(box[:, 0].max())))
        lines.sort(key=lambda line: (round(line.top / 20), line.left))
        return lines, seen, fresh

    def detect(self, image: np.ndarray, scale: float = 1.0) -> list[np.ndarray]:
        """Quadrilaterals (4×2, source pixels, clockwise from top left) around text."""
        h, w = image.shape[:2]
        dh, dw = max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32)
        small = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_AREA)
        x = (small.astype(np.float32) * (2 / 255.0) - 1.0).transpose(2, 0, 1)[np.newaxis]
        prob = self.det.run(None, {self.det.get_inputs()[0].name: x})[0][0, 0]
        mask = cv2.dilate((prob > DET_THRESH).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        for contour in contours[:MAX_BOXES]:
            rect = cv2.minAreaRect(contour)
            if min(rect[1]) < MIN_SIDE or _box_score(prob, cv2.boxPoints(rect)) < BOX_THRESH:
                continue
            (cx, cy), (rw, rh), angle = rect
            grow = rw * rh * UNCLIP_RATIO / (2 * (rw + rh))   # PP-OCR's unclip of a rectangle, in closed form
            rect = ((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)
            if min(rect[1]) < MIN_SIDE + 2:
                continue
            points = cv2.boxPoints(rect) * np.array([w / dw, h / dh], np.float32)
            points[:, 0] = points[:, 0].clip(0, w - 1)
            points[:, 1] = points[:, 1].clip(0, h - 1)
            boxes.append(_clockwise(points))
        return boxes

    def recognise(self, crop: np.ndarray) -> tuple[str, float]:
        """The text of one line image and its mean character confidence."""
        h, w = crop.shape[:2]
        width = max(1, min(math.ceil(REC_HEIGHT * w / max(h, 1)), REC_HEIGHT * MAX_LINE_RATIO))
        line = cv2.resize(crop, (width, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
        # a short line is padded (not stretched) to the model's 320-pixel input, as PP-OCR feeds it
        x = np.zeros((1, 3, REC_HEIGHT, max(width, REC_MIN_WIDTH)), np.float32)
        x[0, :, :, :width] = (line.astype(np.float32) * (2 / 255.0) - 1.0).transpose(2, 0, 1)
        preds = self.rec.run(None, {self.rec.get_inputs()[0].name: x})[0][0]
        best, prob = preds.argmax(axis=1), preds.max(axis=1)
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        chars = [self.characters[i] for i in best[keep] if i < len(self.characters)]
        return "".join(chars), float(prob[keep].mean()) if keep.any() else 0.0


def _box_score(prob: np.ndarray, points: np.ndarray) -> float:
    h, w = prob.shape
    x0, x1 = (np.clip([math.floor(points[:, 0].min()), math.ceil(points[:, 0].max())], 0, w - 1)).astype(int)
    y0, y1 = (np.clip([math.floor(points[:, 1].min()), math.ceil(points[:, 1].max())], 0, h - 1)).astype(int)
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [(points - [x0, y0]).astype(np.int32)], 1)
    return cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0]


def _clockwise(points: np.ndarray) -> np.ndarray:
    by_x = points[np.argsort(points[:, 0])]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1])]
    tr, br = right[np.argsort(right[:, 1])]
    return np.array([tl, tr, br, bl], np.float32)


def _look(crop: np.ndarray) -> np.ndarray:
    """A line image as grey, LOOK_HEIGHT high (about a glyph a LOOK_HEIGHT-wide cell), its contrast normalised, to
    tell whether it is the same line as one read before."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h, w = grey.shape[:2]
    width = max(LOOK_HEIGHT, min(round(LOOK_HEIGHT * w / max(h, 1)), LOOK_HEIGHT * MAX_LINE_RATIO))
    look = cv2.resize(grey, (width, LOOK_HEIGHT), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (look - look.mean()) / (look.std() + 8.0)


def _same_line(known: Known, box: np.ndarray, look: np.ndarray) -> bool:
    """Whether a line shows what ``known`` showed (a caption over moving footage, a page held still): at about
    the same place and of about the same shape, and no glyph-sized cell of it different (one changed character
    in a long line must not pass for the old line)."""
    if np.abs(known.box - box).max() > max(4.0, float(np.ptp(box[:, 1]))) / 2:
        return False
    width, other = look.shape[1], known.look.shape[1]
    if abs(width - other) > max(1, SAME_SHAPE * width):
        return False
    earlier = known.look if width == other else cv2.resize(known.look, (width, LOOK_HEIGHT), interpolation=cv2.INTER_AREA)
    cells = cv2.resize(np.abs(earlier - look), (max(1, width // LOOK_HEIGHT), 1), interpolation=cv2.INTER_AREA)
    return float(cells.max()) < SAME_GLYPH


def _crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box straightened out of ``image`` (a line written top to bottom is turned to read left to right)."""
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    crop = cv2.warpPerspective(image, cv2.getPerspectiveTransform(box, target), (width, height),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    if height / width >= 1.5:
        crop = np.rot90(crop)
    return crop
