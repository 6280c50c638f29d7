"""The entry page's pictures of a stored video: the player's poster frame, the strip of frames evenly spaced
over it, and the frames where the secrecy scan found something. Each set is made by one ffmpeg run as a job
(``jobs.py``), cached under the content's SHA-256, and served by stored-file id and index, never by a path or a
time the request chooses. The page asks ``/api/pictures/{file_id}`` (which starts the jobs) until a set is
ready, so it shows no broken images while they are made.

ffmpeg reads the local stored file only, through the mp4 demuxer (``SAFE_INPUT``), seeking each input to its
time; it runs through the children registry, so that a stop signal ends it, and is stopped after ``TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from core.numbers import duration_text
from intake.desk.base import Desk
from intake.desk.files import NO_FILE, stored_file
from intake.desk.guard import allowed, seen
from intake.desk.jobs import Job, JobFailed
from intake.report.thumbs import poster_path, thumbnail
from storage.records import StoredFile
from validators import children
from validators.tools import SAFE_INPUT_ARGS, ffmpeg_exe

log = logging.getLogger(__name__)

FRAMES = 8
WIDTH = 160
FINDING_WIDTH = 640   # a finding's still shows the text that was read
TIMEOUT = 30.0
BUSY = "缩略图正在生成，请稍后再看。"
NO_PICTURE = "无法从这个视频生成画面。"
WAIT_SECONDS = 3.0    # a request waits this long (holding no thread) for its picture, then answers 503


def frame_times(duration: float | None) -> list[float]:
    """The times of the strip's frames: the middles of ``FRAMES`` equal spans of the video (none if unknown)."""
    if not duration or duration <= 0:
        return []
    return [round(duration * (i + 0.5) / FRAMES, 2) for i in range(FRAMES)]


def strip_of(file_id: int, duration: float | None) -> list[dict[str, Any]]:
    """What the entry page shows for one video: each frame's URL, its time (for the player) and the time as read."""
    return [{"src": f"/thumbs/{file_id}/{i}", "at": at, "label": duration_text(at) or "0秒"}
            for i, at in enumerate(frame_times(duration))]


def frame_path(folder: Path, sha256: str, index: int) -> Path:
    return folder / sha256[:2] / f"{sha256}-{index}.jpg"


def make_strip(folder: Path, video: Path, sha256: str, duration: float | None, timeout: float = TIMEOUT) -> bool:
    """Make the strip's frames for ``sha256`` from ``video``; whether it could."""
    times = frame_times(duration)
    return bool(times) and make_frames(folder, video, sha256, times, WIDTH, timeout)


def make_frames(folder: Path, video: Path, key: str, times: list[float], width: int, timeout: float = TIMEOUT) -> bool:
    """The frames at ``times`` of ``video``, ``width`` wide, as the set ``key``; whether they could be made."""
    target = frame_path(folder, key, 0).parent
    target.mkdir(parents=True, exist_ok=True)
    # Unique names: another desk process (intake run's and intake serve's) may make the same strip at once.
    job = uuid.uuid4().hex[:12]
    temps = [target / f"{key}-{i}.{job}.part.jpg" for i in range(len(times))]
    # One process, one input per time: each input seeks on its own, so only a few frames are decoded.
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-y"]
    for at in times:
        args += [*SAFE_INPUT_ARGS, "-ss", f"{at:.2f}", "-i", str(video.resolve())]
    for index, temp in enumerate(temps):
        args += ["-map", f"{index}:v:0", "-frames:v", "1", "-vf", f"scale='min({width},iw)':-2", "-q:v", "7", str(temp)]
    try:
        done = children.run(args, timeout=timeout)
        if done.returncode != 0 or not all(t.is_file() and t.stat().st_size for t in temps):
            raise OSError(done.stderr.decode("utf-8", "replace")[-500:].strip() or "ffmpeg 没有给出全部画面")
        # The first frame is renamed last: its presence says the whole strip is there.
        for index in reversed(range(len(temps))):
            temps[index].replace(frame_path(folder, key, index))
        return True
    except (subprocess.SubprocessError, OSError, children.Cancelled) as exc:
        log.warning("无法为 %s 生成缩略图条：%s", video.name, str(exc) or exc.__class__.__name__)
        for temp in temps:
            temp.unlink(missing_ok=True)
        return False


@dataclass(frozen=True)
class Picture:
    """One picture of a stored file: where it is served from, its set (the job's key, and the file whose presence
    says the set is made), and how the set is made."""

    path: Path
    key: str
    marker: Path
    make: Callable[[], bool]

    def ready(self) -> bool:
        return self.marker.is_file() and self.path.is_file()

    def work(self, job: Job) -> None:
        job.report("正在生成画面……")
        if not self.make():
            raise JobFailed(NO_PICTURE, 404)


