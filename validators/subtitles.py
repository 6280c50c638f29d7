"""Subtitle text: an embedded mov_text track (via ffmpeg), or a sidecar .srt/.ass/.vtt/.txt.

Bounded whatever the sender wrote: a 1 MB subtitle costs a parse and a few milliseconds of search, not seconds.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


from validators import children
from validators.opened import OpenedFile, media_input
from validators.texts import TextSource, decode_text
from validators.tools import SAFE_INPUT, ffmpeg_exe

SUBTITLE_SUFFIXES = (".srt", ".ass", ".ssa", ".vtt")
MAX_SIDECAR_BYTES = 1024 * 1024
# A caption shown in the first seconds holds a sentence or two; a longer "cue" is not a caption.
MAX_CUE_CHARS = 200
# All the text one subtitle file may give the phrase search (15 s of speech is under 100 characters).
MAX_WINDOW_CHARS = 2000
# All the text kept of one subtitle file (two minutes of speech is about 600 characters).
MAX_TEXT_CHARS = 200_000
# A plain transcript has no times: its opening lines are the opening.
MAX_PLAIN_CHARS = 500


# An SRT/VTT timing line, and an ASS Dialogue line (start time, then the text after nine commas).
_SRT_TIMING = re.compile(r"^[ \t]*(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})[ \t]*-->.*$", re.MULTILINE)
_ASS_DIALOGUE = re.compile(r"^Dialogue:[^,\n]*,(\d+):(\d{2}):(\d{2})[.,](\d{1,3}),(?:[^,\n]*,){7}(.*)$",
                           re.MULTILINE)
_TAGS = re.compile(r"<[^>\n]*>|\{[^}\n]*\}")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


def _seconds(hours: str | None, minutes: str, secs: str, fraction: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(fraction) / 10 ** len(fraction)


def _scan(text: str) -> list[tuple[float, str]]:
    """(start, text) of every cue, found by one regular-expression pass (linear in the file)."""
    text = text.replace("\r\n", "\n")
    out = []
    for m in _ASS_DIALOGUE.finditer(text):
        words = _TAGS.sub("", m.group(5)).replace("\\N", "\n").replace("\\n", "\n")
        out.append((_seconds(m.group(1), m.group(2), m.group(3), m.group(4)), words))
    if out:
        return out
    for m in _SRT_TIMING.finditer(text):
        blank = _BLANK_LINE.search(text, m.end())
        words = text[m.end():blank.start() if blank else len(text)].strip("\n")
        out.append((_seconds(m.group(1), m.group(2), m.group(3), m.group(4)), _TAGS.sub("", words)))
    return out


def _parsed(text: str) -> list[tuple[float, str]] | None:
    """pysubs2's reading, for shapes the scan does not know; None if it cannot read the text either."""
    import pysubs2   # here, not at the top: most files come without subtitles, and every check imports this module

    try:
        return [(line.start / 1000, line.plaintext) for line in pysubs2.SSAFile.from_string(text)]
    except Exception:  # pysubs2 raises several types for malformed input
        return None


def cues(text: str, kind: str, name: str | None, until: float | None = None) -> list[TextSource]:
    """The cues of a subtitle file, earliest first (within ``until`` seconds, if given), repeats once, capped."""
    found = _scan(text) or _parsed(text)
    if found is None:
        return [TextSource(kind, text[:MAX_TEXT_CHARS], name)]   # not a subtitle file after all: plain text
    timed = sorted((seconds, words) for seconds, words in found
                   if 0 <= seconds and (until is None or seconds <= until) and words.strip())
    out: list[TextSource] = []
    budget = MAX_TEXT_CHARS
    for seconds, words in timed:
        if out and words[:MAX_CUE_CHARS] == out[-1].text:
            continue   # a repeated cue adds nothing but cost
        words = words[:min(MAX_CUE_CHARS, budget)]
        out.append(TextSource(kind, words, name, seconds))
        budget -= len(words)
        if budget <= 0:
            break
    return out


def in_window(sources: list[TextSource], seconds: float) -> list[TextSource]:
    """What the phrase search reads of timed and plain texts: the cues starting within ``seconds``, and a
    plain transcript's beginning (it has no times: its opening lines are the opening), capped."""
    out: list[TextSource] = []
    budget = MAX_WINDOW_CHARS
    for source in sources:
        if source.seconds is not None and source.seconds > seconds:
            continue
        text = source.text[:MAX_PLAIN_CHARS if source.seconds is None else min(MAX_CUE_CHARS, budget)]
        out.append(TextSource(source.kind, text, source.name, source.seconds))
        budget -= len(text)
        if budget <= 0:
            break
    return out


def sidecar_sources(transcripts: list[tuple[str, bytes]]) -> list[TextSource]:
    """Subtitle files give timed cues; a .txt transcript gives its text."""
    out: list[TextSource] = []
    for name, raw in transcripts:
        text = decode_text(raw[:MAX_SIDECAR_BYTES])
        if Path(name).suffix.lower() in SUBTITLE_SUFFIXES:
            out += cues(text, "sidecar", name)
        else:
            out.append(TextSource("sidecar", text[:MAX_TEXT_CHARS], name))
    return out


def embedded_subtitles(source: Path | OpenedFile, timeout: float, input_options: dict[str, str] = SAFE_INPUT
                       ) -> list[TextSource]:
    """The first subtitle track of a local file, converted to SRT by ffmpeg: all of it."""
    import ffmpeg as ffmpeg_python   # ffmpeg-python (and the ``future`` package it loads): only for a subtitle track

    target, fds = media_input(source)
    args = (ffmpeg_python.input(target, **input_options)
            .output("pipe:", f="srt", map="0:s:0")
            .global_args("-nostdin", "-hide_banner", "-v", "error").compile(cmd=ffmpeg_exe()))
    try:
        proc = children.run(args, timeout=timeout, pass_fds=fds)
    except subprocess.TimeoutExpired:
        return []
    if proc.returncode != 0 or not proc.stdout:
        return []
    return cues(proc.stdout[:MAX_SIDECAR_BYTES].decode("utf-8", "replace"), "subtitle", None)
