"""Optional speech recognition with Vosk: the soundtrack (or its first seconds) as timed text. Runs only when configured."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import ffmpeg as ffmpeg_python

from core.errors import ToolError
from validators import children
from validators.opened import OpenedFile, media_input
from validators.tools import SAFE_INPUT, ffmpeg_exe

RATE = 16000


@functools.cache
def load_model(folder: str):
    try:
        import vosk
    except ImportError as exc:
        raise ToolError("未安装 Vosk，无法进行语音识别。", "请安装 vosk（pip install vosk），或把 rules.opening.speech_model 设为 null。") from exc
    if not Path(folder).is_dir():
        raise ToolError(f"找不到语音识别模型目录 {folder}。", "请检查 rules.opening.speech_model。")
    vosk.SetLogLevel(-1)
    return vosk.Model(folder)


def transcribe(source: Path | OpenedFile, model_folder: Path, seconds: float | None, timeout: float,
               input_options: dict[str, str] = SAFE_INPUT) -> list[tuple[float, str]]:
    """What is said in the first ``seconds`` of the soundtrack (None: all of it), as (start second, words) per
    utterance. An audio track that does not decode, or takes longer than ``timeout``, gives what was heard."""
    from vosk import KaldiRecognizer

    model = load_model(str(model_folder))
    target, fds = media_input(source)
    limit = {"t": f"{seconds:.2f}"} if seconds else {}
    args = (ffmpeg_python.input(target, **limit, **input_options)
            .output("pipe:", f="s16le", ac=1, ar=RATE, vn=None)
            .global_args("-nostdin", "-hide_banner", "-v", "error").compile(cmd=ffmpeg_exe()))
    try:
        audio = children.run(args, timeout=timeout, pass_fds=fds).stdout
    except subprocess.TimeoutExpired:
        return []
    recognizer = KaldiRecognizer(model, RATE)
    recognizer.SetWords(True)
    said: list[tuple[float, str]] = []
    offset = 0.0

    def heard(result: str) -> None:
        data = json.loads(result)
        words = data.get("result") or []
        if data.get("text"):
            said.append((float(words[0]["start"]) if words else offset, data["text"]))

    for start in range(0, len(audio), 8000):
        offset = start / 2 / RATE
        if recognizer.AcceptWaveform(audio[start:start + 8000]):
            heard(recognizer.Result())
    heard(recognizer.FinalResult())
    return said
