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


def test_the_reader_hands_its_buffers_back_between_videos():
    """Both models draw on one arena, reused frame after frame (without one, the scan was 2.7 times slower);
    ``release`` shrinks it, so that a worker waiting for the next video does not hold the last one's buffers."""
    import cv2
    import numpy as np

    from validators.socket_messages import memory_mb

    reader = TextReader()
    frame = np.full((540, 960, 3), 40, np.uint8)
    for row in range(6):
        cv2.putText(frame, "SECRET LINE %d OF THE CAPTION" % row, (30, 80 + row * 80), cv2.FONT_HERSHEY_SIMPLEX,
                    1.5, (255, 255, 255), 3)
    for _ in range(3):
        lines, _, _ = reader.read(frame, 640 / 960)
    assert any("CAPTION" in line.text.upper() for line in lines)
    held = memory_mb("VmRSS")
    reader.release()
    assert memory_mb("VmRSS") < held - 8, (held, memory_mb("VmRSS"))
    assert [line.text for line in reader.read(frame, 640 / 960)[0]] == [line.text for line in lines]
