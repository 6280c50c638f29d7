"""Lossless remux: the streams of a near-miss container (QuickTime, Matroska/WebM, FLV, AVI) copied into an MP4.

Nothing is re-encoded (``-c copy``). The sniffed kind, never the extension, names the one demuxer ffmpeg may
use, and only local files are allowed, so a file cannot make ffmpeg open anything else (a playlist, a
reference to another file). The container's metadata and chapters, which often name the sender, are left
out: blind review must not see them. The copy is bounded (``output_cap``): a file that makes its demuxer
repeat bytes (Matroska header stripping, one frame listed many times) must not fill the store.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.errors import OutputTooLarge, RemuxFailed, StorageError, ToolError
from validators import children
from validators.opened import OpenedFile, media_input
from validators.mediainfo import MediaFacts
from validators.tools import MAX_ERROR_TEXT, SAFE_INPUT_ARGS, ffmpeg_exe

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
# An MP4 holds the packets that came in and an index; past twice the input (plus the index room) the copy
# is writing bytes the source never held.
GROWTH = 2
GROWTH_MARGIN = 1024 * 1024
SIZE_MARGIN = 16 * 1024 * 1024       # over the size limit: the checks of the copy say "too large" themselves
# What ffmpeg says (strerror) when our disk, not the file, failed it.
DISK_ERRORS = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS))
# Container metadata that says how the file was made, not what it holds: no text of the sender's.
TECHNICAL_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "creation_time", "handler_name",
                  "vendor_id", "timebase", "start", "end", "duration", "language"}


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


def remux_to_mp4(source: OpenedFile, kind: str, streams: Streams, target: Path, timeout: float,
                 max_size: int | None = None) -> None:
    """Copy the first video and audio stream of ``source`` into an MP4 at ``target``, moov first, without the
    container's metadata and chapters: into room kept at the front (``moov_reserve``), else with +faststart.

    Raises RemuxFailed (``target`` may hold a partial file), OutputTooLarge when the copy reaches ``output_cap``
    (``max_size``: the size limit, if any), StorageError when our disk failed it.
    """
    reserve = moov_reserve(streams.duration)
    cap = output_cap(source.size, max_size, reserve)
    if reserve is not None:
        try:
            return _remux(source, kind, streams, target, timeout, ["-moov_size", str(reserve)], cap)
        except OutputTooLarge:
            raise
        except RemuxFailed:
            pass   # the index outgrew the room (or the copy failed: the second try says why)
    _remux(source, kind, streams, target, timeout, ["-movflags", "+faststart"], cap)


def output_cap(source_size: int, max_size: int | None, reserve: int | None) -> int:
    """The most bytes a copy of ``source_size`` bytes may take: a lossless copy is about as large as its source
    (and one over the size limit is rejected by its own checks anyway)."""
    grown = GROWTH * source_size + (reserve or MOOV_MIN_BYTES) + GROWTH_MARGIN
    return grown if max_size is None else min(max_size + SIZE_MARGIN, grown)


def moov_reserve(duration: float | None) -> int | None:
    """Bytes to keep at the front for the index of ``duration`` seconds of media; None when unknown."""
    if not duration or duration <= 0:
        return None
    return int(min(MOOV_MAX_BYTES, max(MOOV_MIN_BYTES, duration * MOOV_BYTES_PER_SECOND)))


def _remux(source: OpenedFile, kind: str, streams: Streams, target: Path, timeout: float,
           placement: list[str], cap: int) -> None:
    source_path, fds = media_input(source)
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", *input_options(kind), "-i", source_path,
            "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1"]
    if streams.video == "hevc":
        args += ["-tag:v", "hvc1"]   # the tag Apple players need; the stream itself is unchanged
    args += [*placement, "-fs", str(cap), "-f", "mp4", "-y", str(target)]
    _copy(args, timeout, fds, lambda said: StorageError(
        f"无损转换时文件库所在的磁盘出错（{said}），转换没有完成。",
        "这不是作品的问题：请清理磁盘或检查存储设备，程序会稍后重试；已登记的作品可用 intake recheck 重新转换。"))
    try:
        made = target.stat().st_size
    except OSError as exc:
        raise RemuxFailed(f"no output: {exc}") from exc
    if made >= cap:   # -fs stopped the copy there: what came out is a cut-short file of repeated bytes
        raise OutputTooLarge(f"the copy reached {made} bytes from {source.size}")


# The sender's texts in the original's container (title, comment, chapters), which the copy leaves out: the
# content checks of the copy read them as a text that came with it, under this name.
ORIGINAL_TAGS = "原文件的文件信息"


def source_tags(source: OpenedFile, kind: str, timeout: float) -> str:
    """The container's metadata and chapter texts that the copy leaves out, one a line, for the content checks."""
    target, fds = media_input(source)
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", *input_options(kind), "-i", target,
            "-f", "ffmetadata", "pipe:1"]
    proc = _run(args, timeout, fds)
    if proc.returncode != 0:
        return ""
    texts = [value.strip() for key, value in _ffmetadata(proc.stdout.decode("utf-8", "replace"))
             if key.lower() not in TECHNICAL_TAGS and value.strip()]
    return "\n".join(dict.fromkeys(texts))


