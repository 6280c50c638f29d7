"""Real media for tests, made with ffmpeg at test time (tiny frames keep long clips cheap)."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from validators.tools import ffmpeg_exe

# The ffmpeg the checks run (the wheel's static build starts several times faster than a distribution's).
FFMPEG = ffmpeg_exe()
# Test clips open "properly" through their title, so that only the tests about it see the phrase missing.
OPENING_TITLE = "我是保密法治代言人小测，今天我要讲的是保密法"


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *args], check=True, timeout=300)


def clip(path: Path, seconds: float, size: str = "64x48", rate: int = 5, video: str | None = "libx264",
         audio: str | None = "aac", extra: tuple[str, ...] = (), fmt: str | None = None,
         title: str | None = OPENING_TITLE) -> Path:
    """A test pattern with a tone; ``video``/``audio`` None leaves that stream out."""
    args: list[str] = []
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=8000:duration={seconds}"]
    if video:
        args += ["-c:v", video]
        if video == "libx264":
            args += ["-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        if video == "libx265":
            args += ["-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1"]
    if audio:
        args += ["-c:a", audio]
    args += list(extra)
    if title:
        args += ["-metadata", f"title={title}"]
    if fmt:
        args += ["-f", fmt]
    ffmpeg(*args, str(path))
    return path


def truncate_copy(src: Path, dst: Path, keep: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def corrupt_middle(src: Path, dst: Path) -> Path:
    """Overwrite a run of bytes inside mdat with garbage; box sizes stay intact."""
    data = bytearray(src.read_bytes())
    start = data.index(b"mdat") + 8
    end = len(data) if data.index(b"moov") < start else data.index(b"moov")
    middle = start + (end - start) // 2
    for i in range(middle, min(middle + 4000, end)):
        data[i] = (i * 73) & 0xFF
    dst.write_bytes(bytes(data))
    return dst


def claim_duration(src: Path, dst: Path, seconds: float) -> Path:
    """Edit mvhd, tkhd and mdhd so the header claims ``seconds``; the sample tables still tell."""
    data = bytearray(src.read_bytes())
    movie_scale = None
    pos = 0
    while (pos := data.find(b"mvhd", pos)) != -1:
        body = pos + 4
        if data[body] == 0:
            movie_scale = struct.unpack(">I", data[body + 12:body + 16])[0]
            data[body + 16:body + 20] = struct.pack(">I", int(seconds * movie_scale))
        pos += 4
    pos = 0
    while (pos := data.find(b"tkhd", pos)) != -1:
        body = pos + 4
        if data[body] == 0 and movie_scale:
            data[body + 20:body + 24] = struct.pack(">I", int(seconds * movie_scale))
        pos += 4
    pos = 0
    while (pos := data.find(b"mdhd", pos)) != -1:
        body = pos + 4
        if data[body] == 0:
            scale = struct.unpack(">I", data[body + 12:body + 16])[0]
            data[body + 16:body + 20] = struct.pack(">I", int(seconds * scale))
        pos += 4
    dst.write_bytes(bytes(data))
    return dst


def pad_with_free_box(src: Path, dst: Path, total_size: int) -> Path:
    """A small MP4 followed by one large, sparse ``free`` box, so the file is ``total_size`` bytes."""
    shutil.copyfile(src, dst)
    pad = total_size - dst.stat().st_size
    assert pad >= 16
    with dst.open("r+b") as fh:
        fh.seek(0, 2)
        fh.write(struct.pack(">I4sQ", 1, b"free", pad))
        fh.truncate(total_size)
    return dst


def jpeg(path: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", str(path))
    return path


def cjk_font() -> str | None:
    """A CJK font file for drawtext (fonts-noto-cjk or fonts-wqy-zenhei)."""
    for candidate in ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                      "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                      "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"):
        if Path(candidate).exists():
            return candidate
    try:
        out = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def captioned(path: Path, seconds: float, captions: list[tuple[float, float, str, int]], font: str,
              size: str = "960x540", title: str | None = None, extra: tuple[str, ...] = ()) -> Path:
    """A clip with burnt-in captions: (start, end, text, pixels above the bottom edge)."""
    filters = []
    folder = path.parent
    for index, (start, end, text, above) in enumerate(captions):
        text_file = folder / f"{path.stem}.caption{index}"
        text_file.write_text(text, encoding="utf-8")
        filters.append(f"drawtext=fontfile={font}:textfile={text_file}:fontcolor=white:fontsize=34:"
                       f"x=(w-text_w)/2:y=h-{above}:box=1:boxcolor=black@0.6:boxborderw=6:"
                       f"enable='between(t,{start},{end})'")
    args = ["-f", "lavfi", "-i", f"color=c=0x3a6ea5:size={size}:rate=10:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=8000:duration={seconds}"]
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", *extra]
    if title:
        args += ["-metadata", f"title={title}"]
    ffmpeg(*args, str(path))
    return path


@dataclass(frozen=True)
class Page:
    """A document page shown from ``start`` to ``end`` seconds: a light page at (x, y) of w×h, the classification
    ``mark`` in its top left corner (``size`` pixels, ``colour``), a red heading and black body text below."""

    start: float
    end: float
    x: int
    y: int
    w: int
    h: int
    mark: str
    size: int = 24
    colour: str = "black"
    paper: str = "white"


HEADING = "关于加强涉密载体管理的通知"
BODY = "各单位：为进一步做好保密工作，现将有关事项通知如下。"


def document_pages(path: Path, seconds: float, pages: list[Page], font: str, size: str = "960x540", rate: int = 5,
                   background: str = "color=c=0x6b5a48", fmt: str | None = None, extra: tuple[str, ...] = ()) -> Path:
    """A video in which document pages are shown (filmed or put on screen) for a few seconds each; ``background``
    is a lavfi source without its size, rate and duration (``color=c=…`` stays still, ``gradients`` moves)."""
    folder = path.parent
    filters = []
    for index, page in enumerate(pages):
        shown = f"enable='between(t,{page.start},{page.end})'"
        lines = [(page.mark, page.size, page.colour, 12), (HEADING, page.size + 6, "red", 12 + page.size * 2),
                 (BODY, max(14, page.size - 6), "black", 20 + page.size * 4)]
        filters.append(f"drawbox=x={page.x}:y={page.y}:w={page.w}:h={page.h}:color={page.paper}@1:t=fill:{shown}")
        for line, (text, pixels, colour, below) in enumerate(lines):
            text_file = folder / f"{path.stem}.page{index}.{line}"
            text_file.write_text(text, encoding="utf-8")
            filters.append(f"drawtext=fontfile={font}:textfile={text_file}:fontcolor={colour}:fontsize={pixels}:"
                           f"x={page.x + 12}:y={page.y + below}:{shown}")
    args = ["-f", "lavfi", "-i", f"{background}:size={size}:rate={rate}:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=8000:duration={seconds}",
            *(["-vf", ",".join(filters)] if filters else []), "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-metadata", f"title={OPENING_TITLE}", *extra]
    if fmt:
        args += ["-f", fmt]
    ffmpeg(*args, str(path))
    return path


# -- box rewriting: small, honest ISO-BMFF edits for the media-contract tests ---------------------------------

BOX_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex", b"moof", b"traf"}


def iter_boxes(data: bytes | bytearray, start: int = 0, end: int | None = None):
    """(type, offset of the box, offset of its body, end) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        yield kind, pos, pos + header, pos + size
        pos += size


