"""Walk the top-level ISO-BMFF boxes and read the sample tables ourselves.

We do this before any C library sees the file: it tells an MP4 from a
QuickTime file or a renamed playlist, and the sample tables (stts) give the
real track durations even when a header was edited to claim less.
Only box headers and the moov box are read, never the media data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MAX_TOP_LEVEL_BOXES = 10_000
MAX_MOOV_BYTES = 64 * 1024 * 1024
CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex"}


@dataclass(frozen=True)
class Box:
    type: str
    offset: int
    size: int


@dataclass(frozen=True)
class TrackTiming:
    handler: str               # 'vide', 'soun', 'text', 'sbtl', ...
    header_seconds: float | None   # mdhd duration
    sample_seconds: float | None   # sum of stts deltas: what the packets really span
    sample_count: int


@dataclass
class Layout:
    """What the box walk found. ``problem`` is None for a well-formed file."""

    file_size: int
    boxes: list[Box] = field(default_factory=list)
    major_brand: str | None = None
    compatible_brands: list[str] = field(default_factory=list)
    problem: str | None = None        # 'truncated' | 'bad_box' | None
    problem_offset: int | None = None
    movie_seconds: float | None = None   # mvhd duration
    tracks: list[TrackTiming] = field(default_factory=list)
    fragmented: bool = False
    expected_size: int | None = None     # where a truncated file should have ended

    def count(self, kind: str) -> int:
        return sum(1 for b in self.boxes if b.type == kind)

    @property
    def starts_with_ftyp(self) -> bool:
        return bool(self.boxes) and self.boxes[0].type == "ftyp"

    @property
    def brands(self) -> list[str]:
        return ([self.major_brand] if self.major_brand else []) + self.compatible_brands


def _type_text(raw: bytes) -> str | None:
    """A box type is four printable Latin-1 characters (© occurs in udta)."""
    if all(32 <= c < 127 or c == 0xA9 for c in raw):
        return raw.decode("latin-1")
    return None


def walk(path: Path) -> Layout:
    """Read the top-level box headers of ``path`` (and its moov)."""
    size = path.stat().st_size
    layout = Layout(file_size=size)
    with path.open("rb") as fh:
        offset = 0
        while offset < size:
            if len(layout.boxes) >= MAX_TOP_LEVEL_BOXES:
                layout.problem, layout.problem_offset = "bad_box", offset
                break
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 8:
                layout.problem, layout.problem_offset = "truncated", offset
                break
            box_size, raw_type = struct.unpack(">I4s", header[:8])
            kind = _type_text(raw_type)
            header_len = 8
            if box_size == 1:
                if len(header) < 16:
                    layout.problem, layout.problem_offset = "truncated", offset
                    break
                box_size = struct.unpack(">Q", header[8:16])[0]
                header_len = 16
            elif box_size == 0:
                box_size = size - offset
            if kind is None or box_size < header_len:
                layout.problem, layout.problem_offset = "bad_box", offset
                break
            layout.boxes.append(Box(kind, offset, box_size))
            if offset + box_size > size:
                layout.problem, layout.problem_offset = "truncated", offset
                layout.expected_size = offset + box_size
                break
            if kind == "ftyp" and offset == 0:
                _read_ftyp(fh, offset + header_len, box_size - header_len, layout)
            elif kind == "moov" and layout.count("moov") == 1 and box_size <= MAX_MOOV_BYTES:
                fh.seek(offset + header_len)
                _read_moov(fh.read(box_size - header_len), layout)
            offset += box_size
    return layout


def _read_ftyp(fh: BinaryIO, start: int, length: int, layout: Layout) -> None:
    fh.seek(start)
    body = fh.read(min(length, 4096))
    if len(body) >= 8:
        layout.major_brand = body[:4].decode("latin-1")
        layout.compatible_brands = [
            body[i:i + 4].decode("latin-1") for i in range(8, len(body) - 3, 4)
        ]


def _children(data: bytes, start: int = 0, end: int | None = None):
    """Yield (type, body) of the boxes inside ``data[start:end]``; stop at damage."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, raw = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield raw, data[pos + header:pos + size]
        pos += size


def _full_box_times(body: bytes) -> tuple[int, int] | None:
    """(timescale, duration) from an mvhd or mdhd body."""
    if not body:
        return None
    version = body[0]
    try:
        if version == 1:
            timescale, duration = struct.unpack(">IQ", body[20:32])
        else:
            timescale, duration = struct.unpack(">II", body[12:20])
    except struct.error:
        return None
    return timescale, duration


def _seconds(times: tuple[int, int] | None) -> float | None:
    if not times or times[0] == 0:
        return None
    timescale, duration = times
    if duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return duration / timescale


def _read_moov(moov: bytes, layout: Layout) -> None:
    for kind, body in _children(moov):
        if kind == b"mvhd":
            layout.movie_seconds = _seconds(_full_box_times(body))
        elif kind == b"mvex":
            layout.fragmented = True
        elif kind == b"trak":
            track = _read_trak(body)
            if track:
                layout.tracks.append(track)


def _find(data: bytes, path: list[bytes]) -> bytes | None:
    for kind, body in _children(data):
        if kind == path[0]:
            return body if len(path) == 1 else _find(body, path[1:])
    return None


def _read_trak(trak: bytes) -> TrackTiming | None:
    mdia = _find(trak, [b"mdia"])
    if mdia is None:
        return None
    hdlr = _find(mdia, [b"hdlr"])
    handler = hdlr[8:12].decode("latin-1", "replace") if hdlr and len(hdlr) >= 12 else "?"
    times = _full_box_times(_find(mdia, [b"mdhd"]) or b"")
    stts = _find(mdia, [b"minf", b"stbl", b"stts"])
    sample_seconds = None
    samples = 0
    if stts is not None and times and times[0]:
        count = struct.unpack(">I", stts[4:8])[0] if len(stts) >= 8 else 0
        count = min(count, (len(stts) - 8) // 8)
        total = 0
        for i in range(count):
            n, delta = struct.unpack(">II", stts[8 + 8 * i:16 + 8 * i])
            samples += n
            total += n * delta
        sample_seconds = total / times[0] if samples else None
    return TrackTiming(handler, _seconds(times), sample_seconds, samples)
