"""Walk the top-level ISO-BMFF boxes and read the sample tables ourselves, before any C library sees the file.

It tells an MP4 from a QuickTime file or a renamed playlist, and the sample tables (stts, every moof's trun,
the audio frames) give the real track durations even when a header was edited to claim less. Only box
headers, the moov box and the (small) moof boxes are read, never the media data.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from validators.audio_frames import audio_frames
from validators.opened import OpenedFile

# A fragmented MP4 legitimately has two boxes per fragment (moof + mdat); a 2-minute file cut at
# every frame has tens of thousands. The bound is only there to stop a file of millions of empty boxes.
MAX_TOP_LEVEL_BOXES = 200_000
MAX_LISTED_BOXES = 1_000          # the first boxes are kept for inspection; the rest are only counted
MAX_MOOV_BYTES = 64 * 1024 * 1024
MAX_MOOF_BYTES = 1024 * 1024      # a moof describes one fragment: a few KB at most in practice

@dataclass(frozen=True)
class Box:
    type: str
    offset: int
    size: int


@dataclass(frozen=True)
class TrackTiming:
    handler: str               # 'vide', 'soun', 'text', 'sbtl', ...
    header_seconds: float | None   # mdhd duration
    sample_seconds: float | None   # sum of stts (and trun) deltas: what the packets really span
    sample_count: int
    timescale: int | None = None   # mdhd timescale
    sample_rate: int | None = None  # the audio sample entry's own rate
    frame_seconds: float | None = None  # frames x samples per frame / the rate they play at (AAC, MP3)
    sample_bytes: int = 0          # the sizes its sample table (stsz) gives its samples, added up
    last_key_seconds: float | None = None   # when its last sync sample (keyframe, stss) is decoded


@dataclass
class _Draft:
    """A track while the walk goes on: fragments add samples after the moov was read."""

    handler: str
    header_seconds: float | None
    timescale: int | None
    track_id: int | None
    sample_rate: int | None = None     # the sample entry's own rate
    frame_rate: int | None = None      # the rate its frames play at (AAC: the AudioSpecificConfig's core rate)
    samples_per_frame: int | None = None
    samples: int = 0
    ticks: int = 0
    default_duration: int = 0          # trex default_sample_duration
    sample_bytes: int = 0
    last_key_ticks: int | None = None  # the decode time of its last sync sample (moov tables only)

    def timing(self) -> TrackTiming:
        scale = self.timescale or 0
        sample_seconds = self.ticks / scale if scale and self.samples else None
        frame_seconds = None
        if self.samples_per_frame and self.frame_rate and self.samples:
            frame_seconds = self.samples * self.samples_per_frame / self.frame_rate
        last_key = self.last_key_ticks / scale if scale and self.last_key_ticks is not None else None
        return TrackTiming(self.handler, self.header_seconds, sample_seconds, self.samples, self.timescale,
                           self.sample_rate, frame_seconds, self.sample_bytes, last_key)


@dataclass
class Layout:
    """What the box walk found. ``problem`` is None for a well-formed file."""

    file_size: int
    boxes: list[Box] = field(default_factory=list)      # the first MAX_LISTED_BOXES
    counts: Counter = field(default_factory=Counter)    # every top-level box, by type
    major_brand: str | None = None
    compatible_brands: list[str] = field(default_factory=list)
    problem: str | None = None        # 'truncated' | 'bad_box' | None
    problem_offset: int | None = None
    movie_seconds: float | None = None   # mvhd duration (or mehd, for a fragmented file)
    tracks: list[TrackTiming] = field(default_factory=list)
    fragmented: bool = False
    fragments: int = 0
    expected_size: int | None = None     # where a truncated file should have ended

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    @property
    def sample_bytes(self) -> int:
        """What the sample tables say the samples hold, all tracks added up. Each sample's bytes lie in the file,
        so more than the file's size means samples that reuse the same bytes (a table listing one frame 40 times:
        a copy into a new file writes it 40 times)."""
        return sum(track.sample_bytes for track in self.tracks)

    @property
    def brands(self) -> list[str]:
        return ([self.major_brand] if self.major_brand else []) + self.compatible_brands


def _type_text(raw: bytes) -> str | None:
    """A box type is four printable Latin-1 characters (© occurs in udta)."""
    if all(32 <= c < 127 or c == 0xA9 for c in raw):
        return raw.decode("latin-1")
    return None


def walk(source: Path | OpenedFile) -> Layout:
    """Read the top-level box headers of ``source`` (and its moov and moofs); a path is opened here."""
    if isinstance(source, OpenedFile):
        return _walk(source)
    with OpenedFile.open(source) as opened:
        return _walk(opened)


def _walk(f: OpenedFile) -> Layout:
    size = f.size
    layout = Layout(file_size=size)
    drafts: dict[int | None, _Draft] = {}
    order: list[_Draft] = []
    offset = 0
    total = 0
    while offset < size:
        if total >= MAX_TOP_LEVEL_BOXES:
            layout.problem, layout.problem_offset = "bad_box", offset
            break
        found = _box_header(f.read_at(offset, 16), 0, size - offset)
        if found is None:
            layout.problem, layout.problem_offset = "truncated", offset
            break
        box_size, raw_type, header_len = found
        kind = _type_text(raw_type)
        if kind is None or box_size < header_len:
            layout.problem, layout.problem_offset = "bad_box", offset
            break
        total += 1
        layout.counts[kind] += 1
        if len(layout.boxes) < MAX_LISTED_BOXES:
            layout.boxes.append(Box(kind, offset, box_size))
        if offset + box_size > size:
            layout.problem, layout.problem_offset = "truncated", offset
            layout.expected_size = offset + box_size
            break
        body_start, body_len = offset + header_len, box_size - header_len
        if kind == "ftyp" and offset == 0:
            body = f.read_at(body_start, min(body_len, 4096))
            if len(body) >= 8:
                layout.major_brand = body[:4].decode("latin-1")
                layout.compatible_brands = [body[i:i + 4].decode("latin-1") for i in range(8, len(body) - 3, 4)]
        elif kind == "moov" and layout.count("moov") == 1 and box_size <= MAX_MOOV_BYTES:
            order = _read_moov(f.read_at(body_start, body_len), layout, drafts)
        elif kind == "moof" and box_size <= MAX_MOOF_BYTES:
            layout.fragments += 1
            _read_moof(f.read_at(body_start, body_len), drafts)
        offset += box_size
    layout.tracks = [d.timing() for d in order]
    return layout


def _box_header(data: bytes, pos: int, room: int) -> tuple[int, bytes, int] | None:
    """(size, type, header length) of the box at ``pos`` (size 0: all the ``room`` left); None if cut short."""
    if len(data) < pos + 8:
        return None
    size, raw = struct.unpack(">I4s", data[pos:pos + 8])
    if size == 1:
        return (struct.unpack(">Q", data[pos + 8:pos + 16])[0], raw, 16) if len(data) >= pos + 16 else None
    return (room if size == 0 else size), raw, 8


def _children(data: bytes):
    """Yield (type, body) of the boxes inside ``data``; stop at damage."""
    pos = 0
    while (found := _box_header(data, pos, len(data) - pos)) is not None:
        size, raw, header = found
        if size < header or pos + size > len(data):
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


def _u32(data: bytes, at: int) -> int | None:
    return struct.unpack(">I", data[at:at + 4])[0] if len(data) >= at + 4 else None


def _read_moov(moov: bytes, layout: Layout, drafts: dict[int | None, _Draft]) -> list[_Draft]:
    order: list[_Draft] = []
    movie_scale = None
    for kind, body in _children(moov):
        if kind == b"mvhd":
            times = _full_box_times(body)
            movie_scale = times[0] if times else None
            layout.movie_seconds = _seconds(times)
        elif kind == b"mvex":
            layout.fragmented = True
            for inner, inner_body in _children(body):
                if inner == b"mehd" and movie_scale and not layout.movie_seconds:
                    wide = inner_body[:1] == b"\x01"
                    raw = inner_body[4:12] if wide else inner_body[4:8]
                    if len(raw) in (4, 8):
                        layout.movie_seconds = int.from_bytes(raw, "big") / movie_scale
        elif kind == b"trak":
            draft = _read_trak(body)
            if draft:
                order.append(draft)
                drafts.setdefault(draft.track_id, draft)
    # A second pass: mvex may come before or after the traks its trex boxes name.
    for inner, inner_body in _children(_find(moov, [b"mvex"]) or b""):
        if inner == b"trex" and len(inner_body) >= 24:
            track_id, _, default_duration = struct.unpack(">III", inner_body[4:16])
            if track_id in drafts:
                drafts[track_id].default_duration = default_duration
    return order


def _find(data: bytes, path: list[bytes]) -> bytes | None:
    for kind, body in _children(data):
        if kind == path[0]:
            return body if len(path) == 1 else _find(body, path[1:])
    return None


def _read_trak(trak: bytes) -> _Draft | None:
    mdia = _find(trak, [b"mdia"])
    if mdia is None:
        return None
    tkhd = _find(trak, [b"tkhd"]) or b""
    track_id = _u32(tkhd, 20 if tkhd[:1] == b"\x01" else 12)
    hdlr = _find(mdia, [b"hdlr"])
    handler = hdlr[8:12].decode("latin-1", "replace") if hdlr and len(hdlr) >= 12 else "?"
    times = _full_box_times(_find(mdia, [b"mdhd"]) or b"")
    draft = _Draft(handler, _seconds(times), times[0] if times else None, track_id)
    stts = _find(mdia, [b"minf", b"stbl", b"stts"])
    last_key = _last_sync_sample(_find(mdia, [b"minf", b"stbl", b"stss"])) if handler == "vide" else None
    if stts is not None and len(stts) >= 8:
        count = min(struct.unpack(">I", stts[4:8])[0], (len(stts) - 8) // 8)
        for i in range(count):
            n, delta = struct.unpack(">II", stts[8 + 8 * i:16 + 8 * i])
            if last_key is not None and draft.last_key_ticks is None and draft.samples + n >= last_key:
                draft.last_key_ticks = draft.ticks + (last_key - 1 - draft.samples) * delta
            draft.samples += n
            draft.ticks += n * delta
    stsz = _find(mdia, [b"minf", b"stbl", b"stsz"])
    if stsz is not None and len(stsz) >= 12:
        size, count = struct.unpack(">II", stsz[4:12])
        if size:
            draft.sample_bytes = size * count
        else:
            listed = min(count, (len(stsz) - 12) // 4)
            draft.sample_bytes = sum(struct.unpack(f">{listed}I", stsz[12:12 + 4 * listed]))
    stsd = _find(mdia, [b"minf", b"stbl", b"stsd"])
    if stsd is not None and handler == "soun":
        _read_audio_entry(stsd, draft)
    return draft


def _last_sync_sample(stss: bytes | None) -> int | None:
    """The number (1-based) of a video track's last keyframe (stss); None without the table (every sample is one:
    the caller then knows nothing it can use) or with an empty or broken one."""
    if stss is None or len(stss) < 12:
        return None
    count = min(struct.unpack(">I", stss[4:8])[0], (len(stss) - 8) // 4)
    return struct.unpack(">I", stss[8 + 4 * (count - 1):12 + 4 * (count - 1)])[0] if count else None


def _read_audio_entry(stsd: bytes, draft: _Draft) -> None:
    """The first audio sample entry: its codec, its own sample rate, and samples per frame if fixed."""
    if len(stsd) < 8 + 36:
        return
    entry_size, entry_type = struct.unpack(">I4s", stsd[8:16])
    entry = stsd[16:8 + entry_size] if entry_size >= 36 else b""
    if len(entry) < 28:
        return
    version = struct.unpack(">H", entry[8:10])[0]        # QuickTime sound entries v1/v2 carry more fields
    entry_rate = struct.unpack(">I", entry[24:28])[0] >> 16   # 16.16 fixed point
    draft.sample_rate = entry_rate or None
    if version != 0:
        return
    esds = _find(entry[28:], [b"esds"]) if entry_type == b"mp4a" else None
    frames = audio_frames(entry_type, entry_rate, esds)
    if frames:
        draft.samples_per_frame, draft.frame_rate = frames


def _read_moof(moof: bytes, drafts: dict[int | None, _Draft]) -> None:
    """Add each traf's trun sample counts and durations to its track."""
    for kind, traf in _children(moof):
        if kind != b"traf":
            continue
        tfhd = _find(traf, [b"tfhd"])
        if tfhd is None or len(tfhd) < 8:
            continue
        flags = int.from_bytes(tfhd[1:4], "big")
        track_id = _u32(tfhd, 4)
        draft = drafts.get(track_id)
        if draft is None:
            continue
        pos = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
        default = _u32(tfhd, pos) if flags & 0x08 else draft.default_duration
        for inner, trun in _children(traf):
            if inner == b"trun":
                _add_trun(trun, default or 0, draft)


def _add_trun(trun: bytes, default: int, draft: _Draft) -> None:
    if len(trun) < 8:
        return
    flags = int.from_bytes(trun[1:4], "big")
    count = struct.unpack(">I", trun[4:8])[0]
    pos = 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    width = 4 * len(fields)
    if width:
        count = min(count, (len(trun) - pos) // width)
    if not flags & 0x100:
        draft.samples += count
        draft.ticks += count * default
        return
    for i in range(count):
        draft.ticks += struct.unpack(">I", trun[pos + i * width:pos + i * width + 4])[0]
    draft.samples += count
