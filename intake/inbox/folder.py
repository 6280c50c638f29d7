"""One dropped file (or zip) in the inbox: build its task, record it, answer with a note, move it to done/.

Order matters for "nothing lost, nothing twice": the submission is committed first (keyed by the path, size,
mtime, device and inode), then the note is written, then the sidecars and the file leave the inbox; a restart
after a kill finds the ref recorded and only finishes. The file is read once through the inbox door and
counts as taken only if it is still the same file just before the record commits.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from core import failpoints
from core.errors import Cancelled, RefusedEntry, SourceChanged, Stopped, StorageError
from core.names import stem_of
from core.textsafe import clean_name, one_line
from core.timefmt import SHANGHAI
from intake.config import WatchConfig
from intake.pipeline.contest_rules import UnitMatcher
from intake.inbox.done import FOLDER_ACTOR, NOTE_SUFFIX, claim_name, free_name, note_of, sidecar_target
from intake.inbox.door import InboxFile, InboxMedia, open_dir_chain, relative_parts
from intake.labels import OUTCOME_LABELS
from intake.inbox.metadata import SIDECAR_SUFFIXES, metadata_for, sidecar_bytes, sidecars_of, transcripts_of
from intake.pipeline.notes import write_result_note
from intake.pipeline.services import Services
from intake.inbox.archives import unpack_archives
from intake.pipeline.record_once import Recorded, record_once
from intake.pipeline.task import MediaTask, SubmissionTask, TitleSource
from intake.pipeline.views import submission_view
from validators.results import Outcome
from validators.sniff import SNIFF_BYTES, sniff_bytes

log = logging.getLogger(__name__)

IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
IGNORED_SUFFIXES = (".part", ".crdownload", ".tmp", ".download", ".partial")
# Room left in a done/ name for the note's suffix and a " (99)" from claim_name.
NAME_RESERVE = len(NOTE_SUFFIX.encode("utf-8")) + 8
MAX_REF_PATH = 300
# Results that a copy still under way would also give: accepted only once the file has rested longer.
CUT_SHORT = {("integrity", "truncated"), ("container", "no_moov"), ("container", "empty_file"),
             ("archive", "corrupt_archive")}
LONG_SETTLE_FACTOR, LONG_SETTLE_MAX_EXTRA = 4, 300.0


@dataclass(frozen=True)
class Finished:
    source: Path
    submission_id: int
    outcome: Outcome
    moved_to: Path
    note: Path
    resumed: bool          # recorded by an earlier run; only the move was finished now


@dataclass
class FolderTask(SubmissionTask):
    """A dropped file's task: the file still open (``inbox_file``), checked unchanged just before the record."""

    inbox_file: InboxFile | None = None
    watch: WatchConfig | None = None

    def verify_source(self) -> None:
        """SourceChanged unless the file is still what was read; a cut-short result must also have rested longer
        (a copy that paused longer than the settle time looks finished: a writer that resumes is caught)."""
        source = self.inbox_file
        if source is None:
            return
        source.check_unchanged()
        if any((c.check_id, c.code) in CUT_SHORT for c in self.all_checks):
            settle = self.watch.settle_seconds
            wait = min(LONG_SETTLE_FACTOR * settle, settle + LONG_SETTLE_MAX_EXTRA) - source.age_seconds()
            if wait > 0:
                raise SourceChanged(f"{source.path} 看起来不完整，再等 {wait:.0f} 秒确认拷贝已经结束", retry_after=wait)


def is_ignored(path: Path, inbox: Path) -> bool:
    """Temporary, system and hidden files, and anything under __MACOSX."""
    try:
        parts = path.relative_to(inbox).parts
    except ValueError:
        return True
    name = parts[-1]
    lowered = name.lower()
    return (any(p.startswith(".") or p == "__MACOSX" for p in parts)
            or lowered in IGNORED_NAMES or lowered.endswith(IGNORED_SUFFIXES) or name.startswith("~$"))


def is_submission_file(path: Path, inbox: Path) -> bool:
    """A regular file (not a link) that is a submission on its own (sidecars travel with their video)."""
    if is_ignored(path, inbox) or path.suffix.lower() in SIDECAR_SUFFIXES:
        return False
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


PATH_MAX_BYTES = 4000   # below Linux's PATH_MAX (4096): deeper paths cannot be named by most calls


