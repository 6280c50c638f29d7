"""Lossless remux: the streams of a near-miss container (QuickTime, Matroska/WebM, FLV, AVI) copied into an MP4.

Only the box around the streams changes (``-c copy``), so the picture and sound are those that were sent.
The sniffed kind, never the extension, names the one demuxer ffmpeg may use; the input is a local file
read through its descriptor (``protocol_whitelist file``) and only that demuxer is whitelisted, so a file
cannot make ffmpeg open anything else (a playlist, a reference to another file).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.errors import FailedOnFile, ToolError
from validators import children
from validators.opened import OpenedFile, media_input
from validators.mediainfo_pool import MediaFacts
from validators.tools import MAX_ERROR_TEXT, ffmpeg_exe

# Sniffed kind -> (the demuxer ffmpeg must use, its whitelist name).
DEMUXERS = {
    "quicktime": ("mov", "mov,mp4,m4a,3gp,3g2,mj2"),
    "mkv": ("matroska", "matroska,webm"),
    "webm": ("matroska", "matroska,webm"),
    "flv": ("flv", "flv"),
    "avi": ("avi", "avi"),
}
REMUX_KINDS = frozenset(DEMUXERS)
# What an MP4 carries as it is (ffmpeg's codec names): only these are copied, never re-encoded.
LOSSLESS_VIDEO = frozenset({"h264", "hevc", "mpeg4"})
LOSSLESS_AUDIO = frozenset({"aac", "mp3"})
# MediaInfo's names for them, in ffmpeg's words (see ``streams_from_facts``).
MEDIAINFO_NAMES = {"AVC": "h264", "HEVC": "hevc", "MPEG-4 Visual": "mpeg4", "AAC": "aac", "MPEG Audio": "mp3"}
MEDIAINFO_VIDEO = frozenset({"AVC", "HEVC", "MPEG-4 Visual"})
MEDIAINFO_AUDIO = frozenset({"AAC", "MPEG Audio"})
# "  Stream #0:1[0x2](und): Audio: aac (LC) ...": ffmpeg's own line per stream (a metadata value that holds a
# line break is printed on an indented continuation starting with ":", so it cannot forge one of these).
STREAM_LINE = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio): ([0-9A-Za-z_]+)", re.MULTILINE)
# "  Duration: 00:01:50.02, start: ...": the input's length as its demuxer reads it (N/A when it cannot tell).
DURATION_LINE = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?),", re.MULTILINE)
# Room kept at the front for the MP4's index (moov), per second of media: a sample costs at most about 24
# bytes there (size, time, composition offset, chunk offset), and 120 video frames plus 47 AAC frames a
# second is more than any camera a county office owns. Writing the index into room kept for it saves the
# second pass over the whole file that +faststart makes to move it to the front.
MOOV_BYTES_PER_SECOND = 24 * (120 + 47)
MOOV_MIN_BYTES = 64 * 1024
MOOV_MAX_BYTES = 16 * 1024 * 1024


class RemuxFailed(FailedOnFile):
    """ffmpeg could not read the file or write the MP4 (a property of the file, not of the tool)."""


@dataclass(frozen=True)
class Streams:
    """The codecs (ffmpeg's names) of a file's first video and first audio stream; None where there is none."""

    video: str | None
    audio: str | None
    duration: float | None = None   # seconds, as the source's demuxer or MediaInfo reads it

    @property
    def lossless(self) -> bool:
        """Whether copying them into an MP4 keeps them as they are (and players read them there)."""
        return self.video in LOSSLESS_VIDEO and (self.audio is None or self.audio in LOSSLESS_AUDIO)


def input_options(kind: str) -> list[str]:
    """ffmpeg's input options for a file of sniffed ``kind``: its own demuxer only, local files only."""
    demuxer, whitelist = DEMUXERS[kind]
    options = ["-protocol_whitelist", "file", "-format_whitelist", whitelist, "-f", demuxer]
    if demuxer == "mov":
        options = ["-enable_drefs", "0", *options]   # never follow a data reference to another file
    if demuxer == "avi":
        options = ["-fflags", "+genpts", *options]   # AVI often stores no timestamps; MP4 needs them
    return options


def probe_streams(source: OpenedFile, kind: str, timeout: float) -> Streams:
    """What ffmpeg's ``kind`` demuxer finds in ``source``: the codecs of its first video and audio streams.

    Reads only the header. Raises RemuxFailed when the demuxer cannot read it.
    """
    target, fds = media_input(source)
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "info", *input_options(kind), "-i", target]
    text = _run(args, timeout, fds).stderr.decode("utf-8", "replace")
    if "Input #0" not in text:
        raise RemuxFailed(_first_error(text) or "unreadable")
    found: dict[str, str] = {}
    for media, codec in STREAM_LINE.findall(text):
        found.setdefault(media, codec.lower())
    length = DURATION_LINE.search(text)
    duration = int(length[1]) * 3600 + int(length[2]) * 60 + float(length[3]) if length else None
    return Streams(found.get("Video"), found.get("Audio"), duration)


