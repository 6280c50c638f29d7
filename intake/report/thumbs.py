"""Poster-frame thumbnails of stored videos, made once by ffmpeg (through the children registry, so that a stop
signal ends it) and cached beside the store."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from pathlib import Path

import ffmpeg as ffmpeg_python

from validators import children
from validators.tools import SAFE_INPUT, ffmpeg_exe

log = logging.getLogger(__name__)
WIDTH = 192


def poster_path(store_root: Path, sha256: str) -> Path:
    """Where the poster of the video ``sha256`` is kept, for the report and the desk alike: made once."""
    return store_root / "thumbs" / f"{sha256}.jpg"


def thumbnail(store_root: Path, video: Path, sha256: str, duration: float | None, timeout: float = 60) -> Path | None:
    """The cached JPEG for ``sha256``, made from ``video`` if missing; None if it cannot be made."""
    target = poster_path(store_root, sha256)
    if target.exists():
        return target
    if not video.exists():
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(f".{uuid.uuid4().hex[:12]}.part.jpg")   # unique: several may make it at once
    at = min(1.0, (duration or 0) / 2)
    args = (ffmpeg_python.input(str(video.resolve()), ss=f"{at:.2f}", **SAFE_INPUT)
            .output(str(temp), vframes=1, vf=f"scale={WIDTH}:-2", **{"q:v": 6})
            .global_args("-nostdin", "-hide_banner", "-v", "error", "-y").compile(cmd=ffmpeg_exe()))
    try:
        done = children.run(args, timeout=timeout)
        if done.returncode != 0:
            raise OSError(done.stderr.decode("utf-8", "replace")[-300:].strip() or f"ffmpeg 退出码 {done.returncode}")
        temp.replace(target)
        return target
    except (subprocess.SubprocessError, OSError, children.Cancelled) as exc:
        log.warning("无法为 %s 生成缩略图：%s", video.name, str(exc) or exc.__class__.__name__)
        temp.unlink(missing_ok=True)
        return None


def data_uri(path: Path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