def find_boxes(data: bytes | bytearray, path: list[bytes], start: int = 0, end: int | None = None):
    """Body offsets of every box at ``path`` (e.g. [b"moov", b"trak"])."""
    for kind, _, body, stop in iter_boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                yield body, stop
            else:
                yield from find_boxes(data, path[1:], body, stop)


def _set_full_box_time(data: bytearray, body: int, seconds: float, factor: int = 1) -> int:
    """Multiply the timescale of an mvhd/mdhd body by ``factor`` and make its duration ``seconds``.

    Returns the new timescale.
    """
    wide = data[body] == 1
    at = body + (20 if wide else 12)
    scale = struct.unpack(">I", data[at:at + 4])[0] * factor
    if wide:
        data[at:at + 12] = struct.pack(">IQ", scale, int(seconds * scale))
    else:
        data[at:at + 8] = struct.pack(">II", scale, int(seconds * scale))
    return scale


def lie_about_audio_timescale(src: Path, dst: Path, factor: int, seconds: float) -> Path:
    """Multiply the audio track's mdhd timescale by ``factor`` and make every header duration say ``seconds``.

    The sample table (stts) then agrees with the lie; only the sample entry's own rate still tells.
    """
    data = bytearray(src.read_bytes())
    [(moov, moov_end)] = list(find_boxes(data, [b"moov"]))
    [(mvhd, _)] = list(find_boxes(data, [b"mvhd"], moov, moov_end))
    movie_scale = _set_full_box_time(data, mvhd, seconds)
    for trak, trak_end in find_boxes(data, [b"trak"], moov, moov_end):
        for tkhd, _ in find_boxes(data, [b"tkhd"], trak, trak_end):
            if data[tkhd] == 1:
                data[tkhd + 28:tkhd + 36] = struct.pack(">Q", int(seconds * movie_scale))
            else:
                data[tkhd + 20:tkhd + 24] = struct.pack(">I", int(seconds * movie_scale))
        for elst, _ in find_boxes(data, [b"edts", b"elst"], trak, trak_end):
            count = struct.unpack(">I", data[elst + 4:elst + 8])[0]
            wide = data[elst] == 1
            for i in range(count):
                at = elst + 8 + i * (20 if wide else 12)
                fmt = ">Q" if wide else ">I"
                width = 8 if wide else 4
                current = struct.unpack(fmt, data[at:at + width])[0]
                data[at:at + width] = struct.pack(fmt, min(current, int(seconds * movie_scale)))
        [(hdlr, _)] = list(find_boxes(data, [b"mdia", b"hdlr"], trak, trak_end))
        audio = bytes(data[hdlr + 8:hdlr + 12]) == b"soun"
        for mdhd, _ in find_boxes(data, [b"mdia", b"mdhd"], trak, trak_end):
            _set_full_box_time(data, mdhd, seconds, factor if audio else 1)
    dst.write_bytes(bytes(data))
    return dst