def streams_from_facts(facts: MediaFacts | None) -> Streams | None:
    """The streams as MediaInfo already read them (a QuickTime file: the box walk let it); None if it did not."""
    if facts is None:
        return None

    def named(tracks: list) -> str | None:
        fmt = tracks[0].get("format") if tracks else None
        return MEDIAINFO_NAMES.get(fmt, fmt.lower()) if fmt else None

    try:
        duration = float(facts.general.get("duration")) / 1000
    except (TypeError, ValueError):
        duration = None
    return Streams(named(facts.video), named(facts.audio), duration)


def remux_to_mp4(source: OpenedFile, kind: str, streams: Streams, target: Path, timeout: float) -> None:
    """Copy the first video and first audio stream of ``source`` into an MP4 at ``target``, moov first.

    Nothing is re-encoded. The index goes into room kept for it at the front (``moov_reserve``); should it
    not fit, the copy is made again with +faststart, which moves it there in a second pass. Raises
    RemuxFailed when ffmpeg fails (``target`` may then hold a partial file).
    """
    reserve = moov_reserve(streams.duration)
    if reserve is not None:
        try:
            return _remux(source, kind, streams, target, timeout, ["-moov_size", str(reserve)])
        except RemuxFailed:
            pass   # the index outgrew the room (or the copy failed: the second try says why)
    _remux(source, kind, streams, target, timeout, ["-movflags", "+faststart"])


def moov_reserve(duration: float | None) -> int | None:
    """Bytes to keep at the front for the index of ``duration`` seconds of media; None when unknown."""
    if not duration or duration <= 0:
        return None
    return int(min(MOOV_MAX_BYTES, max(MOOV_MIN_BYTES, duration * MOOV_BYTES_PER_SECOND)))


def _remux(source: OpenedFile, kind: str, streams: Streams, target: Path, timeout: float,
           placement: list[str]) -> None:
    source_path, fds = media_input(source)
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", *input_options(kind), "-i", source_path,
            "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy"]
    if streams.video == "hevc":
        args += ["-tag:v", "hvc1"]   # the tag Apple players need; the stream itself is unchanged
    args += [*placement, "-f", "mp4", "-y", str(target)]
    proc = _run(args, timeout, fds)
    if proc.returncode != 0:
        raise RemuxFailed(_first_error(proc.stderr.decode("utf-8", "replace")) or f"exit {proc.returncode}")


def holds_lossless_streams(facts: MediaFacts | None) -> bool:
    """Whether the remuxed MP4, as MediaInfo reads it, holds the streams the plan allowed."""
    if facts is None or not facts.video:
        return False
    audio_ok = not facts.audio or facts.audio[0].get("format") in MEDIAINFO_AUDIO
    return facts.video[0].get("format") in MEDIAINFO_VIDEO and audio_ok


def _run(args: list[str], timeout: float, fds: tuple[int, ...]) -> subprocess.CompletedProcess:
    try:
        return children.run(args, timeout=timeout, pass_fds=fds)
    except subprocess.TimeoutExpired as exc:
        raise RemuxFailed("timeout") from exc
    except OSError as exc:
        raise ToolError(f"无法运行 ffmpeg：{exc}", "请检查 ffmpeg 是否已安装且可执行。") from exc


def _first_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line or "nvalid" in line]
    return (errors or lines[-1:] or [""])[0][:MAX_ERROR_TEXT // 10]
