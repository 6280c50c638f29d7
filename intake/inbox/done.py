"""done/: where a dropped file rests once it is recorded, beside its result note, in the folder of its outcome.

A name in done/ belongs to the submission its note (``<name>.结果.txt``) names; the note is made first,
exclusively, so a second file of the same name gets ``name (2).ext`` and nothing is ever replaced, except a
name whose note already names this submission (an earlier try stopped midway). When a recorded work's note
changes, it is written again; when its outcome changed, the file, its sidecars and the note first move to
the folder of the new outcome (same date, same subfolders), kept as a ``moved`` event.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from core.textsafe import clip_bytes, one_line
from core.timefmt import local_text
from intake.labels import OUTCOME_LABELS, actor_label
from intake.inbox.metadata import sidecars_of
from intake.pipeline.notes import note_owner, owner_line, write_result_note
from intake.pipeline.views import submission_view
from validators.results import Outcome

if TYPE_CHECKING:
    from intake.pipeline.services import Services

log = logging.getLogger(__name__)

NOTE_SUFFIX = ".结果.txt"
# The operator named in the audit log for what the folder watcher does (shown as 投递文件夹).
FOLDER_ACTOR = "folder-watcher"
MAX_COPIES = 10_000


def note_of(target: Path) -> Path:
    """The result note written beside a file in done/."""
    return target.with_name(target.name + NOTE_SUFFIX)


def numbered(target: Path, n: int) -> Path:
    """``name (n).ext`` beside ``target`` (``target`` itself for n = 1), within the 255 bytes a name may have."""
    if n == 1:
        return target
    stem, suffix = os.path.splitext(target.name)
    return target.with_name(clip_bytes(stem, 255 - len(f" ({n}){suffix}".encode())) + f" ({n}){suffix}")


def claim_name(target: Path, submission_id: int) -> Path:
    """A name in done/ for the submission's file: ``target`` or ``target (n)``, claimed by creating its note
    with O_EXCL (two workers never claim one name); a note naming this submission is an earlier try's."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, MAX_COPIES):
        candidate = numbered(target, n)
        note = note_of(candidate)
        if note_owner(note) == submission_id:
            return candidate
        if os.path.lexists(candidate) or os.path.lexists(note):
            continue
        try:
            fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            continue   # another worker claimed it just now
        try:
            # Whose the name is, until the whole note replaces this line: a try stopped here takes it again.
            os.write(fd, owner_line(submission_id).encode("utf-8-sig"))
        finally:
            os.close(fd)
        return candidate
    raise OSError(errno.EEXIST, f"{target} 及其编号 (2)…({MAX_COPIES - 1}) 都已被占用")


def free_name(target: Path, source_fd: int) -> Path:
    """``target``, or ``name (2).ext`` … if taken by a file with other content than ``source_fd``'s.

    For a sidecar, named after its video's claimed name: a file there with the same bytes is our own copy
    from an interrupted try."""
    for n in range(1, MAX_COPIES):
        candidate = numbered(target, n)
        if not os.path.lexists(candidate) or same_content(candidate, source_fd):
            return candidate
    raise OSError(errno.EEXIST, f"{target} 及其编号 (2)…({MAX_COPIES - 1}) 都已被占用")


def same_content(path: Path, fd: int) -> bool:
    """True if the regular file at ``path`` holds exactly the bytes of ``fd`` (size first, then SHA-256)."""
    try:
        other = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        a, b = os.fstat(other), os.fstat(fd)
        if not stat.S_ISREG(a.st_mode) or a.st_size != b.st_size:
            return False
        return _sha256(other, a.st_size) == _sha256(fd, b.st_size)
    finally:
        os.close(other)


def _sha256(fd: int, size: int) -> str:
    digest, offset = hashlib.sha256(), 0
    while offset < size:
        chunk = os.pread(fd, min(4 * 1024 * 1024, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def sidecar_target(video_target: Path, sidecar: Path) -> Path:
    """Where a sidecar goes: beside its video, under the video's name in done/ (so they stay a pair)."""
    return video_target.with_name(video_target.stem + sidecar.suffix)


# -- following the outcome ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshed:
    """The work's file in done/ after a change: where it is, where it was (None: not moved), and its note."""

    path: Path
    moved_from: Path | None
    note: Path


def follow_outcome(services: Services, submission_id: int, reason: str, actor: str | None = None
                   ) -> Refreshed | None:
    """The folder submission's file in done/, in the folder of its outcome now, with its note written again.

    ``reason`` is shown in the note (重新检查, 修改信息…). None when the work has no file in done/ or the file is
    gone: that is logged, never raised, for the change itself is recorded already."""
    db, done = services.db, services.config.watch.done
    moves = [e for e in db.audit.events(submission_id) if e.kind == "moved" and isinstance(e.data, dict)]
    if not moves or not moves[-1].data.get("to"):
        return None
    here = Path(moves[-1].data["to"])
    view = submission_view(db, submission_id)
    label = OUTCOME_LABELS[Outcome(view["outcome"])]
    try:
        parts = here.relative_to(done).parts
    except ValueError:
        parts = ()
    if len(parts) < 2 or parts[0] not in OUTCOME_LABELS.values():
        log.warning("作品 #%s 的文件 %s 不在处理结果文件夹 %s 的结果目录下，未移动，结果说明也未更新。",
                    submission_id, one_line(str(here)), done)
        return None
    if not os.path.lexists(here):
        log.warning("作品 #%s 的文件已不在 %s（可能被人移走），未移动，结果说明也未更新。", submission_id,
                    one_line(str(here)))
        return None
    from storage.writers import current_actor

    who = actor_label(actor or current_actor())
    updated = f"{local_text(datetime.now(timezone.utc))}（{reason}，操作人：{who}）"
    if parts[0] == label:
        note = write_result_note(note_of(here), view, updated=updated)
        return Refreshed(here, None, note)
    try:
        target = claim_name(done / label / Path(*parts[1:]), submission_id)
        os.rename(here, target)   # within done/: one file system, and the claimed name holds only our note
    except OSError as exc:
        log.warning("作品 #%s 的结果已改为%s，但无法把 %s 移到%s文件夹：%s", submission_id, label,
                    one_line(str(here)), label, exc.strerror or exc)
        return None
    for sidecar in sidecars_of(here):
        _move_along(sidecar, sidecar_target(target, sidecar))
    note = write_result_note(note_of(target), view, updated=updated)
    if note_owner(note_of(here)) == submission_id:
        note_of(here).unlink(missing_ok=True)
    db.audit.record("moved", {"from": one_line(str(here)), "to": one_line(str(target)), "note": one_line(str(note)),
                              "reason": reason}, submission_id=submission_id, actor=actor)
    log.info("作品 #%s 的结果改为%s，已把 %s 移到 %s", submission_id, label, one_line(str(here)),
             one_line(str(target)))
    return Refreshed(target, here, note)


def _move_along(sidecar: Path, target: Path) -> None:
    """A sidecar follows its video within done/; one already there under that name is left alone."""
    try:
        fd = os.open(sidecar, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.rename(sidecar, free_name(target, fd))
    except OSError as exc:
        log.warning("说明文件 %s 未能随作品移动：%s", one_line(str(sidecar)), exc.strerror or exc)
    finally:
        os.close(fd)
