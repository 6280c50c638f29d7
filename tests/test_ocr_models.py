"""The OCR models are where validators/ocr_models.py looks for them: the rapidocr-onnxruntime wheel's own files.
A release that moves or renames them fails here, not on a bureau's first video."""

from __future__ import annotations

import onnxruntime as ort

from validators.ocr_models import MODEL_FILES, TextReader, model_dir


def test_the_wheel_ships_the_models_under_the_names_we_load():
    folder = model_dir()
    for name in MODEL_FILES.values():
        assert (folder / name).is_file(), folder / name
    rec = ort.InferenceSession(str(folder / MODEL_FILES["rec"]), providers=["CPUExecutionProvider"])
    assert "character" in rec.get_modelmeta().custom_metadata_map   # the recogniser carries its alphabet


def test_the_models_load_and_read_nothing_in_a_blank_picture():
    import numpy as np

    lines, known, fresh = TextReader().read(np.full((360, 640, 3), 255, np.uint8))
    assert (lines, known, fresh) == ([], [], 0)


READ_AND_RELEASE = """
import cv2, numpy as np
from validators.ocr_child import lean_malloc
from validators.ocr_models import TextReader
from validators.socket_messages import memory_mb

lean_malloc()   # as the OCR child runs
reader = TextReader()
frame = np.full((540, 960, 3), 40, np.uint8)
for row in range(6):
    cv2.putText(frame, "SECRET LINE %d OF THE CAPTION" % row, (30, 80 + row * 80), cv2.FONT_HERSHEY_SIMPLEX, 1.5,
                (255, 255, 255), 3)
for _ in range(3):
    lines = [line.text for line in reader.read(frame, 640 / 960)[0]]
held = memory_mb("VmRSS")
reader.release()
released = memory_mb("VmRSS")
print(held, released, any("CAPTION" in text.upper() for text in lines),
      [line.text for line in reader.read(frame, 640 / 960)[0]] == lines)
"""


def test_the_reader_hands_its_buffers_back_between_videos():
    """Both models draw on one arena, reused frame after frame (without one, the scan was 2.7 times slower);
    ``release`` shrinks it, so that a worker waiting for the next video does not hold the last one's buffers.
    In a process of its own, set up as the OCR child is (this one's allocator has seen every other test)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    out = subprocess.run([sys.executable, "-c", READ_AND_RELEASE], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    held, released, read, same = out.stdout.split()
    assert (read, same) == ("True", "True")
    assert float(released) < float(held) - 8, out.stdout