def _ffmetadata(text: str):
    """(key, value) of each ``key=value`` line of an ffmetadata text, where a backslash escapes the next character
    (=, ;, #, a backslash or a line end)."""
    key, part, escaped = None, [], False
    for ch in text.removeprefix(";FFMETADATA1") + "\n":
        if escaped:
            part.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "\n":
            if key is not None and not key.startswith((";", "#")):
                yield key, "".join(part)
            key, part = None, []
        elif ch == "=" and key is None:
            key, part = "".join(part), []
        else:
            part.append(ch)


def copy_without_metadata(source: Path, target: Path, timeout: float) -> None:
    """A stored MP4 copied into ``target`` for blind review, without metadata, chapters, subtitles, data tracks and
    cover pictures (a sender's tags often name the sender). RemuxFailed, or StorageError when our disk failed it."""
    source_path, fds = media_input(source)
    cap = output_cap(Path(source).stat().st_size, None, MOOV_MIN_BYTES)
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-enable_drefs", "0", *SAFE_INPUT_ARGS,
            "-i", source_path, "-map", "0:V", "-map", "0:a?", "-c", "copy", "-map_metadata", "-1",
            "-map_chapters", "-1", "-fflags", "+bitexact", "-movflags", "+faststart", "-fs", str(cap),
            "-f", "mp4", "-y", str(target)]
    _copy(args, timeout, fds, lambda said: StorageError(f"无法生成匿名评审用的视频副本：磁盘出错（{said}）。",
                                                        "请清理磁盘或检查存储设备。"))


def holds_lossless_streams(facts: MediaFacts | None) -> bool:
    """Whether the remuxed MP4, as MediaInfo reads it, holds the streams the plan allowed."""
    if facts is None or not facts.video:
        return False
    audio_ok = not facts.audio or MEDIAINFO_NAMES.get(facts.audio[0].get("format")) in LOSSLESS_AUDIO
    return MEDIAINFO_NAMES.get(facts.video[0].get("format")) in LOSSLESS_VIDEO and audio_ok


def _run(args: list[str], timeout: float, fds: tuple[int, ...]) -> subprocess.CompletedProcess:
    try:
        return children.run(args, timeout=timeout, pass_fds=fds)
    except subprocess.TimeoutExpired as exc:
        raise RemuxFailed("timeout") from exc
    except OSError as exc:
        raise ToolError(f"无法运行 ffmpeg：{exc}", "请检查 ffmpeg 是否已安装且可执行。") from exc


def _copy(args: list[str], timeout: float, fds: tuple[int, ...], disk_error) -> None:
    """Run an ffmpeg copy; RemuxFailed when it fails, ``disk_error(what ffmpeg said)`` when our disk failed it."""
    proc = _run(args, timeout, fds)
    said = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        if any(error in said for error in DISK_ERRORS):
            raise disk_error(_first_error(said))
        raise RemuxFailed(_first_error(said) or f"exit {proc.returncode}")


def _first_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line or "nvalid" in line]
    return (errors or lines[-1:] or [""])[0][:MAX_ERROR_TEXT // 10]
