"""The entry page's pictures of a stored video: the player's poster frame, the strip of frames evenly spaced
over it, and the frames where the secrecy scan found something (at the times the check recorded, large enough
to read the text). Each set is made by one ffmpeg run on the first request and cached under the content's
SHA-256 (a second submission of the same file reuses them). Served by stored-file id and index, never by a path
or a time the request chooses.

ffmpeg reads the local stored file only, through the mp4 demuxer (``SAFE_INPUT``), seeking each input to its
time (fast: only the frames near each time are decoded), and is stopped after ``TIMEOUT`` seconds. Posters and
strips share the same bounds (``_made_once``): at most ``MAKERS`` ffmpegs at once (an entry page with twelve
videos asks for twelve posters at once; twenty reviewers open twenty entries), one job per content however many
requests ask for it, a failure remembered for ``RETRY_SECONDS``, and temporary files named uniquely.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import uuid
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from core.numbers import duration_text
from intake.desk.accounts import Account
from intake.desk.app import Desk
from intake.desk.files import stored_answer
from intake.desk.jobs import Jobs
from intake.report.thumbs import thumbnail
from storage.records import StoredFile
from validators.tools import SAFE_INPUT, ffmpeg_exe

log = logging.getLogger(__name__)

FRAMES = 8
WIDTH = 160
FINDING_WIDTH = 640   # a finding's still shows the text that was read
TIMEOUT = 30.0
MAKERS = 2
RETRY_SECONDS = 600
BUSY = "缩略图正在生成，请稍后再看。"
WAIT_SECONDS = 3.0
PICTURES = Jobs(MAKERS, WAIT_SECONDS, RETRY_SECONDS)   # posters and strips share the two ffmpegs


def frame_times(duration: float | None, count: int = FRAMES) -> list[float]:
    """The times of the strip's frames: the middles of ``count`` equal spans of the video (none if unknown)."""
    if not duration or duration <= 0:
        return []
    return [round(duration * (i + 0.5) / count, 2) for i in range(count)]


def strip_of(file_id: int, duration: float | None) -> list[dict[str, Any]]:
    """What the entry page shows for one video: each frame's URL, its time (for the player) and the time as read."""
    return [{"src": f"/thumbs/{file_id}/{i}", "at": at, "label": duration_text(at) or "0秒"}
            for i, at in enumerate(frame_times(duration))]


def strip_folder(desk: Desk) -> Path:
    return desk.config.storage.data_dir / "thumbs" / "strips"


def frame_path(folder: Path, sha256: str, index: int) -> Path:
    return folder / sha256[:2] / f"{sha256}-{index}.jpg"


def make_strip(folder: Path, video: Path, sha256: str, duration: float | None,
               timeout: float = TIMEOUT) -> bool | None:
    """Make the strip's frames for ``sha256`` from ``video`` unless they are there (see ``Jobs.made_once``).
    (A page asks for its eight frames at once; the first makes them all in about half a second, the others
    wait for it.)"""
    times = frame_times(duration)
    if not times:
        return False
    return make_frames(folder, video, sha256, times, WIDTH, "strip", timeout)


def make_frames(folder: Path, video: Path, key: str, times: list[float], width: int, kind: str,
                timeout: float = TIMEOUT) -> bool | None:
    """The frames at ``times`` of ``video``, ``width`` wide, as the set ``key`` (see ``Jobs.made_once``: one job
    per ``kind`` and key)."""
    return PICTURES.made_once(f"{kind}:{key}", frame_path(folder, key, 0).exists,
                              lambda: _run_ffmpeg(folder, video, key, times, width, timeout))


def poster_path(store_root: Path, sha256: str) -> Path:
    return store_root / "thumbs" / f"{sha256}.jpg"   # where the report keeps it too: made once for both


def make_poster(store_root: Path, video: Path, sha256: str, duration: float | None,
                timeout: float = TIMEOUT) -> bool | None:
    """The player's poster frame for ``sha256`` (see ``Jobs.made_once``)."""
    target = poster_path(store_root, sha256)
    return PICTURES.made_once(f"poster:{sha256}", target.exists,
                              lambda: thumbnail(store_root, video, sha256, duration, timeout=timeout) == target)


