"""The database behind the desk: a small class with domain methods; callers never build SQL."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import math
import os
import socket
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from sqlalchemy import create_engine, delete, event, func, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core import failpoints
from core.outcome import outcome_of_statuses
from core.errors import ChangedMeanwhile, DataRejected, DatabaseError, DatabaseGone, DuplicateSource, UsageError
from core.textsafe import clean_text
from storage.models import (Attempt, Blob, CheckRecord, Claim, DeskSession, Event, MediaFile, StoredRun, Submission,
                            User, utcnow)
from storage.blobs import insert_blob as _insert_blob
from storage.check_runs import apply_check_run, lock_submission
from storage.logins import LoginTry, begin_login, clear_logins
from storage.scores import JudgeScores, save_scores, scores_of
from storage.filestore import StoredBlob
from storage.records import CheckRow, CheckRun, FileRecord, SchemaChange, SubmissionRecord
from storage.values import check_record as _check_row
from storage.values import jsonable as _jsonable
from storage.values import not_found as _not_found
from storage.values import stored_key as _key
from storage.values import stored_text as _text
from storage.writers import current_actor, retry_when_locked

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_MIGRATED = "schema_migrated"   # the event that keeps each creation or upgrade of the schema
def alembic_config():
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration, as Alembic reads its scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# Called inside the recording transaction for a file (its index among the files being recorded) whose
# content an earlier submission brought, with that submission's id, unit and received_at;
# returns a check to store beside the file, or None.
OnDuplicate = Callable[[int, dict[str, Any]], "CheckRow | None"]
# Fields of a submission that files added later may fill in when they are still empty.
FILLABLE = ("speaker", "topic")


def open_database_at(url: str, busy_timeout_seconds: float = 30, connect_timeout_seconds: float = 10) -> "Database":
    """The database at ``url``, migrated, with the models ready for the first query."""
    from sqlalchemy.orm import configure_mappers

    db = Database(url, busy_timeout_seconds, connect_timeout_seconds)
    db.migrate()
    configure_mappers()   # else the first query does it (in `intake ingest`: after the checks, not beside them)
    return db


def _died_here(worker: str) -> bool:
    """True if ``worker`` ran on this host and its process is gone."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Database:
    def __init__(self, url: str, busy_timeout_seconds: float = 30, connect_timeout_seconds: float = 10):
        self.url = url
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = busy_timeout_seconds
            path = url.split("///", 1)[-1]
            if path and not path.startswith(":memory:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        elif url.startswith("postgresql") and "connect_timeout=" not in url:
            # A server that accepts and never answers (a firewall, a hung host) would keep us waiting forever.
            connect_args["connect_timeout"] = max(2, math.ceil(connect_timeout_seconds))
        try:
            self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise DatabaseError(f"数据库地址 {self.safe_url} 无效：{exc}", "请检查 config.yaml 中的 database.url。") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_file = _sqlite_file(self.engine)
        self._sqlite_identity: tuple[int, int] | None = None

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        try:
            return self.engine.url.render_as_string(hide_password=True)
        except AttributeError:
            return self.url.split("@")[-1]

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except (IntegrityError, DuplicateSource):
            raise
        except (DataError, StatementError) as exc:
            if isinstance(exc, DataError) or isinstance(getattr(exc, "orig", None), (UnicodeError, ValueError)):
                # The values of one item (too long, a NUL, an unencodable character): its fault, not the server's.
                raise DataRejected(f"数据库拒绝保存这件作品的内容：{str(exc).splitlines()[0][:300]}",
                                   "该作品会在重试后登记为“待复核”（processing_error）。") from exc
            raise DatabaseError(f"数据库操作失败（{self.safe_url}）：{exc.__class__.__name__}: "
                                f"{str(exc).splitlines()[0]}", "请检查数据库是否可访问、磁盘是否已满，然后重试。") from exc
        except SQLAlchemyError as exc:
            raise DatabaseError(f"数据库操作失败（{self.safe_url}）：{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                                "请检查数据库是否可访问、磁盘是否已满，然后重试。") from exc

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, how: str = "automatic") -> SchemaChange | None:
        """Create or upgrade the schema to the newest migration; return what changed (None: it was current).

        A database already at the newest revision is only read (one SELECT), without taking the migration lock.
        A change is kept as a
        ``schema_migrated`` event (``how``: 'automatic', or the command that asked), so that ``intake
        migrate`` can say later what an automatic upgrade did.
        """
        try:
            if self._revision() == head_revision():
                self.ensure_same_file()
                return None
        except OperationalError as exc:
            if self.engine.dialect.name != "sqlite":   # the server is away (SQLite says so of a missing table)
                raise self._unreachable(exc) from exc
        except SQLAlchemyError:
            pass   # no version table yet: the upgrade below creates it
        from alembic import command

        cfg = alembic_config()
        try:
            with self._migration_lock(), self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(724011)")
                before = _revision_on(conn)   # again, under the lock: another process may have upgraded meanwhile
                change = None
                if before != head_revision():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    change = SchemaChange(before, head_revision(), how)
                    conn.execute(Event.__table__.insert().values(
                        kind=SCHEMA_MIGRATED, actor=current_actor(), submission_id=None, at=utcnow(),
                        data={"from": before, "to": change.after, "how": how}))
            self.ensure_same_file()   # remember which SQLite file we write to
        except SQLAlchemyError as exc:
            raise self._unreachable(exc) from exc
        return change

    def last_schema_change(self) -> SchemaChange | None:
        """The latest creation or upgrade of the schema, as recorded (None before this was recorded)."""
        event = self.latest_event([SCHEMA_MIGRATED])
        if event is None or not isinstance(event.data, dict) or not event.data.get("to"):
            return None
        data = event.data
        return SchemaChange(data.get("from"), data["to"], data.get("how") or "automatic", event.at, event.actor)

    def _unreachable(self, exc: SQLAlchemyError) -> DatabaseError:
        return DatabaseError(f"无法连接或升级数据库 {self.safe_url}：{str(exc).splitlines()[0]}",
                             "请检查 database.url、数据库服务是否在运行、目录是否可写。")

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Workers starting together must not both create the schema (PostgreSQL locks in SQL instead)."""
        path = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not path or path == ":memory:":
            yield
            return
        with open(f"{path}.migrate-lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _revision(self) -> str | None:
        """The schema's revision as Alembic recorded it (None for an empty database)."""
        with self.engine.connect() as conn:
            return _revision_on(conn)

    def schema_is_current(self) -> bool:
        try:
            return self._revision() == head_revision()
        except SQLAlchemyError as exc:
            raise DatabaseError(f"无法连接数据库 {self.safe_url}：{str(exc).splitlines()[0]}",
                                "请检查 database.url、数据库服务是否在运行。") from exc

    def ensure_same_file(self) -> None:
        """Stop before recording into a SQLite file that was deleted or replaced since we opened it.

        An open connection keeps writing into the unlinked inode, so every later record would be
        lost with it: the only safe answer is to stop and say so.
        """
        if self._sqlite_file is None:
            return
        try:
            st = os.stat(self._sqlite_file)
            identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            identity = None
        if self._sqlite_identity is None:
            self._sqlite_identity = identity
            return
        if identity != self._sqlite_identity:
            what = "被删除" if identity is None else "被替换"
            raise DatabaseGone(f"数据库文件 {self._sqlite_file} 在程序运行期间{what}了，继续写入会丢失记录，程序已停止。",
                               "请确认数据库文件的位置和内容（可从备份恢复），然后重新启动 intake。")

    # -- writing --------------------------------------------------------------------------
    @retry_when_locked
    def add_submission(self, record: SubmissionRecord, on_duplicate: OnDuplicate | None = None) -> int:
        """Record a submission with its files, checks and a 'recorded' event, in one transaction.

        Which submission first brought each file's content is decided inside the same transaction
        (an insert that yields to an existing row), so concurrent ingests of one file always give
        exactly one first holder. ``on_duplicate`` is called for each file whose content an earlier
        submission brought; the check it returns is stored with the file and counts in the outcomes.
        """
        self.ensure_same_file()
        try:
            with self.session() as s:
                sub = Submission(
                    source=record.source, source_ref=record.source_ref, received_at=record.received_at,
                    unit=_text(record.unit), unit_raw=_text(record.unit_raw), contact=_text(record.contact),
                    phone=_text(record.phone), title=_text(record.title), title_source=record.title_source,
                    subject=_text(record.subject),
                    outcome=record.outcome,
                    speaker=_text(record.speaker), topic=_text(record.topic),
                    message_key=_key(record.message_key), sender=_text(record.sender),
                    body_text=_text(record.body_text))
                s.add(sub)
                s.flush()
                s.add(StoredRun(submission_id=sub.id, run=1))
                files = _claim_blobs(s, sub.id, record.files, on_duplicate)
                if files != list(record.files):   # a duplicate found just now changes the outcome
                    sub.outcome = outcome_of_statuses([c.status for c in record.checks] +
                                                      [c.status for f in files for c in f.checks]).value
                for check in record.checks:
                    s.add(_check_row(sub.id, None, check))
                _add_files(s, sub.id, files, start=0)
                s.add(Event(submission_id=sub.id, kind="recorded", actor=_text(record.actor) or current_actor(),
                            data=_jsonable({"source": record.source, "source_ref": record.source_ref,
                                            "outcome": sub.outcome})))
                s.flush()
                failpoints.reached("before_commit")   # crash tests: everything written, nothing committed
                return sub.id
        except IntegrityError as exc:
            if record.source_ref is not None:
                existing = self.submission_id_for_ref(record.source_ref)
                if existing is not None:
                    raise DuplicateSource(existing) from exc
            raise DatabaseError(f"写入数据库时违反约束：{str(exc).splitlines()[0]}", "请重试；如反复出现请联系维护人员。") from exc

    @retry_when_locked
    def add_files(self, submission_id: int, files: Sequence[FileRecord], actor: str | None = None,
                  on_duplicate: OnDuplicate | None = None, *, settle: Mapping[int, CheckRow] | None = None,
                  fill: Mapping[str, str | None] | None = None) -> str:
        """Append files (with their checks) to a recorded submission; return its new outcome.

        ``settle`` replaces submission checks (by row id) that the new files answer, such as the 超大附件
        warning once its video is here; ``fill`` sets fields still empty (speaker, topic). What they
        replace goes into the ``files_added`` event, so the audit trail keeps the earlier values.
        """
        self.ensure_same_file()
        with self.session() as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                raise _not_found(submission_id)
            start = s.scalar(select(func.count()).select_from(MediaFile).where(
                MediaFile.submission_id == submission_id)) or 0
            _add_files(s, submission_id, _claim_blobs(s, submission_id, files, on_duplicate), start=start,
                       run=sub.check_run)
            data: dict[str, Any] = {"files": [m.original_name for m in files]}
            settled = _settle_checks(s, submission_id, settle or {})
            if settled:
                data["settled"] = settled
            filled = {name: _text(value) for name, value in (fill or {}).items()
                      if name in FILLABLE and value and not getattr(sub, name)}
            for name, value in filled.items():
                setattr(sub, name, value)
            if filled:
                data["filled"] = filled
            s.flush()
            statuses = set(s.scalars(select(CheckRecord.status).where(
                CheckRecord.submission_id == submission_id, CheckRecord.run == sub.check_run)))
            sub.outcome = outcome_of_statuses(statuses).value
            data["outcome"] = sub.outcome
            s.add(Event(submission_id=submission_id, kind="files_added", actor=actor or current_actor(),
                        data=_jsonable(data)))
            return sub.outcome

    def earlier_submissions_of_unit(self, unit: str, before: int | None = None) -> list[int]:
        """Ids of the unit's recorded submissions that were not rejected (they count against the quota),
        all of them or those recorded before submission ``before``."""
        with self.session() as s:
            query = select(Submission.id).where(Submission.unit == unit, Submission.outcome != "rejected")
            if before is not None:
                query = query.where(Submission.id < before)
            return list(s.scalars(query.order_by(Submission.id)))

    def later_submissions_of_unit(self, unit: str, after: int) -> list[int]:
        """Ids of the unit's submissions recorded after submission ``after`` (their quota depends on it)."""
        with self.session() as s:
            return list(s.scalars(select(Submission.id).where(Submission.unit == unit, Submission.id > after)
                                  .order_by(Submission.id)))

    def submission_ids(self) -> list[int]:
        with self.session() as s:
            return list(s.scalars(select(Submission.id).order_by(Submission.id)))

    def stored_paths(self, submission_id: int) -> dict[int, str]:
        """Where each stored file of a submission lies in the store (relative to storage.root), by position."""
        with self.session() as s:
            rows = s.execute(select(MediaFile.position, Blob.stored_path).join(Blob, Blob.sha256 == MediaFile.sha256)
                             .where(MediaFile.submission_id == submission_id))
            return {position: path for position, path in rows}

    @retry_when_locked
    def record_check_run(self, submission_id: int, run: CheckRun | None, kind: str, data: dict[str, Any] | None = None,
                         changes: dict[str, str | None] | None = None, actor: str | None = None,
                         expected: dict[str, Any] | None = None) -> dict[str, Any]:
        """In one transaction: apply ``changes`` to the submission's fields (storage.check_runs.EDITABLE), store
        ``run`` as its latest results with the outcomes they give, and append a ``kind`` event with the old and
        new values. Returns the event's data (see ``apply_check_run``). ChangedMeanwhile if the submission
        no longer matches ``expected`` (``storage.check_runs.snapshot`` of what the caller read)."""
        self.ensure_same_file()
        try:
            with self.session() as s:
                return apply_check_run(s, submission_id, run, changes or {}, kind, data or {},
                                       _text(actor) or current_actor(), expected)
        except IntegrityError as exc:   # another writer stored this run number first (check_runs)
            raise _changed_meanwhile(submission_id) from exc

    @retry_when_locked
    def record_repair(self, submission_id: int, position: int, blob: StoredBlob, original: StoredBlob, repair: str,
                      run: CheckRun, data: dict[str, Any], changes: dict[str, str | None] | None = None,
                      actor: str | None = None) -> dict[str, Any]:
        """In one transaction: file ``position`` of the submission becomes ``blob`` (the repaired file judged from
        now on), linked to ``original`` (the content it was made from, kept); ``run`` becomes the latest results
        and a ``fixed`` event keeps what the file was before. Returns the event's data (see ``apply_check_run``)."""
        self.ensure_same_file()
        try:
            with self.session() as s:
                return self._store_repair(s, submission_id, position, blob, original, repair, run, data, changes, actor)
        except IntegrityError as exc:
            raise _changed_meanwhile(submission_id) from exc

    @staticmethod
    def _store_repair(s: Session, submission_id: int, position: int, blob: StoredBlob, original: StoredBlob,
                      repair: str, run: CheckRun, data: dict[str, Any], changes: dict[str, str | None] | None,
                      actor: str | None) -> dict[str, Any]:
        lock_submission(s, submission_id)   # before the file is read: see storage/check_runs.py
        media = s.scalar(select(MediaFile).where(MediaFile.submission_id == submission_id,
                                                 MediaFile.position == position))
        if media is None:
            raise _not_found(submission_id)
        for stored in (original, blob):
            _insert_blob(s, stored, submission_id)
        data = {**data, "file": position, "repair": repair,
                "before": {"sha256": media.sha256, "size_bytes": media.size_bytes},
                "original": {"sha256": original.sha256, "size_bytes": original.size_bytes},
                "new": {"sha256": blob.sha256, "size_bytes": blob.size_bytes}}
        media.sha256, media.size_bytes = blob.sha256, blob.size_bytes
        media.original_sha256, media.repair = original.sha256, repair
        s.flush()
        return apply_check_run(s, submission_id, run, changes or {}, "fixed", data,
                               _text(actor) or current_actor())

    @retry_when_locked
    def claim(self, source_ref: str, worker: str, lease_seconds: float) -> bool:
        """Take ``source_ref`` for ``worker`` unless another live worker holds it; True if we have it now.

        The primary key makes the first claim win; an expired lease (its worker died) is taken
        over by a conditional UPDATE, which only one contender can win. On PostgreSQL the row is
        first locked with SKIP LOCKED so that a worker never waits on another.
        """
        now = datetime.now(timezone.utc)
        expires = now + timedelta(seconds=lease_seconds)
        try:
            with self.session() as s:
                s.add(Claim(source_ref=source_ref, worker=worker, claimed_at=now, expires_at=expires))
            return True
        except IntegrityError:
            pass
        with self.session() as s:
            query = select(Claim).where(Claim.source_ref == source_ref)
            if s.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = s.scalar(query)
            if row is None:
                return False   # locked by its holder right now (or just released: the next look takes it)
            stale = Claim.expires_at < now
            if _died_here(row.worker):
                stale = stale | (Claim.worker == row.worker)   # killed on this host: no need to wait out the lease
            taken = s.execute(update(Claim).where(Claim.source_ref == source_ref, stale)
                              .values(worker=worker, claimed_at=now, expires_at=expires))
            return taken.rowcount == 1

    @retry_when_locked
    def release(self, source_ref: str, worker: str) -> None:
        with self.session() as s:
            s.execute(delete(Claim).where(Claim.source_ref == source_ref, Claim.worker == worker))

    # -- failed attempts ------------------------------------------------------------------
    @retry_when_locked
    def note_failure(self, source_ref: str, error: str, delay_for) -> tuple[int, datetime]:
        """Count one more failed try at ``source_ref``; ``delay_for(attempts)`` gives the wait in seconds.
        Returns (attempts so far, when to try next)."""
        now = datetime.now(timezone.utc)
        with self.session() as s:
            row = s.get(Attempt, source_ref)
            if row is None:
                row = Attempt(source_ref=source_ref, attempts=0, last_error="", next_at=now)
                s.add(row)
            row.attempts += 1
            row.last_error = clean_text(error, 2000) or ""
            row.last_at = now
            row.next_at = now + timedelta(seconds=delay_for(row.attempts))
            return row.attempts, row.next_at

    def failure_state(self, source_ref: str) -> tuple[int, datetime, str] | None:
        """(attempts, next try, last error) of an item that failed before, or None."""
        with self.session() as s:
            row = s.get(Attempt, source_ref)
            return None if row is None else (row.attempts, row.next_at, row.last_error)

    @retry_when_locked
    def clear_failures(self, source_ref: str) -> None:
        with self.session() as s:
            s.execute(delete(Attempt).where(Attempt.source_ref == source_ref))

    def failing_items(self, prefix: str = "") -> list[tuple[str, int, datetime, str]]:
        """Items still being retried: (source_ref, attempts, next try, last error)."""
        with self.session() as s:
            rows = s.scalars(select(Attempt).where(Attempt.source_ref.startswith(prefix)).order_by(Attempt.last_at))
            return [(r.source_ref, r.attempts, r.next_at, r.last_error) for r in rows]

    def file_hashes(self, submission_id: int) -> set[str]:
        """The SHA-256 of every stored file of a submission."""
        with self.session() as s:
            return set(s.scalars(select(MediaFile.sha256).where(
                MediaFile.submission_id == submission_id, MediaFile.sha256.is_not(None))))

    def recorded_refs(self, prefix: str) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(Submission.source_ref).where(Submission.source_ref.startswith(prefix))))

    def submission_id_for_message_key(self, key: str) -> int | None:
        with self.session() as s:
            return s.scalar(select(Submission.id).where(Submission.message_key == key).order_by(Submission.id))

    def event_count(self, submission_id: int, kind: str) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Event).where(
                Event.submission_id == submission_id, Event.kind == kind)) or 0

    def mail_submissions_without(self, kinds: str | Sequence[str], since_id: int = 0) -> list[int]:
        """Mail submissions after ``since_id`` with a sender and no event of ``kinds`` (receipts still to send)."""
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        with self.session() as s:
            done = select(Event.submission_id).where(Event.kind.in_(kinds), Event.submission_id.is_not(None))
            return list(s.scalars(select(Submission.id).where(
                Submission.source == "mail", Submission.sender.is_not(None), Submission.id > since_id,
                Submission.id.not_in(done)).order_by(Submission.id)))

    def latest_event(self, kinds: Sequence[str]) -> Event | None:
        """The newest event of any of ``kinds`` not tied to a submission (a switch such as receipts_on)."""
        with self.session() as s:
            return s.scalar(select(Event).where(Event.kind.in_(list(kinds)), Event.submission_id.is_(None))
                            .order_by(Event.id.desc()).limit(1))

    def last_submission_id(self) -> int:
        """The highest submission id recorded so far (0 when there is none)."""
        with self.session() as s:
            return s.scalar(select(func.max(Submission.id))) or 0

    @retry_when_locked
    def record_event(self, kind: str, data: dict[str, Any], submission_id: int | None = None,
                     actor: str | None = None) -> None:
        with self.session() as s:
            s.add(Event(kind=kind, data=_jsonable(data), submission_id=submission_id,
                        actor=_text(actor) or current_actor()))

    # -- reading --------------------------------------------------------------------------
    def submission_id_for_ref(self, source_ref: str) -> int | None:
        with self.session() as s:
            return s.scalar(select(Submission.id).where(Submission.source_ref == source_ref))

    @retry_when_locked
    def record_decision(self, submission_id: int, decision: str, note: str | None, reviewer: str | None,
                        forced: bool = False, reasons: list[str] | tuple[str, ...] = ()) -> dict:
        """Append a reviewer's decision to the audit log; the latest one counts, the history stays.

        ``forced``: the reviewer overrode a warning (a rejected or flagged work shortlisted), ``reasons`` what
        was overridden; both kept in the event's data.
        """
        with self.session() as s:
            if s.get(Submission, submission_id) is None:
                raise _not_found(submission_id)
            data = {"decision": decision, "note": note,
                    **({"forced": True, "reasons": list(reasons)} if forced else {})}
            event = Event(submission_id=submission_id, kind="decision", actor=reviewer or current_actor(), data=data)
            s.add(event)
            s.flush()
            return _decision_view(event)

    def decisions(self, submission_ids: list[int] | None = None) -> dict[int, list[dict]]:
        """Every decision, oldest first, by submission id."""
        with self.session() as s:
            query = select(Event).where(Event.kind == "decision").order_by(Event.id)
            if submission_ids is not None:
                query = query.where(Event.submission_id.in_(submission_ids))
            out: dict[int, list[dict]] = {}
            for row in s.scalars(query):
                out.setdefault(row.submission_id, []).append(_decision_view(row))
            return out

    @retry_when_locked
    def save_scores(self, submission_id: int, judge: str, values: Mapping[str, float],
                    comment: str | None) -> JudgeScores:
        """Replace a judge's scores of an entry (see ``storage/scores.py``); NotFound for an unknown entry."""
        with self.session() as s:
            return save_scores(s, submission_id, judge, values, comment)

    def scores(self, submission_ids: Sequence[int] | None = None, judge: str | None = None) -> list[JudgeScores]:
        with self.session() as s:
            return scores_of(s, submission_ids, judge)

    def submissions(self, outcome: str | None = None) -> list[Submission]:
        with self.session() as s:
            query = select(Submission).options(
                selectinload(Submission.files).selectinload(MediaFile.original),
                selectinload(Submission.checks)).order_by(Submission.id)
            if outcome:
                query = query.where(Submission.outcome == outcome)
            return list(s.scalars(query))

    def submission(self, submission_id: int) -> Submission:
        """One submission with its files and checks; NotFound (in Chinese) for an unknown id."""
        with self.session() as s:
            sub = s.scalar(select(Submission).where(Submission.id == submission_id).options(
                selectinload(Submission.files).selectinload(MediaFile.original), selectinload(Submission.checks)))
            if sub is None:
                raise _not_found(submission_id)
            return sub

    def events(self, submission_id: int | None = None) -> list[Event]:
        with self.session() as s:
            query = select(Event).order_by(Event.id)
            if submission_id is not None:
                query = query.where(Event.submission_id == submission_id)
            return list(s.scalars(query))

    # -- desk accounts and sessions ------------------------------------------------------
    @retry_when_locked
    def add_user(self, name: str, role: str, password_hash: str) -> User:
        """A new desk account; UsageError (in Chinese) when the name is taken."""
        try:
            with self.session() as s:
                user = User(name=name, role=role, password_hash=password_hash)
                s.add(user)
                s.flush()
                return user
        except IntegrityError as exc:
            raise UsageError(f"账号“{name}”已存在。", "修改密码请用 intake user passwd。") from exc

    def users(self) -> list[User]:
        with self.session() as s:
            return list(s.scalars(select(User).order_by(User.name)))

    def user(self, name: str) -> User | None:
        with self.session() as s:
            return s.scalar(select(User).where(User.name == name))

    @retry_when_locked
    def set_password(self, name: str, password_hash: str) -> bool:
        """Change the account's password and end its sessions; False for an unknown name."""
        with self.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                return False
            user.password_hash = password_hash
            s.execute(delete(DeskSession).where(DeskSession.user_id == user.id))
            return True

    @retry_when_locked
    def remove_user(self, name: str) -> bool:
        """Remove the account and its sessions; False for an unknown name."""
        with self.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                return False
            s.execute(delete(DeskSession).where(DeskSession.user_id == user.id))
            s.delete(user)
            return True

    @retry_when_locked
    def begin_login(self, account: str, address: str, now: datetime, window_seconds: float, per_account: int,
                    per_address: int) -> LoginTry:
        """Count a login try before its password is checked; refused (``id`` None) past either limit
        (see ``storage/logins.py``)."""
        with self.session() as s:
            return begin_login(s, account, address, now, window_seconds, per_account, per_address)

    @retry_when_locked
    def clear_logins(self, account: str) -> int:
        """Forget the account's login tries: after a success, or to lift its lockout. Returns how many."""
        with self.session() as s:
            return clear_logins(s, account)

    @retry_when_locked
    def start_session(self, user_id: int, token_hash: str, csrf: str, expires_at: datetime) -> None:
        now = datetime.now(timezone.utc)
        with self.session() as s:
            s.execute(delete(DeskSession).where(DeskSession.expires_at < now))
            s.add(DeskSession(token_hash=token_hash, user_id=user_id, csrf=csrf, created_at=now,
                              expires_at=expires_at))

    def session_user(self, token_hash: str) -> tuple[User, str] | None:
        """The account of a live session and its CSRF token, or None (unknown or expired)."""
        with self.session() as s:
            # One joined query: every request of the desk asks it.
            row = s.execute(select(User, DeskSession.csrf).join(DeskSession, DeskSession.user_id == User.id)
                            .where(DeskSession.token_hash == token_hash,
                                   DeskSession.expires_at > datetime.now(timezone.utc))).first()
            return None if row is None else (row[0], row[1])

    @retry_when_locked
    def end_session(self, token_hash: str) -> None:
        with self.session() as s:
            s.execute(delete(DeskSession).where(DeskSession.token_hash == token_hash))

    def stored_file(self, file_id: int, original: bool = False) -> tuple[MediaFile, str | None] | None:
        """A media file by its id, with where its content lies in the store (None: never stored), or None.
        ``original``: the content as it arrived, for a repaired file (None for one that was not repaired)."""
        with self.session() as s:
            row = s.get(MediaFile, file_id)
            if row is None:
                return None
            sha256 = row.original_sha256 if original else row.sha256
            path = s.scalar(select(Blob.stored_path).where(Blob.sha256 == sha256)) if sha256 else None
            return row, path

    def change_mark(self) -> tuple[int, int]:
        """(newest event id, newest submission id): every change to what submissions show writes an event, so
        views built at the same mark are still current."""
        with self.session() as s:
            return (s.scalar(select(func.max(Event.id))) or 0, s.scalar(select(func.max(Submission.id))) or 0)

    def recent_submissions(self, limit: int, after: int = 0) -> list[Submission]:
        """The newest submissions recorded after id ``after``, newest first, at most ``limit``."""
        with self.session() as s:
            return list(s.scalars(select(Submission).where(Submission.id > after).options(
                selectinload(Submission.files).selectinload(MediaFile.original), selectinload(Submission.checks))
                .order_by(Submission.id.desc()).limit(limit)))