def poster_of(desk: Desk, media: StoredFile, path: Path) -> Picture | None:
    if not media.video_codec:
        return None
    target = poster_path(desk.store.root, media.sha256)
    return Picture(target, f"poster:{media.sha256}", target, lambda: thumbnail(
        desk.store.root, path, media.sha256, media.duration_seconds, timeout=TIMEOUT) == target)


def strip_picture(desk: Desk, media: StoredFile, path: Path, index: int = 0) -> Picture | None:
    folder = desk.config.storage.data_dir / "thumbs" / "strips"
    if not (media.video_codec and frame_times(media.duration_seconds) and 0 <= index < FRAMES):
        return None
    return Picture(frame_path(folder, media.sha256, index), f"strip:{media.sha256}", frame_path(folder, media.sha256, 0),
                   lambda: make_strip(folder, path, media.sha256, media.duration_seconds))


def finding_picture(desk: Desk, media: StoredFile, path: Path, index: int = 0) -> Picture | None:
    """A still where the secrecy scan saw something on screen, at the times its latest check recorded."""
    times = []
    for check in desk.db.submissions.get(media.submission_id).checks:
        if check.check_id == "sensitive_content" and check.media_file_id == media.id:
            times += [float(item["seconds"]) for item in (check.details or {}).get("found") or []
                      if item.get("kind") == "ocr" and isinstance(item.get("seconds"), (int, float))]
    if not (media.video_codec and 0 <= index < len(times)):
        return None
    digest = hashlib.sha256(",".join(f"{t:.2f}" for t in times).encode()).hexdigest()[:12]
    key = f"{media.sha256}-found-{digest}"   # the content and the times: a recheck may find others
    folder = desk.config.storage.data_dir / "thumbs" / "findings"
    return Picture(frame_path(folder, key, index), f"findings:{key}", frame_path(folder, key, 0),
                   lambda: make_frames(folder, path, key, times, FINDING_WIDTH))


async def _served(request: Request, choose: Callable[..., Picture | None], *args) -> Response:
    """The picture ``choose`` names, made by a job if need be; 503 when that takes longer than WAIT_SECONDS."""
    desk = seen(request)

    def find() -> Picture | None:
        found = stored_file(desk, request.path_params["file_id"])
        return choose(desk, *found, *args) if found is not None else None

    picture = await run_in_threadpool(find)
    if picture is None:
        return JSONResponse({"error": NO_FILE}, status_code=404)
    if not picture.ready():
        job = desk.pictures.start(picture.key, picture.work)
        if not await job.wait(WAIT_SECONDS):
            return Response(BUSY, status_code=503, headers={"Retry-After": "2"}, media_type="text/plain; charset=utf-8")
        if job.state == "failed" or not picture.ready():
            return JSONResponse({"error": job.error or NO_PICTURE}, status_code=job.status if job.error else 404)
    return FileResponse(picture.path, media_type="image/jpeg")


@allowed()
async def poster(request: Request) -> Response:
    """The poster frame of a stored video (``/thumbs/{file_id}``); 404 when there is none."""
    return await _served(request, poster_of)


@allowed()
async def strip_frame(request: Request) -> Response:
    """One frame of a stored video's strip (``/thumbs/{file_id}/{index}``); 404 when there is none."""
    return await _served(request, strip_picture, request.path_params["index"])


@allowed()
async def finding_frame(request: Request) -> Response:
    """The still of a stored video at its ``index``-th finding on screen (``/findings/{file_id}/{index}``)."""
    return await _served(request, finding_picture, request.path_params["index"])


@allowed()
def pictures_state(request: Request) -> Response:
    """``/api/pictures/{file_id}``: for the poster, the strip and the finding stills each, ``ready``, ``making`` (a
    job is started if none is) or ``none``."""
    desk = seen(request)
    found = stored_file(desk, request.path_params["file_id"])
    if found is None:
        return JSONResponse({"error": NO_FILE}, status_code=404)
    state = {}
    for name, choose in (("poster", poster_of), ("strip", strip_picture), ("findings", finding_picture)):
        picture = choose(desk, *found)
        if picture is None:
            state[name] = "none"
        elif picture.ready():
            state[name] = "ready"
        else:
            job = desk.pictures.start(picture.key, picture.work)
            state[name] = "none" if job.state == "failed" else "ready" if job.finished and picture.ready() else "making"
    return JSONResponse(state)
