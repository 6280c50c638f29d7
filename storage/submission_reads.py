"""Recorded submissions read back as records: three plain queries (the submissions, their files with where
their contents lie, the checks of their latest run), however many submissions they hold. The rows go
straight into ``StoredSubmission`` records: building ORM objects first took longer than the queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Blob, CheckRecord, MediaFile, Submission
from storage.records import StoredCheck, StoredContent, StoredFile, StoredSubmission

SUBMISSIONS, FILES, CHECKS = Submission.__table__, MediaFile.__table__, CheckRecord.__table__
_CONTENT, _ORIGINAL = Blob.__table__.alias("content"), Blob.__table__.alias("original")


def read_submissions(s: Session, where: ColumnElement[bool] | None = None, *, newest_first: bool = False,
                     limit: int | None = None) -> list[StoredSubmission]:
    """The submissions ``where`` selects (None: all), oldest or newest first, at most ``limit``, each with its
    files (by position) and the checks of its latest run."""
    query = select(SUBMISSIONS).order_by(SUBMISSIONS.c.id.desc() if newest_first else SUBMISSIONS.c.id).limit(limit)
    if where is not None:
        query = query.where(where)
    rows = s.execute(query).all()
    if not rows:
        return []
    ids: Any = None   # all of them
    if limit is not None:
        ids = [r.id for r in rows]
    elif where is not None:
        ids = select(SUBMISSIONS.c.id).where(where)   # not a list of ids: it could outgrow the driver's limit
    files: dict[int, list[StoredFile]] = {}
    for media in read_files(s, FILES.c.submission_id.in_(ids) if ids is not None else None):
        files.setdefault(media.submission_id, []).append(media)
    checks: dict[int, list[StoredCheck]] = {}
    latest = select(CHECKS).join(SUBMISSIONS, and_(SUBMISSIONS.c.id == CHECKS.c.submission_id,
                                                   CHECKS.c.run == SUBMISSIONS.c.check_run)).order_by(CHECKS.c.id)
    if ids is not None:
        latest = latest.where(CHECKS.c.submission_id.in_(ids))
    for c in s.execute(latest):
        checks.setdefault(c.submission_id, []).append(StoredCheck(
            c.id, c.submission_id, c.media_file_id, c.check_id, c.status, c.code, c.message, c.details or {}, c.run))
    return [StoredSubmission(r.id, r.source, r.source_ref, r.received_at, r.recorded_at, r.outcome, r.unit, r.unit_raw,
                             r.contact, r.phone, r.title, r.title_source, r.subject, r.speaker, r.topic, r.message_key,
                             r.sender, r.body_text, r.check_run, tuple(files.get(r.id, ())),
                             tuple(checks.get(r.id, ()))) for r in rows]


def read_files(s: Session, where: ColumnElement[bool] | None = None) -> list[StoredFile]:
    """The media files ``where`` selects (None: all), by submission and position, each with where its content
    lies in the store and, for a repaired file, its original."""
    query = (select(FILES, _CONTENT.c.stored_path.label("content_path"), _ORIGINAL.c.size_bytes.label("original_size"),
                    _ORIGINAL.c.stored_path.label("original_path"))
             .outerjoin(_CONTENT, _CONTENT.c.sha256 == FILES.c.sha256)
             .outerjoin(_ORIGINAL, _ORIGINAL.c.sha256 == FILES.c.original_sha256)
             .order_by(FILES.c.submission_id, FILES.c.position))
    if where is not None:
        query = query.where(where)
    return [StoredFile(f.id, f.submission_id, f.position, f.original_name, f.sha256, f.size_bytes, f.outcome,
                       f.container, f.duration_seconds, f.video_codec, f.audio_codec, f.width, f.height,
                       f.original_sha256, f.repair,
                       StoredContent(f.original_sha256, f.original_size, f.original_path)
                       if f.original_path is not None else None,
                       f.content_path) for f in s.execute(query)]
