"""Matroska (MKV/WebM) content encodings, read from the file's EBML header before ffmpeg copies it.

A track may store its frames compressed, encrypted or with a common header stripped off, which the demuxer
puts back before every frame: 1,000 one-byte frames with a 1 MiB header become a gigabyte once copied into
an MP4. No camera or editor exporting a contest video uses them, so a track that declares any is not copied.
"""

from __future__ import annotations

from core.errors import Unreadable
from validators.opened import OpenedFile

EBML_HEADER = 0x1A45DFA3
SEGMENT = 0x18538067
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
CONTENT_ENCODINGS = 0x6D80
MAX_TRACKS_BYTES = 1024 * 1024
MAX_ELEMENTS = 10_000          # top-level elements looked at before Tracks (SeekHead, Info, Void …)


def _vint(data: bytes, at: int, keep_marker: bool) -> tuple[int, int]:
    """(value, length) of the variable-length integer at ``at``; an element ID keeps its marker bit."""
    if at >= len(data):
        raise Unreadable("cut short")
    first = data[at]
    length = 8 - first.bit_length() + 1
    if first == 0 or length > 8 or at + length > len(data):
        raise Unreadable("bad length")
    value = int.from_bytes(data[at:at + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = -1   # "unknown size"
    return value, length


def _element(data: bytes, at: int = 0) -> tuple[int, int, int]:
    """(id, size or -1, header length) of the element at ``at``."""
    element, id_length = _vint(data, at, keep_marker=True)
    size, size_length = _vint(data, at + id_length, keep_marker=False)
    return element, size, id_length + size_length


def _children(data: bytes):
    at = 0
    while at < len(data):
        element, size, header = _element(data, at)
        start = at + header
        if size < 0 or start + size > len(data):
            raise Unreadable("child runs past its parent")
        yield element, data[start:start + size]
        at = start + size


def has_content_encodings(f: OpenedFile) -> bool:
    """True if a track of the Matroska file ``f`` declares a content encoding, or if its header cannot be read
    far enough to tell (a file that hides its tracks is not copied either)."""
    try:
        element, size, header = _element(f.read_at(0, 12))
        if element != EBML_HEADER or size < 0:
            return True
        offset = header + size
        element, size, header = _element(f.read_at(offset, 12))
        if element != SEGMENT:
            return True
        end = f.size if size < 0 else min(f.size, offset + header + size)
        offset += header
        for _ in range(MAX_ELEMENTS):
            if offset >= end:
                break
            element, size, header = _element(f.read_at(offset, 12))
            if size < 0:
                break   # a cluster of unknown size (a live recording): the tracks come before it, or not at all
            if element == TRACKS:
                if size > MAX_TRACKS_BYTES:
                    return True
                body = f.read_at(offset + header, size)
                return any(child == CONTENT_ENCODINGS
                           for entry, entry_body in _children(body) if entry == TRACK_ENTRY
                           for child, _ in _children(entry_body))
            offset += header + size
    except Unreadable:
        return True
    return True   # no Tracks
