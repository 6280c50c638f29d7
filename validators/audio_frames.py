"""How many samples an AAC or MP3 frame holds, and at what rate it plays, from an MP4 audio sample entry:
frames x samples per frame / rate is the length a player plays, whatever mdhd claims (validators.boxes)."""

from __future__ import annotations

AAC_OBJECT_TYPES = {0x40, 0x66, 0x67, 0x68}    # MPEG-4 audio, MPEG-2 AAC main/LC/SSR
MP3_OBJECT_TYPES = {0x69, 0x6B}                # MPEG-2 / MPEG-1 audio (layer III in practice)
# AudioObjectTypes whose frames are 1024 (or 960) samples: AAC main/LC/SSR/LTP, scalable, ER variants.
AAC_GA_TYPES = {1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22}
AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]


def audio_frames(entry_type: bytes, entry_rate: int, esds: bytes | None) -> tuple[int, int] | None:
    """(samples per frame, rate the frames play at) for AAC and MP3 sample entries, else None."""
    object_type, config = _es_decoder_config(esds) if esds else (None, b"")
    if entry_type == b"mp4a" and object_type in AAC_OBJECT_TYPES:
        parsed = _aac_config(config)
        if parsed is None:
            return None
        # The decoder plays AAC at the config's core rate (HE-AAC doubles both rate and frame size), so
        # that rate is the truth; the sample entry's rate (0 above 65535 Hz) is only the fallback.
        samples, core_rate = parsed
        rate = core_rate or entry_rate
        return (samples, rate) if rate else None
    if entry_type == b".mp3" or (entry_type == b"mp4a" and object_type in MP3_OBJECT_TYPES):
        # MPEG-1 layer III frames hold 1152 samples; the low-rate MPEG-2/2.5 ones hold 576.
        return (1152 if entry_rate >= 32000 else 576, entry_rate) if entry_rate else None
    return None


def _descriptor(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(tag, body start, body end) of the MPEG-4 descriptor at ``pos``."""
    if pos >= len(data):
        return None
    tag = data[pos]
    length, pos = 0, pos + 1
    for _ in range(4):
        if pos >= len(data):
            return None
        byte = data[pos]
        pos += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, pos, min(pos + length, len(data))


def _es_decoder_config(esds: bytes) -> tuple[int | None, bytes]:
    """(objectTypeIndication, DecoderSpecificInfo) from an esds body."""
    es = _descriptor(esds, 4)
    if not es or es[0] != 0x03 or es[1] + 3 > es[2]:
        return None, b""
    pos = es[1] + 2
    flags = esds[pos]
    pos += 1
    if flags & 0x80:
        pos += 2
    if flags & 0x40 and pos < len(esds):
        pos += 1 + esds[pos]
    if flags & 0x20:
        pos += 2
    dc = _descriptor(esds, pos)
    if not dc or dc[0] != 0x04 or dc[1] + 13 > dc[2]:
        return None, b""
    object_type = esds[dc[1]]
    dsi = _descriptor(esds, dc[1] + 13)
    if not dsi or dsi[0] != 0x05:
        return object_type, b""
    return object_type, esds[dsi[1]:dsi[2]]


def _aac_config(config: bytes) -> tuple[int, int] | None:
    """(samples per frame, core sample rate) from an AudioSpecificConfig, or None if not plain AAC."""
    value, left = int.from_bytes(config[:16], "big"), len(config[:16]) * 8

    def read(n: int) -> int:
        nonlocal left
        if n > left:
            raise ValueError("short AudioSpecificConfig")
        left -= n
        return (value >> left) & ((1 << n) - 1)

    def object_type() -> int:
        aot = read(5)
        return 32 + read(6) if aot == 31 else aot

    def rate() -> int:
        index = read(4)
        return read(24) if index == 15 else (AAC_RATES[index] if index < len(AAC_RATES) else 0)

    try:
        aot = object_type()
        core_rate = rate()
        read(4)                           # channel configuration
        if aot in (5, 29):                # explicit SBR/PS: the core's own type follows
            rate()
            aot = object_type()
        if aot not in AAC_GA_TYPES:
            return None
        frame_length_flag = read(1)
    except ValueError:
        return None
    return (960 if frame_length_flag else 1024), core_rate
