"""Stored files by their id (never by a path): the video with HTTP Range (206) so that the player can
seek, the download under its original name, and the original of a repaired file (kept as evidence). The
poster frame is ``thumbs.py``'s."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from core.textsafe import clean_name
from intake.desk.accounts import Account
from intake.desk.app import Desk

if TYPE_CHECKING:  # the database pulls in SQLAlchemy
    from storage.models import MediaFile

PLAYABLE = {"mp4": "video/mp4"}


REPAIRED_SUFFIX = ".mp4"   # what a remux or a shrink makes, whatever the sender's file was


def _stored(desk: Desk, request: Request, original: bool = False):
    """(media file, its path in the store) or None when there is no such file or it was never kept."""
    found = desk.db.stored_file(request.path_params["file_id"], original)
    if found is None or found[1] is None:
        return None
    media, relative = found
    root = desk.store.root.resolve()
    path = desk.store.path_of(relative).resolve()
    # The stored path comes from the database; it must still lie inside the store.
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return media, path


def stored_answer(request: Request, desk: Desk, make: Callable[[MediaFile, Path], Response | None],
                  original: bool = False) -> Response:
    """``make``'s answer for the stored file of the request's id (``original``: the content as it arrived, of
    a repaired file); 404 when there is none (or ``make`` has none)."""
    found = _stored(desk, request, original)
    answer = make(*found) if found is not None else None
    if answer is None:
        return JSONResponse({"error": "找不到这个文件（未保存，或已不在文件库中）。"}, status_code=404)
    return answer


def play(request: Request, desk: Desk, account: Account, form) -> Response:
    return stored_answer(request, desk, lambda media, path: FileResponse(
        path, media_type=PLAYABLE.get(media.container or "", "application/octet-stream"),
        content_disposition_type="inline"))


def download(request: Request, desk: Desk, account: Account, form) -> Response:
    """The file judged, under the sender's name; a repaired file (an MP4 made from a .mov, say) ends in .mp4."""
    return stored_answer(request, desk, lambda media, path: _attachment(desk, media, path, repaired=bool(media.repair)))


def download_original(request: Request, desk: Desk, account: Account, form) -> Response:
    """A repaired file's original as it arrived (404 for a file that was not repaired)."""
    return stored_answer(request, desk, lambda media, path: _attachment(desk, media, path, repaired=False),
                         original=True)


def _attachment(desk: Desk, media: MediaFile, path: Path, repaired: bool) -> Response:
    # A zip's video is named "作品.zip/文件夹/视频.mp4": the video's own name.
    name = clean_name(Path(media.original_name.replace("\\", "/")).name or f"文件{media.position + 1}")
    if repaired:
        name = clean_name(Path(name).stem + REPAIRED_SUFFIX)
    if desk.blind:   # the name a sender gave often names the unit
        name = f"作品{media.submission_id}-{media.position + 1}{Path(name).suffix.lower()[:6]}"
    return FileResponse(path, filename=name, media_type="application/octet-stream")
