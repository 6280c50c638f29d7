"""Stored files by their id (never by a path): the video with HTTP Range (206) so that the player can seek, the
download under its original name, and the original of a repaired file (kept as evidence).

A judge under blind review gets neither the stored file nor its name: a sender's container tags (title, comment,
a phone's GPS position) travel with a file and any player shows them. Such a judge gets a copy without them
(``copy_without_metadata``, made once per content under ``data/blind``), named after the work's number.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from core.errors import IntakeError
from core.names import base_name, stem_of
from core.textsafe import clean_name
from intake.desk.base import Desk
from intake.desk.guard import allowed, seen
from intake.desk.jobs import Job, JobFailed
from storage.records import StoredFile
from validators.remux import RemuxFailed, copy_without_metadata

log = logging.getLogger(__name__)

PLAYABLE = {"mp4": "video/mp4"}
COPY_SECONDS = 120   # a 300 MB MP4 copies in a few seconds: a request may wait for one being made
NO_FILE = "找不到这个文件（未保存，或已不在文件库中）。"
NO_ORIGINAL = "匿名评审时不提供报送时的原文件。"
NO_COPY = "匿名评审时只提供 MP4 视频（去掉了文件信息的副本），这个文件不能提供。"
COPY_BUSY = "视频正在准备，请稍后再试。"


def stored_file(desk: Desk, file_id: int, original: bool = False) -> tuple[StoredFile, Path] | None:
    """(media file, its path in the store), or None when there is none (``original``: a repaired file's)."""
    found = desk.db.submissions.stored_file(file_id, original)
    if found is None or found[1] is None:
        return None
    media, relative = found
    root = desk.store.root.resolve()
    path = desk.store.path_of(relative).resolve()
    # The stored path comes from the database; it must still lie inside the store.
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return media, path


def _missing() -> Response:
    return JSONResponse({"error": NO_FILE}, status_code=404)


@allowed()
async def play(request: Request) -> Response:
    desk = seen(request)
    found = await run_in_threadpool(stored_file, desk, request.path_params["file_id"])
    if found is None:
        return _missing()
    media, path = found
    if desk.blind:
        return await _blind(desk, media, path, lambda copy: FileResponse(copy, media_type="video/mp4",
                                                                         content_disposition_type="inline"))
    return FileResponse(path, media_type=PLAYABLE.get(media.container or "", "application/octet-stream"),
                        content_disposition_type="inline")


@allowed()
async def download(request: Request) -> Response:
    """The file judged, under the sender's name; a repaired file (an MP4 made from a .mov, say) ends in .mp4."""
    desk = seen(request)
    found = await run_in_threadpool(stored_file, desk, request.path_params["file_id"])
    if found is None:
        return _missing()
    media, path = found
    if desk.blind:   # the name a sender gave often names the unit, and so do the file's tags
        return await _blind(desk, media, path, lambda copy: FileResponse(
            copy, filename=f"作品{media.submission_id}-{media.position + 1}.mp4", media_type="application/octet-stream"))
    return _attachment(media, path, repaired=bool(media.repair))


@allowed()
def download_original(request: Request) -> Response:
    """A repaired file's original as it arrived (404 for a file that was not repaired); never to a blind judge."""
    desk = seen(request)
    if desk.blind:
        return JSONResponse({"error": NO_ORIGINAL}, status_code=403)
    found = stored_file(desk, request.path_params["file_id"], original=True)
    return _attachment(*found, repaired=False) if found is not None else _missing()


def _attachment(media: StoredFile, path: Path, repaired: bool) -> Response:
    # A zip's video is named "作品.zip/文件夹/视频.mp4": the video's own name.
    name = clean_name(base_name(media.original_name) or f"文件{media.position + 1}")
    if repaired:
        name = clean_name(stem_of(name) + ".mp4")   # what a remux or a shrink makes, whatever the file was
    return FileResponse(path, filename=name, media_type="application/octet-stream")


async def _blind(desk: Desk, media: StoredFile, path: Path, answer: Callable[[Path], Response]) -> Response:
    """``answer`` with the copy of the stored MP4 without its tags (made by a job on the first request)."""
    if media.container != "mp4":
        return JSONResponse({"error": NO_COPY}, status_code=403)
    target = desk.config.storage.data_dir / "blind" / media.sha256[:2] / f"{media.sha256}.mp4"
    if not target.is_file():
        def work(job: Job) -> None:
            job.report("正在准备去掉文件信息的视频副本……")
            if not _make_copy(path, target):
                raise JobFailed(NO_COPY, 403)

        job = desk.copies.start(f"blind:{media.sha256}", work)
        if not await job.wait(COPY_SECONDS):
            return Response(COPY_BUSY, status_code=503, headers={"Retry-After": "5"},
                            media_type="text/plain; charset=utf-8")
        if job.state == "failed" or not target.is_file():
            return JSONResponse({"error": job.error or NO_COPY}, status_code=job.status if job.error else 403)
    return answer(target)


def _make_copy(path: Path, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f"{target.stem}.{uuid.uuid4().hex[:12]}.part.mp4")
    try:
        copy_without_metadata(path, temp, COPY_SECONDS)
        temp.replace(target)
        return True
    except (RemuxFailed, IntakeError, OSError) as exc:
        log.warning("无法生成匿名评审用的视频副本 %s：%s", path.name, getattr(exc, "reason", None) or exc)
        return False
    finally:
        temp.unlink(missing_ok=True)