def set_major_brand(src: Path, dst: Path, major: bytes, compatible: tuple[bytes, ...] | None = None) -> Path:
    """Rewrite the ftyp box's major brand (and, if given, its compatible brands); the rest is untouched.

    The ftyp keeps its size (chunk offsets stay right): a shorter brand list repeats the major brand.
    """
    data = src.read_bytes()
    kind, _, body, end = next(iter_boxes(data))
    assert kind == b"ftyp"
    brands = data[body + 8:end] if compatible is None else b"".join(compatible)
    room = end - body - 8
    assert len(brands) <= room and (room - len(brands)) % 4 == 0, "the new brands must fit the old ftyp"
    brands += major * ((room - len(brands)) // 4)
    dst.write_bytes(data[:body] + major + data[body + 4:body + 8] + brands + data[end:])
    return dst


def ffmpeg_has(kind: str, name: str) -> bool:
    """Whether this ffmpeg has the encoder or muxer ``name`` (kind: "encoders" or "muxers")."""
    out = subprocess.run([FFMPEG, "-hide_banner", f"-{kind}"], capture_output=True, text=True, timeout=60).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def animated_avif(path: Path, seconds: float = 1) -> Path:
    """A real AVIF image sequence (major brand avis): AV1 frames, no sound."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate=5:duration={seconds}", "-c:v", "libaom-av1",
           "-cpu-used", "8", "-f", "avif", str(path))
    return path


def audio_longer_than_video(path: Path, video_seconds: float, audio_seconds: float) -> Path:
    """A small video track with a much longer AAC track (8 kHz mono)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate=5:duration={video_seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=8000:duration={audio_seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-metadata", f"title={OPENING_TITLE}", str(path))
    return path


def fragmented_every_frame(path: Path, seconds: float, rate: int) -> Path:
    """A valid fragmented MP4 with one moof + mdat pair per frame: about 2 x seconds x rate top-level boxes."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate={rate}:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=8000:duration={seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           # one fragment per frame by duration: ffmpeg 9's frag_every_frame writes wrong durations with audio
           "-metadata", f"title={OPENING_TITLE}", "-frag_duration", str(1_000_000 // rate), "-movflags", "empty_moov",
           str(path))
    return path


def top_level_box_count(path: Path) -> int:
    return sum(1 for _ in iter_boxes(path.read_bytes()))


def with_empty_boxes(src: Path, dst: Path, count: int) -> Path:
    """``src`` followed by ``count`` empty ``free`` boxes (8 bytes each): a valid but absurd layout."""
    with dst.open("wb") as fh:
        fh.write(src.read_bytes())
        fh.write(struct.pack(">I4s", 8, b"free") * count)
    return dst


def megabyte_srt(path: Path, first_cue: str, size: int = 1024 * 1024, dense: bool = False) -> Path:
    """An SRT of ``size`` bytes: ``first_cue`` at 1 s, then filler cues: one a second for hours, or
    (``dense``) all of them crammed between 2 and 14 s, inside the opening-phrase window."""
    blocks = [f"1\r\n00:00:01,000 --> 00:00:03,000\r\n{first_cue}\r\n\r\n"]
    total = len(blocks[0].encode("utf-8"))
    index = 1
    while total < size:
        index += 1
        h, rest = divmod(2 + index % 13 if dense else index, 3600)
        m, s = divmod(rest, 60)
        block = (f"{index}\r\n{h:02d}:{m:02d}:{s:02d},000 --> {h:02d}:{m:02d}:{s:02d},900\r\n"
                 f"这是第 {index} 行普通的字幕文字，用来把文件撑到一兆字节。\r\n\r\n")
        blocks.append(block)
        total += len(block.encode("utf-8"))
    path.write_bytes("".join(blocks).encode("utf-8")[:size])
    return path


@contextlib.contextmanager
def sentinel_http_server():
    """A loopback HTTP server that records every path asked of it: a playlist's URLs point here.

    Yields (port, hits); a test asserts ``hits == []``.
    """
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port, hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def two_works(folder: Path, seconds: float) -> list[Path]:
    """一.mp4 and 二.mp4: small valid videos that open with the phrase, with different contents (so that
    neither is a duplicate of the other)."""
    from tests.mails import variant

    first = clip(folder / "一.mp4", seconds)
    second = folder / "二.mp4"
    second.write_bytes(variant(first.read_bytes(), "second"))
    return [first, second]


# -- files that make a copy repeat their bytes (issue 23, item 12) -------------------------------------------------
def _ebml_id(element: int) -> bytes:
    return element.to_bytes((element.bit_length() + 7) // 8, "big")


def _ebml_size(n: int) -> bytes:
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return (n | (1 << (7 * length))).to_bytes(length, "big")
    raise ValueError(n)


def _ebml(element: int, body: bytes | int | str) -> bytes:
    if isinstance(body, int):
        body = body.to_bytes(max(1, (body.bit_length() + 7) // 8), "big")
    elif isinstance(body, str):
        body = body.encode("ascii")
    return _ebml_id(element) + _ebml_size(len(body)) + body


def _ebml_vint(data: bytes, at: int, keep_marker: bool) -> tuple[int, int]:
    length = 9 - data[at].bit_length()
    value = int.from_bytes(data[at:at + length], "big")
    return (value if keep_marker else value & ((1 << (7 * length)) - 1)), length


def _ebml_children(data: bytes, start: int = 0, end: int | None = None):
    """(id, body) of each element in data[start:end]; an element of unknown size runs to ``end``."""
    at, end = start, len(data) if end is None else end
    while at < end:
        element, id_length = _ebml_vint(data, at, True)
        size, size_length = _ebml_vint(data, at + id_length, False)
        body = at + id_length + size_length
        if size == (1 << (7 * size_length)) - 1:
            size = end - body
        yield element, data[body:body + size]
        at = body + size


def header_stripped_mkv(dst: Path, frames: int = 60, header_bytes: int = 256 * 1024) -> Path:
    """An H.264 Matroska file whose track uses "header stripping" with a ``header_bytes`` header: the demuxer puts
    that header back before each of its frames, so a copy of a file of some kilobytes holds frames × header bytes."""
    plain = dst.with_name(dst.stem + ".plain.mkv")
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate=10:duration={frames / 10}", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "matroska", str(plain))
    data = plain.read_bytes()
    plain.unlink()
    (_, segment), = [(e, b) for e, b in _ebml_children(data) if e == 0x18538067]
    private, width, height, blocks = b"", 64, 48, []
    for element, body in _ebml_children(segment):
        if element == 0x1654AE6B:   # Tracks → TrackEntry
            for entry_id, entry in _ebml_children(body):
                for field, value in _ebml_children(entry) if entry_id == 0xAE else ():
                    if field == 0x63A2:
                        private = value
        elif element == 0x1F43B675:  # Cluster → SimpleBlock: track, timestamp, flags, then the frame
            blocks += [value[4:] for field, value in _ebml_children(body) if field == 0xA3]
    # The header put back is one NAL unit of filler data (length, type 12, 0xFF…, stop bit): each frame stays
    # valid H.264, only longer, as in the attack.
    filler = struct.pack(">I", header_bytes - 4) + b"\x0c" + b"\xff" * (header_bytes - 6) + b"\x80"
    stripping = _ebml(0x6D80, _ebml(0x6240, _ebml(0x5031, 0) + _ebml(0x5032, 1) + _ebml(0x5033, 0) + _ebml(
        0x5034, _ebml(0x4254, 3) + _ebml(0x4255, filler))))
    track = _ebml(0xAE, _ebml(0xD7, 1) + _ebml(0x73C5, 1) + _ebml(0x83, 1) + _ebml(0x86, "V_MPEG4/ISO/AVC")
                  + _ebml(0x63A2, private) + _ebml(0xE0, _ebml(0xB0, width) + _ebml(0xBA, height)) + stripping)
    cluster = _ebml(0x1F43B675, _ebml(0xE7, 0) + b"".join(
        _ebml(0xA3, b"\x81" + (i * 100).to_bytes(2, "big") + b"\x80" + frame) for i, frame in enumerate(blocks)))
    header = _ebml(0x1A45DFA3, _ebml(0x4286, 1) + _ebml(0x42F7, 1) + _ebml(0x42F2, 4) + _ebml(0x42F3, 8)
                   + _ebml(0x4282, "matroska") + _ebml(0x4287, 4) + _ebml(0x4285, 2))
    info = _ebml(0x1549A966, _ebml(0x2AD7B1, 1_000_000) + _ebml(0x4D80, "t") + _ebml(0x5741, "t"))
    body = info + _ebml(0x1654AE6B, track) + cluster
    dst.write_bytes(header + _ebml_id(0x18538067) + _ebml_size(len(body)) + body)
    return dst


def repeated_frame_mov(dst: Path, times: int = 40) -> Path:
    """A QuickTime file of one H.264 frame whose sample table lists that frame ``times`` times (every chunk offset
    the same): a copy into a new file writes the frame ``times`` times."""
    one = dst.with_name(dst.stem + ".one.mov")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=0.1,noise=alls=80:allf=t", "-frames:v", "1",
           "-c:v", "libx264", "-preset", "ultrafast", "-qp", "4", "-pix_fmt", "yuv420p", "-f", "mov", str(one))
    data = one.read_bytes()
    one.unlink()

    def boxes(blob: bytes):
        at = 0
        while at + 8 <= len(blob):
            size, kind = struct.unpack(">I4s", blob[at:at + 8])
            yield kind, blob[at + 8:at + size]
            at += size

    def box(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(body), kind) + body

    def rebuilt(kind: bytes, body: bytes) -> bytes:
        if kind in (b"moov", b"trak", b"mdia", b"minf"):   # (no edit list: it would play the first frame only)
            return box(kind, b"".join(rebuilt(k, b) for k, b in boxes(body) if k != b"edts"))
        if kind != b"stbl":
            return box(kind, body)
        parts = dict(boxes(body))
        if b"stsz" not in parts:
            return box(kind, body)
        size = struct.unpack(">I", parts[b"stsz"][4:8])[0] or struct.unpack(">I", parts[b"stsz"][12:16])[0]
        delta = struct.unpack(">I", parts[b"stts"][12:16])[0]
        offset = struct.unpack(">I", parts[b"stco"][8:12])[0]
        tables = {b"stts": struct.pack(">IIII", 0, 1, times, delta),
                  b"stsc": struct.pack(">IIIII", 0, 1, 1, 1, 1),
                  b"stsz": struct.pack(">III", 0, 0, times) + struct.pack(f">{times}I", *[size] * times),
                  b"stco": struct.pack(">II", 0, times) + struct.pack(f">{times}I", *[offset] * times)}
        return box(kind, b"".join(box(k, tables.get(k, b)) for k, b in boxes(body) if k not in (b"stss", b"ctts")))

    dst.write_bytes(b"".join(rebuilt(k, b) if k == b"moov" else box(k, b) for k, b in boxes(data)))
    return dst


# -- files that carry their sender's identity in their tags (issue 23, item 6) -------------------------------------
def tagged(dst: Path, tags: dict[str, str], chapters: list[str], fmt: str = "mp4", place: str | None = None) -> Path:
    """A 2-second clip whose container names its sender: ``tags`` (title, artist, comment, location …), chapters
    with the given titles, and (MP4 or QuickTime) a 3GPP location box ('loci') naming ``place``, as phones write."""
    meta = dst.with_name(dst.name + ".ffmetadata")
    lines = [";FFMETADATA1", *(f"{k}={v}" for k, v in tags.items())]
    for i, title in enumerate(chapters):
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={i * 1000}", f"END={(i + 1) * 1000}", f"title={title}"]
    meta.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain = dst.with_name(dst.stem + ".plain" + dst.suffix)
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=440:sample_rate=8000:duration=2", "-i", str(meta), "-map", "0", "-map", "1",
           "-map_metadata", "2", "-map_chapters", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-f", fmt, str(plain))
    meta.unlink()
    data = plain.read_bytes()
    plain.unlink()
    if place:
        data = _with_udta_box(data, b"loci", b"\x00\x00\x00\x00" + b"\x15\xc7" + place.encode() + b"\x00\x00"
                              + struct.pack(">iii", int(109.4281 * 65536), int(24.3264 * 65536), 0) + b"earth\x00\x00")
    dst.write_bytes(data)
    return dst


def _with_udta_box(data: bytes, kind: bytes, payload: bytes) -> bytes:
    """``data`` (an MP4 whose moov comes after its media) with one more box in moov/udta."""
    def boxes(blob: bytes):
        at = 0
        while at + 8 <= len(blob):
            size, name = struct.unpack(">I4s", blob[at:at + 8])
            yield name, blob[at + 8:at + size]
            at += size

    def box(name: bytes, body: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(body), name) + body

    extra = box(kind, payload)
    out = []
    for name, body in boxes(data):
        if name == b"moov":
            children = list(boxes(body))
            if not any(n == b"udta" for n, _ in children):
                children.append((b"udta", b""))
            body = b"".join(box(n, b + extra if n == b"udta" else b) for n, b in children)
        out.append(box(name, body))
    return b"".join(out)


def undecodable(source: Path, path: Path) -> Path:
    """A copy of ``source`` whose first 40,000 picture bytes are zeros: its boxes are sound, no frame decodes."""
    data = bytearray(source.read_bytes())
    start = data.index(b"mdat") + 4
    data[start:start + 40000] = bytes(min(40000, len(data) - start))
    path.write_bytes(bytes(data))
    return path
