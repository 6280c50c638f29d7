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