def _changed_meanwhile(submission_id: int) -> ChangedMeanwhile:
    return ChangedMeanwhile(f"作品 #{submission_id} 同时被另一处修改（或重新检查）了，本次结果没有保存。", "请再执行一次。")


def _claim_blobs(s: Session, submission_id: int, files: Sequence[FileRecord],
                 on_duplicate: OnDuplicate | None) -> list[FileRecord]:
    """Insert each file's blob row unless it exists (waiting for a concurrent insert to settle),
    then ask ``on_duplicate`` about each file that an earlier submission brought first (the file judged,
    or for a repaired file the content as it arrived).
    Returns the files, each with the check it answered (and the outcome that follows)."""
    out = list(files)
    for index, media in enumerate(files):
        firsts = [_insert_blob(s, blob, submission_id) for blob in (media.blob, media.original) if blob is not None]
        first = next((f for f in firsts if f is not None and f != submission_id), None)
        if first is not None and on_duplicate is not None:
            earlier = s.get(Submission, first)
            if earlier is not None:
                check = on_duplicate(index, {"id": earlier.id, "unit": earlier.unit,
                                             "received_at": earlier.received_at})
                if check is not None:
                    checks = media.checks + (check,)
                    out[index] = replace(media, checks=checks, outcome=outcome_of_statuses(c.status for c in checks).value)
    return out


