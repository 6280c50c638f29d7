"""Name what a file really is from its first bytes, whatever its extension says."""

from __future__ import annotations

from pathlib import Path

SNIFF_BYTES = 4096

# (code, Chinese name) for what we can recognise.
KINDS = {
    "mp4": "MP4 视频",
    "quicktime": "QuickTime（.mov）视频",
    "mkv": "MKV（Matroska）视频",
    "webm": "WebM 视频",
    "avi": "AVI 视频",
    "flv": "FLV 视频",
    "mpeg_ts": "MPEG-TS（.ts）视频",
    "mpeg_ps": "MPEG-PS（.mpg/.vob）视频",
    "wmv": "WMV/ASF 视频",
    "hls": "HLS 播放列表（.m3u8 文本，不是视频）",
    "avif": "AVIF 图片或动图",
    "heif": "HEIF/HEIC 图片或动图",
    "jpeg": "JPEG 图片",
    "png": "PNG 图片",
    "gif": "GIF 图片",
    "bmp": "BMP 图片",
    "pdf": "PDF 文档",
    "zip": "ZIP 压缩包",
    "rar": "RAR 压缩包",
    "7z": "7z 压缩包",
    "office": "Office 文档",
    "text": "文本文件",
    "empty": "空文件（0 字节）",
    "unknown": "无法识别的文件",
}

# HEIF and AVIF image or image-sequence major brands: (kind, what the file really is).
# The major brand decides; compatible brands never turn one of these into a video.
IMAGE_BRANDS = {
    "avif": ("avif", "AVIF 图片"),
    "avis": ("avif", "AVIF 动图（图像序列）"),
    "heic": ("heif", "HEIC 图片"),
    "heix": ("heif", "HEIC 图片"),
    "heim": ("heif", "HEIC 图片"),
    "hevc": ("heif", "HEIC 动图（图像序列）"),
    "hevx": ("heif", "HEIC 动图（图像序列）"),
    "heis": ("heif", "HEIC 动图（图像序列）"),
    "mif1": ("heif", "HEIF 图片"),
    "msf1": ("heif", "HEIF 动图（图像序列）"),
}


# Signatures at the start of a file, tried in this order after the ISO-BMFF ones.
MAGIC = [
    (b"\x1a\x45\xdf\xa3", "mkv"), (b"FLV", "flv"), (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "wmv"),
    (b"\x00\x00\x01\xba", "mpeg_ps"), (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"),
    (b"GIF89a", "gif"), (b"%PDF", "pdf"), (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"), (b"\xd0\xcf\x11\xe0", "office"),
]


def sniff(path: Path) -> str:
    """Return a key of KINDS for the file at ``path``."""
    with path.open("rb") as fh:
        return sniff_bytes(fh.read(SNIFF_BYTES))


def sniff_bytes(head: bytes) -> str:
    if not head:
        return "empty"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "quicktime"
        image = IMAGE_BRANDS.get(brand.decode("latin-1"))
        return image[0] if image else "mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        # ISO-BMFF without ftyp: old QuickTime writes files like this.
        return "quicktime"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head[0:1] == b"\x47" and len(head) > 376 and head[188:189] == b"\x47" and head[376:377] == b"\x47":
        return "mpeg_ts"
    if head.startswith(b"BM") and len(head) > 14:
        return "bmp"
    kind = next((kind for magic, kind in MAGIC if head.startswith(magic)), None)
    if kind == "mkv" and b"webm" in head[:64]:
        return "webm"
    if kind:
        return kind
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U"):
        return "hls"
    return "text" if _looks_like_text(head) else "unknown"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        for sample in (head, head[:-3]):   # a multi-byte character may be cut at the end of the sample
            try:
                sample.decode(encoding)
                return True
            except UnicodeDecodeError:
                pass
    return False