def _run_ffmpeg(folder: Path, video: Path, sha256: str, times: list[float], width: int, timeout: float) -> bool:
    target = frame_path(folder, sha256, 0).parent
    target.mkdir(parents=True, exist_ok=True)
    # Unique names: another desk process (intake run's and intake serve's) may make the same strip at once.
    job = uuid.uuid4().hex[:12]
    temps = [target / f"{sha256}-{i}.{job}.part.jpg" for i in range(len(times))]
    # One process, one input per time: each input seeks on its own, so only a few frames are decoded.
    safe = [arg for key, value in SAFE_INPUT.items() for arg in (f"-{key}", value)]
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y"]
    for at in times:
        args += [*safe, "-ss", f"{at:.2f}", "-i", str(video.resolve())]
    for index, temp in enumerate(temps):
        args += ["-map", f"{index}:v:0", "-frames:v", "1", "-vf", f"scale='min({width},iw)':-2", "-q:v", "7", str(temp)]
    try:
        subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=True)
        if not all(t.is_file() and t.stat().st_size for t in temps):
            raise OSError("ffmpeg 没有给出全部画面")
        # The first frame is renamed last: its presence says the whole strip is there.
        for index in reversed(range(len(temps))):
            temps[index].replace(frame_path(folder, sha256, index))
        return True
    except (subprocess.SubprocessError, OSError) as exc:
        said = getattr(exc, "stderr", None) or b""
        log.warning("无法为 %s 生成缩略图条：%s", video.name,
                    said.decode("utf-8", "replace")[-500:].strip() or exc.__class__.__name__)
        for temp in temps:
            temp.unlink(missing_ok=True)
        return False


def strip_frame(request: Request, desk: Desk, account: Account, form) -> Response:
    """One frame of a stored video's strip (``/thumbs/{file_id}/{index}``); 404 when there is none."""
    index = request.path_params["index"]

    def frame(media: StoredFile, path: Path) -> Response | None:
        folder = strip_folder(desk)
        if not (media.video_codec and 0 <= index < FRAMES):
            return None
        made = make_strip(folder, path, media.sha256, media.duration_seconds)
        if made is None:
            return Response(BUSY, status_code=503, headers={"Retry-After": "2"},
                            media_type="text/plain; charset=utf-8")
        return FileResponse(frame_path(folder, media.sha256, index), media_type="image/jpeg") if made else None

    return stored_answer(request, desk, frame)


def poster(request: Request, desk: Desk, account: Account, form) -> Response:
    """The poster frame of a stored video (``/thumbs/{file_id}``); 404 when there is none."""

    def frame(media: StoredFile, path: Path) -> Response | None:
        if not media.video_codec:
            return None
        made = make_poster(desk.store.root, path, media.sha256, media.duration_seconds)
        if made is None:
            return Response(BUSY, status_code=503, headers={"Retry-After": "2"},
                            media_type="text/plain; charset=utf-8")
        return FileResponse(poster_path(desk.store.root, media.sha256), media_type="image/jpeg") if made else None

    return stored_answer(request, desk, frame)


def finding_times(media: StoredFile, checks) -> list[float]:
    """When the secrecy scan saw something on screen in this file, as its latest check recorded it."""
    times = []
    for check in checks:
        if check.check_id == "sensitive_content" and check.media_file_id == media.id:
            times += [float(item["seconds"]) for item in (check.details or {}).get("found") or []
                      if item.get("kind") == "ocr" and isinstance(item.get("seconds"), (int, float))]
    return times


def finding_key(sha256: str, times: list[float]) -> str:
    """The cache key of a file's finding stills: its content and the times (a recheck may find others)."""
    digest = hashlib.sha256(",".join(f"{t:.2f}" for t in times).encode()).hexdigest()[:12]
    return f"{sha256}-found-{digest}"


def finding_frame(request: Request, desk: Desk, account: Account, form) -> Response:
    """The still of a stored video at its ``index``-th finding on screen (``/findings/{file_id}/{index}``),
    with the text that was read; 404 when there is none."""
    index = request.path_params["index"]

    def frame(media: StoredFile, path: Path) -> Response | None:
        times = finding_times(media, desk.db.submissions.get(media.submission_id).checks)
        if not (media.video_codec and 0 <= index < len(times)):
            return None
        folder, key = strip_folder(desk).parent / "findings", finding_key(media.sha256, times)
        made = make_frames(folder, path, key, times, FINDING_WIDTH, "findings")
        if made is None:
            return Response(BUSY, status_code=503, headers={"Retry-After": "2"},
                            media_type="text/plain; charset=utf-8")
        return FileResponse(frame_path(folder, key, index), media_type="image/jpeg") if made else None

    return stored_answer(request, desk, frame)