def _settle_checks(s: Session, submission_id: int, settle: Mapping[int, CheckRow]) -> list[dict[str, Any]]:
    """Replace the submission's own check rows named in ``settle``; return what they said before."""
    before = []
    for row_id, check in settle.items():
        row = s.get(CheckRecord, row_id)
        if row is None or row.submission_id != submission_id or row.media_file_id is not None:
            continue
        before.append({"check_id": row.check_id, "status": row.status, "code": row.code, "message": row.message})
        row.check_id, row.status, row.code = check.check_id, check.status, check.code
        row.message, row.details = _text(check.message) or "", _jsonable(check.details)
    return before


def _add_files(s: Session, submission_id: int, files: Sequence[FileRecord], start: int, run: int = 1) -> None:
    for position, media in enumerate(files, start=start):
        blob = media.blob
        row = MediaFile(
            submission_id=submission_id, position=position, original_name=_text(media.original_name) or "",
            sha256=blob.sha256 if blob else None, size_bytes=media.size_bytes,
            outcome=media.outcome, container=media.container,
            duration_seconds=media.duration_seconds, video_codec=media.video_codec,
            audio_codec=media.audio_codec, width=media.width, height=media.height,
            original_sha256=media.original.sha256 if media.original else None, repair=media.repair)
        s.add(row)
        s.flush()
        for check in media.checks:
            s.add(_check_row(submission_id, row.id, check, run))


def _revision_on(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _decision_view(event: Event) -> dict[str, Any]:
    return {"decision": event.data.get("decision"), "note": event.data.get("note"), "reviewer": event.actor,
            "at": event.at, "forced": bool(event.data.get("forced")), "reasons": event.data.get("reasons") or []}


def _sqlite_file(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    return None if not path or path == ":memory:" else os.path.abspath(path)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
