"""Real media for tests, made with ffmpeg at test time (tiny frames keep long clips cheap)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

FFMPEG = shutil.which("ffmpeg")
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
