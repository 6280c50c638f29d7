"""One dropped file (or zip) in the inbox: build its task, record it, answer with a note, move it to done/.

Order matters for "nothing lost, nothing twice": the submission is committed
first (keyed by a source_ref built from the path, size and mtime), then the
note is written, then the sidecars and finally the file leave the inbox. A
restart after a kill at any point finds the ref recorded and only finishes
the note and the move.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from intake import failpoints
from intake.archives import remove_tree, unpack_zip
from intake.config import WatchConfig
from intake.metadata import (
    METADATA_SUFFIXES,
    SIDECAR_SUFFIXES,
    TRANSCRIPT_SUFFIXES,
    metadata_for,
    parse_sidecar,
    sidecars_of,
    transcripts_beside,
)
from intake.notes import write_result_note
from intake.pipeline import Services, process
from intake.task import MediaTask, SubmissionTask
from intake.timefmt import SHANGHAI
from storage.database import DuplicateSource, worker_id
from validators.results import OUTCOME_LABELS, Outcome
from validators.sniff import sniff

log = logging.getLogger(__name__)

IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
IGNORED_SUFFIXES = (".part", ".crdownload", ".tmp", ".download", ".partial")


@dataclass(frozen=True)
class Finished:
    source: Path
    submission_id: int
    outcome: Outcome
    moved_to: Path
    note: Path
    resumed: bool          # recorded by an earlier run; only the move was finished now


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
    """A file that is a submission on its own (sidecars travel with their video)."""
    if is_ignored(path, inbox) or path.suffix.lower() in SIDECAR_SUFFIXES:
        return False
    return path.is_file() and not path.is_symlink()


def scan_inbox(inbox: Path, exclude: tuple[Path, ...] = ()) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(inbox):
        root_path = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__MACOSX"
                   and (root_path / d) not in exclude]
        for name in files:
            path = root_path / name
            if is_submission_file(path, inbox):
                found.append(path)
    return sorted(found)


def source_ref_for(path: Path, inbox: Path, st: os.stat_result) -> str:
    relative = path.relative_to(inbox).as_posix()
    return f"folder:{relative}:{st.st_size}:{st.st_mtime_ns}"


def handle_dropped(path: Path, services: Services, watch: WatchConfig) -> Finished | None:
    """Record ``path`` once and move it out of the inbox; None if another worker has it now.

    Raises IntakeError on a fault; the file then stays in the inbox for a later try.
    """
    st = path.stat()
    ref = source_ref_for(path, watch.inbox, st)
    db, worker = services.db, worker_id()
    if not db.claim(ref, worker, services.config.database.claim_lease_seconds):
        return None
    try:
        submission_id = db.submission_id_for_ref(ref)
        resumed = submission_id is not None
        if submission_id is None:
            work = services.config.storage.data_dir / "work" / uuid.uuid4().hex
            try:
                task = build_task(path, st, ref, watch, work)
                process(task, services)
                submission_id = task.submission_id
            except DuplicateSource as exc:  # recorded meanwhile by a worker whose lease had run out
                submission_id, resumed = exc.submission_id, True
            finally:
                remove_tree(work)
        return finish(path, submission_id, services, watch, resumed)
    finally:
        db.release(ref, worker)


def build_task(path: Path, st: os.stat_result, ref: str, watch: WatchConfig, work: Path) -> SubmissionTask:
    meta = metadata_for(path, watch.inbox)
    task = SubmissionTask(
        source="folder", source_ref=ref,
        # st_ctime is when the file last changed here: when its copy into the inbox finished.
        received_at=datetime.fromtimestamp(st.st_ctime, timezone.utc),
        title=meta.title or path.stem)
    if path.suffix.lower() == ".zip" or sniff(path) == "zip":
        unpacked = unpack_zip(path, work, watch.max_zip_entries, watch.max_zip_total_bytes)
        task.checks.append(unpacked.check)
        for sidecar in unpacked.sidecars:
            if sidecar.suffix.lower() in METADATA_SUFFIXES:
                meta = meta.fill_from(parse_sidecar(sidecar))
        transcripts = [(p.name, p.read_bytes()[:1024 * 1024]) for p in unpacked.sidecars
                       if p.suffix.lower() in TRANSCRIPT_SUFFIXES]
        task.files = [MediaTask(source_path=p, original_name=name, transcripts=transcripts)
                      for p, name in unpacked.videos]
    else:
        task.files = [MediaTask(source_path=path, original_name=path.name, transcripts=transcripts_beside(path))]
    task.unit, task.contact, task.phone = meta.unit, meta.contact, meta.phone
    return task


def finish(path: Path, submission_id: int, services: Services, watch: WatchConfig, resumed: bool) -> Finished:
    view = services.db.submission_view(submission_id)
    outcome = Outcome(view["outcome"])
    received = datetime.fromisoformat(view["received_at"]).astimezone(SHANGHAI)
    relative = path.relative_to(watch.inbox)
    folder = watch.done / OUTCOME_LABELS[outcome] / received.strftime("%Y-%m-%d") / relative.parent
    target = free_name(folder / path.name, path)
    failpoints.reached("after_record")
    note = write_result_note(target.with_name(target.name + ".结果.txt"), view)
    failpoints.reached("after_note")
    for sidecar in sidecars_of(path):
        move_file(sidecar, free_name(folder / sidecar.name, sidecar))
    move_file(path, target)
    services.db.record_event("moved", {"from": str(path), "to": str(target), "note": str(note)},
                             submission_id=submission_id, actor="folder-watcher")
    log.info("作品 #%s（%s）已移到 %s", submission_id, OUTCOME_LABELS[outcome], target)
    return Finished(path, submission_id, outcome, target, note, resumed)


def free_name(target: Path, source: Path) -> Path:
    """``target``, or ``name (2).ext`` … if taken by a different file."""
    candidate, n = target, 1
    while candidate.exists():
        if _same_file_content(candidate, source):
            return candidate   # an interrupted cross-device move left a complete copy
        n += 1
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
    return candidate


def _same_file_content(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return sa.st_size == sb.st_size and sa.st_mtime_ns == sb.st_mtime_ns


def move_file(source: Path, target: Path) -> None:
    """Rename if we can; across devices copy to a temp name, fsync, rename, then delete the source."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    shutil.copy2(source, temp)
    with temp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(temp, target)
    source.unlink()
