"""SQLAlchemy 2 models. The schema itself is created by the Alembic migrations."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Store UTC; always hand back an aware datetime (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))               # cli | folder | mail | attach
    source_ref: Mapped[str | None] = mapped_column(String(1024), unique=True)  # idempotency key
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    unit: Mapped[str | None] = mapped_column(Text, index=True)   # normalised to a known unit if possible
    unit_raw: Mapped[str | None] = mapped_column(Text)           # as the sender wrote it
    contact: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)             # 作品名: a sidecar's, else the video's file name
    title_source: Mapped[str | None] = mapped_column(String(16))  # given | file_name | subject (None: before 0013)
    subject: Mapped[str | None] = mapped_column(Text)           # the mail's subject, as sent
    outcome: Mapped[str] = mapped_column(String(16))
    speaker: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(Text)
    message_key: Mapped[str | None] = mapped_column(Text, index=True)   # account + Message-ID
    sender: Mapped[str | None] = mapped_column(Text)                     # for receipts
    body_text: Mapped[str | None] = mapped_column(Text)                  # the mail's body as text, bounded
    check_run: Mapped[int] = mapped_column(Integer, default=1, server_default="1")   # the latest run of its checks


class StoredRun(Base):
    """A check run of a submission (1 as recorded, one more for each recheck or edit of its results): the
    primary key lets one writer only store run N."""

    __tablename__ = "check_runs"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    run: Mapped[int] = mapped_column(Integer, primary_key=True)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)


class Blob(Base):
    """One stored content, named by its SHA-256; many media files may point to it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    stored_path: Mapped[str] = mapped_column(String(300))        # relative to storage.root
    first_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaFile(Base):
    __tablename__ = "media_files"
    __table_args__ = (UniqueConstraint("submission_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(16))
    container: Mapped[str | None] = mapped_column(String(32))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    video_codec: Mapped[str | None] = mapped_column(Text)
    audio_codec: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # A repaired file: ``sha256`` is the file judged (the MP4 made from it), ``original_sha256`` the content as
    # it arrived, kept as evidence; ``repair`` says what was done ('remux' lossless, 'shrink' re-encoded).
    original_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    repair: Mapped[str | None] = mapped_column(String(16))


class CheckRecord(Base):
    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_submission_run", "submission_id", "run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    media_file_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id"))
    check_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run: Mapped[int] = mapped_column(Integer, default=1, server_default="1")   # see Submission.check_run


class Event(Base):
    """The audit trail: append-only, never updated or deleted."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Claim(Base):
    """A lease on a source (a dropped file or a mail) while one worker processes it."""

    __tablename__ = "claims"

    source_ref: Mapped[str] = mapped_column(String(1024), primary_key=True)
    worker: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attempt(Base):
    """Failed tries at one item (a mail or a dropped file): when to try again, and why it failed."""

    __tablename__ = "attempts"

    source_ref: Mapped[str] = mapped_column(String(1024), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    """An account of the screening desk (``intake user``); the password is kept only as a KDF hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))                 # clerk | reviewer | admin
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeskSession(Base):
    """A logged-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "desk_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginAttempt(Base):
    """A login tried at the desk: counted when it starts, removed when it succeeds, so that what stays are the
    failures (and the tries still being checked) of the last ``desk.lockout_seconds``."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Scorecard(Base):
    """One judge's scores of one entry: a comment and when they were saved; the scores per criterion below."""

    __tablename__ = "scorecards"
    __table_args__ = (UniqueConstraint("submission_id", "judge", name="uq_scorecards_submission_judge"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    judge: Mapped[str] = mapped_column(String(100))              # the account's name; kept if it is removed
    comment: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    scores: Mapped[list[Score]] = relationship(order_by="Score.criterion", cascade="all, delete-orphan",
                                               passive_deletes=True)


class Score(Base):
    __tablename__ = "scores"

    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id", ondelete="CASCADE"), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
