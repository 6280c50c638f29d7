"""Subtitle text: an embedded mov_text track (via ffmpeg), or a sidecar .srt/.ass/.vtt/.txt."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ffmpeg as ffmpeg_python
import pysubs2

from validators.texts import TextSource, decode_text
from validators.tools import SAFE_INPUT, ffmpeg_exe

SUBTITLE_SUFFIXES = (".srt", ".ass", ".ssa", ".vtt")
MAX_SIDECAR_BYTES = 1024 * 1024


def cues(text: str, kind: str, name: str | None, scan_seconds: float) -> list[TextSource]:
    """The cues of a subtitle file that start within the first ``scan_seconds``."""
    try:
        subs = pysubs2.SSAFile.from_string(text)
    except Exception:  # pysubs2 raises several types for malformed input; treat it as plain text
        return [TextSource(kind, text[:2000], name)]
    return [TextSource(kind, line.plaintext, name, line.start / 1000) for line in subs
            if line.start / 1000 <= scan_seconds and line.plaintext.strip()]


def sidecar_sources(transcripts: list[tuple[str, bytes]], scan_seconds: float) -> list[TextSource]:
    """Subtitle files give timed cues; a .txt transcript gives its beginning."""
    out: list[TextSource] = []
    for name, raw in transcripts:
        text = decode_text(raw[:MAX_SIDECAR_BYTES])
        if Path(name).suffix.lower() in SUBTITLE_SUFFIXES:
            out += cues(text, "sidecar", name, scan_seconds)
        else:
            out.append(TextSource("sidecar", text[:2000], name))
    return out


def embedded_subtitles(path: Path, scan_seconds: float, timeout: float) -> list[TextSource]:
    """The first subtitle track of a local MP4, converted to SRT by ffmpeg."""
    args = (ffmpeg_python.input(str(path.resolve()), **SAFE_INPUT)
            .output("pipe:", f="srt", map="0:s:0", t=f"{scan_seconds + 5:.1f}")
            .global_args("-nostdin", "-hide_banner", "-v", "error").compile(cmd=ffmpeg_exe()))
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return []
    if proc.returncode != 0 or not proc.stdout:
        return []
    return cues(proc.stdout.decode("utf-8", "replace"), "subtitle", None, scan_seconds)
