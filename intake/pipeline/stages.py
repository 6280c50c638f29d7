"""The pipeline: plain stage functions over a SubmissionTask, assembled in one place.

Producers (``intake ingest``, the folder watcher, the mailbox poller) build a SubmissionTask and call ``process``
with their own arrival stages. Every stage is ``(task, services) -> None``: it reads the task and adds to it.

Why the stages run in this order:

1. The source's arrival stages (unpacking a zip, a mail's 超大附件 links and findings) first, so that every
   later stage sees the real videos and a task already rejected (a zip bomb) or explained (超大附件 links).
   ``name_the_work`` follows them: the title falls back on the first video's name, which a zip only gives
   once unpacked.
2. ``check_files_present`` after them: a submission without a video is rejected, unless it is rejected
   already or its video waits behind a download link.
3. ``store_files`` before ``inspect_files``: what is checked is the stored copy, the one we keep. A file over
   the size limit is neither stored nor opened. ``remux_near_misses`` right after: only the checks tell that a
   file failed its container alone, and only a stored original can be kept as evidence; the MP4 it makes is
   the file judged by every later stage. ``scan_files`` follows the remux, so that the opening phrase and the
   secrecy scan read the file judged once, whatever its other checks said.
4. ``take_opening_phrase`` reads the files' checks, so it follows them.
5. The submission checks need no file; the quota comes last of them because a rejected work does not take its
   unit's place.
6. ``confirm_source_unchanged`` right before ``record``: a dropped file counts as taken only if it is still
   what was read when the record commits.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from intake.pipeline.contact_info import check_contact_info
from intake.pipeline.contest_rules import UnitMatcher, check_deadline, check_quota, check_unit
from core.numbers import size_text
from core.timefmt import local_text
from intake.labels import OUTCOME_LABELS
from intake.pipeline.recording import record_submission
from intake.pipeline.repair import needs_remux, remux_file
from intake.pipeline.services import Services
from intake.pipeline.task import SubmissionTask
from validators.checks import check_size
from validators.content import content_checks
from validators.examine import examine_file, scan_unread
from validators.opened import OpenedFile
from validators.results import Status, failed, warned
from validators.sensitive import Unread, check_sensitive
from validators.texts import TextSource

log = logging.getLogger(__name__)

def store_files(task: SubmissionTask, services: Services) -> None:
    """Copy each file into the content-addressed store; an oversized one is never read (the producer keeps it)."""
    limit = services.config.rules.max_size_bytes
    for media in task.files:
        if media.blob is not None:
            continue   # stored already (a file looked at again)
        media.size_bytes = media.source_size()
        if media.size_bytes > limit:
            continue
        progress = services.progress(media.original_name, media.size_bytes) if services.progress else None
        media.blob = media.store_into(services.store, progress)
        if media.blob is not None:
            media.size_bytes = media.blob.size_bytes


def inspect_files(task: SubmissionTask, services: Services) -> None:
    """Run the media checks on the stored copy; a file too large to store is judged by its size alone."""
    rules = services.config.rules
    for media in task.files:
        if media.blob is None and media.size_bytes > rules.max_size_bytes:   # also a mail part never fetched
            if not any(c.check_id == "size" for c in media.extra_checks):
                media.extra_checks.append(check_size(media.size_bytes, rules))
            continue
        path = services.store.path_of(media.blob.relative_path) if media.blob else media.source_path
        if path is None:
            continue   # its checks were decided without the content (see mail intake)
        media.report = examine_file(path, services.config.rules, deep=services.deep, name=media.original_name,
                                    transcripts=media.transcripts, content=False)


def remux_near_misses(task: SubmissionTask, services: Services) -> None:
    """Copy the streams of a near-miss container into an MP4 without re-encoding (``rules.repair.remux``)."""
    if not services.config.rules.repair.remux:
        return
    for media in task.files:
        if needs_remux(media):
            remux_file(media, services)


def scan_files(task: SubmissionTask, services: Services) -> None:
    """The content checks (the opening phrase, and the secrecy scan over the whole video) of every file, whatever
    its other checks say: of the file judged (a remuxed file's MP4), of a file too large to store if it is here
    to read, and, for one never fetched, a result saying its picture was not seen."""
    rules = services.config.rules
    for media in task.files:
        if any(c.check_id == "sensitive_content" for c in media.checks):
            continue   # decided where it arrived (a mail part never fetched)
        if media.report is not None and media.blob is not None:
            with OpenedFile.open(services.store.path_of(media.blob.relative_path)) as opened:
                media.report.checks += content_checks(opened, media.report.kind, media.report.facts,
                                                      media.report.layout, rules, media.original_name,
                                                      media.transcripts)
        elif media.size_bytes > rules.max_size_bytes:
            media.extra_checks += _scan_oversized(media, rules)


def _scan_oversized(media, rules) -> list:
    """A file over the size limit is never stored; if it is here (a dropped file, ``intake ingest``), the secrecy
    scan still reads it where it is, through the descriptor it was opened on."""
    opened = media.open_source()
    if opened is not None:
        with opened:
            return scan_unread(opened, rules, media.original_name, media.transcripts)
    return [check_sensitive([TextSource("file_name", media.original_name)], rules.sensitive,
                            unread=Unread(f"文件超过 {size_text(rules.max_size_bytes)} 的大小上限，没有下载"))]


def check_files_present(task: SubmissionTask, services: Services) -> None:
    if not task.files and not task.rejected and not any(c.check_id == "large_attachment_link" for c in task.checks):
        task.checks.append(failed("files", "no_video", "没有收到视频文件。请把 MP4 视频作为附件发送，或放入投递文件夹。",
                                  advice="没有收到视频文件。请把 MP4 视频作为邮件附件（文件较大时可用超大附件）重新发送。"))


def duplicate_found(media, earlier: dict) -> None:
    """Called by the database, inside the recording transaction, for content an earlier submission brought."""
    if any(c.check_id == "duplicate" for c in media.extra_checks):
        return   # the transaction is being retried: the warning is already there
    when = local_text(earlier["received_at"])
    unit = earlier["unit"] or "未注明单位"
    media.extra_checks.append(warned(
        "duplicate", "duplicate",
        f"与第 {earlier['id']} 号作品（{unit}，{when} 收到）内容完全相同，是重复报送。请评审人员确认保留哪一份。",
        advice=f"这个视频在 {when} 已经收到过，内容完全相同，无需再次发送。",
        earlier_submission_id=earlier["id"]))


def take_opening_phrase(task: SubmissionTask, services: Services) -> None:
    """The speaker and topic of the first file whose opening phrase was found go onto the submission."""
    for media in task.files:
        for check in media.checks:
            if check.check_id == "opening_phrase" and check.status is Status.PASS:
                task.speaker = task.speaker or check.details.get("speaker")
                task.topic = task.topic or check.details.get("topic")
                return


def name_the_work(task: SubmissionTask, services: Services) -> None:
    """作品名: what a sidecar (beside the video or inside its zip) or the mail's text calls the work, else the
    video's file name; the mail subject only when nothing else names it (it stays in ``subject``)."""
    if not task.title:
        task.title, task.title_source = task.title_from_files()


def check_message_text(task: SubmissionTask, services: Services) -> None:
    """The mail subject and body: the files' own texts were looked at with each file."""
    texts = [TextSource(kind, text) for kind, text in (("subject", task.subject), ("body", task.body_text)) if text]
    if texts:
        task.checks.append(check_sensitive(texts, services.config.rules.sensitive))


def check_contact(task: SubmissionTask, services: Services) -> None:
    task.checks.append(check_contact_info(task.unit, task.contact, task.phone))


def match_unit(task: SubmissionTask, services: Services) -> None:
    """Normalise the unit (柳南区委保密办 → 柳南区); keep what the sender wrote."""
    task.unit_raw = task.unit
    found = UnitMatcher(services.config.contest).match(task.unit)
    if found.unit:
        task.unit = found.unit
    check = check_unit(task.unit_raw, found)
    if check:
        task.checks.append(check)


def check_contest_deadline(task: SubmissionTask, services: Services) -> None:
    task.checks.append(check_deadline(task.received_at, services.config.contest.deadline))


def check_unit_quota(task: SubmissionTask, services: Services) -> None:
    if not task.unit or task.rejected:
        return   # a rejected work does not take the unit's place
    # A recorded submission (a recheck) counts only the works recorded before it.
    check = check_quota(task.unit, services.db.submissions.earlier_of_unit(task.unit, before=task.submission_id),
                        services.config.contest.quota_per_unit)
    if check:
        task.checks.append(check)


def confirm_source_unchanged(task: SubmissionTask, services: Services) -> None:
    """A dropped file counts as taken only if it is still what was read (else SourceChanged: nothing is recorded)."""
    task.verify_source()


def record(task: SubmissionTask, services: Services) -> None:
    # The duplicate check happens here, in the same transaction as the record, so that concurrent
    # ingests of one file always give exactly one first holder.
    task.submission_id = record_submission(services.db, task, on_duplicate=duplicate_found)
    log.info("已记录作品 #%s：%s（%s）", task.submission_id, OUTCOME_LABELS[task.outcome], task.source_ref or task.source)


Stage = Callable[[SubmissionTask, Services], None]

# What is done to the files, in order: also what a file added later (attach) goes through.
FILE_STAGES: list[Stage] = [store_files, inspect_files, remux_near_misses, scan_files, take_opening_phrase]
# The checks of the submission itself, after its files, by the check id each adds: also what a recheck asks again.
SUBMISSION_CHECKS: dict[str, Stage] = {"sensitive_content": check_message_text, "contact_info": check_contact,
                                       "unit": match_unit, "deadline": check_contest_deadline,
                                       "quota": check_unit_quota}
STAGES: list[Stage] = [name_the_work, check_files_present, *FILE_STAGES, *SUBMISSION_CHECKS.values(),
                       confirm_source_unchanged, record]


def process(task: SubmissionTask, services: Services, arrival: Sequence[Stage] = ()) -> None:
    """Run ``arrival`` (the source's own stages: unpacking a zip, a mail's findings), then STAGES."""
    for stage in (*arrival, *STAGES):
        stage(task, services)