def scan_inbox(inbox: Path, exclude: tuple[Path, ...] = (), under: Path | None = None,
               on_skip: Callable[[Path, str], None] | None = None) -> list[Path]:
    """Submission files below ``under`` (default: the whole inbox), never through a linked folder.

    ``on_skip(path, reason)`` hears of each link, FIFO, device or over-long path left alone. Nothing met
    here raises: one odd entry must not stop the scan of the others."""
    from intake.inbox.door import is_real_folder, kind_name

    def skip(path: Path, reason: str) -> None:
        if on_skip and not is_ignored(path, inbox):
            on_skip(path, reason)

    def too_long(path: Path) -> bool:
        if len(os.fsencode(path)) <= PATH_MAX_BYTES:
            return False
        skip(path, f"路径太长（超过 {PATH_MAX_BYTES} 字节），无法处理；请把它移到层级较浅的文件夹中")
        return True

    top = under or inbox
    if too_long(top):
        return []
    if not is_real_folder(inbox, top):
        skip(top, "是链接文件夹，不会跟随（投递文件夹中不处理任何链接）")
        return []
    found = []
    for root, dirs, files in os.walk(top, followlinks=False):
        root_path = Path(root)
        kept = []
        for d in dirs:
            folder = root_path / d
            if d.startswith(".") or d == "__MACOSX" or folder in exclude or too_long(folder):
                continue
            try:
                linked = folder.is_symlink()
            except OSError:
                continue
            if linked:
                skip(folder, "是链接文件夹，不会跟随（投递文件夹中不处理任何链接）")
                continue
            kept.append(d)
        dirs[:] = kept
        for name in files:
            path = root_path / name
            if too_long(path):
                continue
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue   # gone meanwhile
            if stat.S_ISLNK(mode):
                skip(path, "是链接，不会跟随（投递文件夹中不处理任何链接）")
            elif not stat.S_ISREG(mode):
                skip(path, f"是{kind_name(mode)}，不是普通文件，不会读取")
            elif is_submission_file(path, inbox):
                found.append(path)
    return sorted(found)


def source_ref_for(path: Path, inbox: Path, source: InboxFile) -> str:
    """The idempotency key: where the file lies and which file it is (device, inode, size, mtime).

    A long or undecodable path is cut and completed by its hash, so the key stays short and storable.
    """
    raw = os.fsencode(path.relative_to(inbox).as_posix())
    relative = raw.decode("utf-8", "replace")
    if len(relative) > MAX_REF_PATH or "\ufffd" in relative:
        relative = f"{relative[:MAX_REF_PATH // 2]}…#{hashlib.sha256(raw).hexdigest()[:32]}"
    ident = source.identity
    return f"folder:{relative}:{ident.size}:{ident.mtime_ns}:{ident.dev}:{ident.ino}"


def handle_dropped(path: Path, services: Services, watch: WatchConfig,
                   stop: threading.Event | None = None) -> Finished | None:
    """Record ``path`` once and move it out of the inbox; None if another worker has it now.

    Raises RefusedEntry (never read), SourceChanged (try again once it settles), RetryLater (the file stays
    for a later try), Stopped, FileNotFoundError (gone), or IntakeError (the database or the store)."""
    with InboxFile.open(watch.inbox, path, stop) as source:
        if source.writers_active():
            raise SourceChanged(f"{path} 仍在被写入")
        return record_once(FolderItem(source, source_ref_for(path, watch.inbox, source), services, watch), services)


