"""The database: one engine, its sessions and its schema (Alembic's, ``storage/migrations``), and a part for each
kind of thing it keeps (``db.submissions``, ``db.claims``, ``db.audit``, ``db.judging``, ``db.accounts``).
Callers never build SQL; they ask a part by its domain methods, and every read returns frozen records.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DataRejected, DatabaseError, DatabaseGone
from storage.accounts import Accounts
from storage.audit import Audit
from storage.claims import Claims
from storage.judging import Judging
from storage.models import Event, utcnow
from storage.records import SchemaChange
from storage.submissions import Submissions
from storage.writers import current_actor

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_MIGRATED = "schema_migrated"   # the event that keeps each creation or upgrade of the schema


def alembic_config():
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


# The newest migration's revision, as Alembic reads its scripts (tests/test_operators.py holds the two equal):
# a database already at it opens without loading Alembic, which costs every command 0.4 s and 12 MB.
HEAD_REVISION = "0013"


def open_database_at(url: str, busy_timeout_seconds: float = 30, connect_timeout_seconds: float = 10) -> "Database":
    """The database at ``url``, migrated, with the models ready for the first query."""
    from sqlalchemy.orm import configure_mappers

    db = Database(url, busy_timeout_seconds, connect_timeout_seconds)
    db.migrate()
    configure_mappers()   # else the first query does it (in `intake ingest`: after the checks, not beside them)
    return db


class Database:
    def __init__(self, url: str, busy_timeout_seconds: float = 30, connect_timeout_seconds: float = 10):
        self.url = url
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = busy_timeout_seconds
        elif url.startswith("postgresql") and "connect_timeout=" not in url:
            # A server that accepts and never answers (a firewall, a hung host) would keep us waiting forever.
            connect_args["connect_timeout"] = max(2, math.ceil(connect_timeout_seconds))
        try:
            self.engine: Engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise DatabaseError(f"数据库地址 {url.split('@')[-1]} 无效：{exc}", "请检查 config.yaml 中的 database.url。") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        path = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        self._sqlite_file = os.path.abspath(path) if path and path != ":memory:" else None
        if self._sqlite_file:
            Path(self._sqlite_file).parent.mkdir(parents=True, exist_ok=True)
        self._sqlite_identity: tuple[int, int] | None = None
        self.submissions = Submissions(self.session, self.ensure_same_file)
        self.claims = Claims(self.session)
        self.audit = Audit(self.session)
        self.judging = Judging(self.session)
        self.accounts = Accounts(self.session)

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except IntegrityError:   # the caller tells a duplicate from another constraint
            raise
        except SQLAlchemyError as exc:
            if isinstance(exc, DataError) or isinstance(getattr(exc, "orig", None), (UnicodeError, ValueError)):
                # The values of one item (too long, a NUL, an unencodable character): its fault, not the server's.
                raise DataRejected(f"数据库拒绝保存这件作品的内容：{str(exc).splitlines()[0][:300]}",
                                   "该作品会在重试后登记为“待复核”（processing_error）。") from exc
            raise DatabaseError(f"数据库操作失败（{self.safe_url}）：{exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                                "请检查数据库是否可访问、磁盘是否已满，然后重试。") from exc

    # -- schema ---------------------------------------------------------------------------
    def migrate(self, how: str = "automatic") -> SchemaChange | None:
        """Create or upgrade the schema to the newest migration; return what changed (None: it was current).

        A change is kept as a ``schema_migrated`` event (``how``: 'automatic', or the command that asked), so
        that ``intake migrate`` can say later what an automatic upgrade did.
        """
        try:
            if self._revision() == HEAD_REVISION:
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
                if before != HEAD_REVISION:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    change = SchemaChange(before, HEAD_REVISION, how)
                    conn.execute(Event.__table__.insert().values(
                        kind=SCHEMA_MIGRATED, actor=current_actor(), submission_id=None, at=utcnow(),
                        data={"from": before, "to": change.after, "how": how}))
            self.ensure_same_file()   # remember which SQLite file we write to
        except SQLAlchemyError as exc:
            raise self._unreachable(exc) from exc
        return change

    def last_schema_change(self) -> SchemaChange | None:
        """The latest creation or upgrade of the schema, as recorded (None before this was recorded)."""
        event = self.audit.latest([SCHEMA_MIGRATED])
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
        if self._sqlite_file is None:
            yield
            return
        with open(f"{self._sqlite_file}.migrate-lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)   # closing the file releases it
            yield

    def _revision(self) -> str | None:
        with self.engine.connect() as conn:
            return _revision_on(conn)

    def schema_is_current(self) -> bool:
        try:
            return self._revision() == HEAD_REVISION
        except SQLAlchemyError as exc:
            raise DatabaseError(f"无法连接数据库 {self.safe_url}：{str(exc).splitlines()[0]}",
                                "请检查 database.url、数据库服务是否在运行。") from exc

    def ensure_same_file(self) -> None:
        """Stop before recording into a SQLite file that was deleted or replaced since we opened it: an open
        connection keeps writing into the unlinked inode, so every later record would be lost with it."""
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


def _revision_on(conn) -> str | None:
    """The schema's revision as Alembic recorded it (None for an empty database)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