@dataclass
class FolderItem:
    """A dropped file as record_once takes it (see intake.pipeline.record_once.SourceItem)."""

    source: InboxFile
    ref: str
    services: Services
    watch: WatchConfig
    arrival = (unpack_archives,)

    def build(self, work: Path) -> FolderTask:
        """The dropped file's task. A file over the size limit is not read at all, not even to sniff a zip:
        only one named .zip is unpacked; anything else is judged by its size alone."""
        source, path, inbox, config = self.source, self.source.path, self.watch.inbox, self.services.config
        sidecars = sidecar_bytes(path, inbox)
        # The unit list tells the unit in a file name (柳北区-张伟-0772-2612345-网络安全.mp4) from the other parts.
        meta = metadata_for(path, inbox, sidecars, UnitMatcher(config.contest))
        name = one_line(path.name, 500) or "未命名文件"
        # Without a sidecar's 作品名, name_the_work names the work after its video (for a zip, the one inside).
        task = FolderTask(source="folder", source_ref=self.ref, received_at=received_at(source), title=meta.title,
                          title_source=meta.title_source, actor=FOLDER_ACTOR, inbox_file=source, watch=self.watch)
        readable = source.size <= config.rules.max_size_bytes
        if path.suffix.lower() == ".zip" or (readable and sniff_bytes(source.head(SNIFF_BYTES)) == "zip"):
            # Unpacked and checked by the unpack_archives stage, through this same descriptor.
            task.files = [InboxMedia(source_path=path, original_name=name, source=source, unpack_to=work)]
        else:
            task.files = [InboxMedia(source_path=path, original_name=name, source=source,
                                     transcripts=transcripts_of(sidecars))]
        task.unit, task.contact, task.phone = meta.unit, meta.contact, meta.phone
        return task

    def identity(self) -> FolderTask:
        """The identity of a dropped file alone, for recording a file that processing failed on."""
        name = one_line(self.source.path.name, 500) or "未命名文件"
        return FolderTask(source="folder", source_ref=self.ref, received_at=received_at(self.source),
                          actor=FOLDER_ACTOR, title=one_line(stem_of(name), 500) or name,
                          title_source=TitleSource.FILE_NAME,
                          files=[MediaTask(source_path=None, original_name=name, size_bytes=self.source.size)])

    def recorded_before(self, task: SubmissionTask) -> None:
        return None   # a file is its place in the inbox: there is no other name it was recorded under

    def triage(self, exc: Exception) -> Exception:
        if isinstance(exc, (SourceChanged, RefusedEntry, Stopped, FileNotFoundError)):
            raise exc   # not a failure of processing: the file comes round again
        if isinstance(exc, Cancelled):
            raise Stopped() from None   # a stop request ended a check midway: the file stays for the next run
        self.source.check_unchanged()   # a file that changed under us is not to blame for what followed
        return exc

    def finish(self, recorded: Recorded) -> Finished:
        source, submission_id, services, watch = self.source, recorded.submission_id, self.services, self.watch
        path = source.path
        view = submission_view(services.db, submission_id)
        outcome = Outcome(view["outcome"])
        received = datetime.fromisoformat(view["received_at"]).astimezone(SHANGHAI)
        relative = path.relative_to(watch.inbox)
        folder = (watch.done / OUTCOME_LABELS[outcome] / received.strftime("%Y-%m-%d")
                  / Path(*[clean_name(part) for part in relative.parent.parts]))
        # Never onto another file: a second file of this name (even the same video dropped again) gets " (2)".
        target = claim_name(folder / clean_name(path.name, reserve_bytes=NAME_RESERVE), submission_id)
        failpoints.reached("after_record")
        note = write_result_note(note_of(target), view)
        failpoints.reached("after_note")
        for sidecar in sidecars_of(path):
            _move_sidecar(sidecar, sidecar_target(target, sidecar), watch.inbox)
        try:
            source.move_to(target)
        except FileNotFoundError:
            raise
        except OSError as exc:
            # Recorded already: only the move is left, and it is tried again (quietly, with backoff).
            raise StorageError(f"作品 #{submission_id} 已登记，但无法把文件 {one_line(path.name, 200)} 移出投递文件夹："
                               f"{exc.strerror or exc}",
                               "请检查该文件的权限（是否被设为只读或不可修改，如 chattr +i）和 done/ 文件夹是否可写；"
                               "处理好后会自动移走，不会重复登记。") from exc
        services.db.audit.record("moved", {"from": one_line(str(path)), "to": one_line(str(target)),
                                           "note": one_line(str(note))},
                                 submission_id=submission_id, actor=FOLDER_ACTOR)
        log.info("作品 #%s（%s）已移到 %s", submission_id, OUTCOME_LABELS[outcome], one_line(str(target)))
        for folder in remove_empty_folders(watch.inbox, path.parent, lambda f: kept_folder(f, services, watch)):
            log.info("已删除投递文件夹中的空文件夹 %s", one_line(str(folder)))
        return Finished(path, submission_id, outcome, target, note, recorded.resumed)


def received_at(source: InboxFile) -> datetime:
    # st_ctime is when the file last changed here: when its copy into the inbox finished.
    return datetime.fromtimestamp(source.ctime, timezone.utc)


def kept_folder(folder: Path, services: Services, watch: WatchConfig) -> bool:
    """Folders that stay even when empty: those whose name means a unit on the list, as the pipeline reads
    a unit folder (柳南, 柳南区委保密办: staff drop into them), the outcome folders (通过, 待复核, 不合格),
    and done/, the data folder and the store with their parents."""
    name = folder.name.strip()
    if name in {OUTCOME_LABELS[o] for o in Outcome} or UnitMatcher(services.config.contest).match(name).unit:
        return True
    protected = (watch.done, services.config.storage.data_dir, services.config.storage.root)
    return any(folder == p or folder in p.parents for p in protected)


def remove_empty_folders(inbox: Path, folder: Path, keep: Callable[[Path], bool]) -> list[Path]:
    """Remove ``folder``, then each parent below ``inbox``, while it is empty and ``keep`` does not protect it;
    return those removed. Each is reached through the door's chain of descriptors (no link followed), and
    ``rmdir`` removes only an empty folder and never follows a link."""
    removed: list[Path] = []
    try:
        parts = list(relative_parts(inbox, folder))
    except RefusedEntry:
        return removed   # the inbox itself, or not below it
    while parts and not keep(inbox.joinpath(*parts)):
        try:
            parent = open_dir_chain(inbox, tuple(parts[:-1]))
        except (RefusedEntry, OSError):
            break
        try:
            os.rmdir(parts[-1], dir_fd=parent)
        except OSError:
            break   # not empty (a file, a hidden file, a new copy), a link, or gone: left alone
        finally:
            os.close(parent)
        removed.append(inbox.joinpath(*parts))
        parts.pop()
    return removed


def _move_sidecar(sidecar: Path, target: Path, inbox: Path) -> None:
    try:
        with InboxFile.open(inbox, sidecar) as side:
            side.move_to(free_name(target, side.fd))
    except RefusedEntry as exc:
        log.warning("说明文件 %s 未移动：%s", exc.path, exc.reason)
    except FileNotFoundError:
        pass
