"""Assemble the services from a Config: the one place that opens the database and store."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from intake.config import Config
from intake.database_process import take_early
from intake.permissions import secure_data
from intake.pipeline import ProgressFactory, Services
from storage.filestore import FileStore

if TYPE_CHECKING:  # SQLAlchemy and Alembic load in open_database, on the opening thread where there is one
    from storage.database import Database
    from storage.records import SchemaChange


def database_address(config: Config) -> dict[str, Any]:
    """Where the database is and how long to wait for it: what ``Database`` and ``open_database_at`` take."""
    d = config.database
    return {"url": d.url, "busy_timeout_seconds": d.busy_timeout_seconds,
            "connect_timeout_seconds": d.connect_timeout_seconds}


def open_database(config: Config) -> Database:
    from storage.database import open_database_at

    secure_data(config)   # before SQLite creates the file or the folder
    return open_database_at(**database_address(config))


def migrate_database(config: Config) -> tuple[Database, SchemaChange | None]:
    """``intake migrate``: the database brought to the newest schema, and what this call changed (None: nothing)."""
    from storage.database import Database

    db = Database(**database_address(config))
    return db, db.migrate(how="intake migrate")


class DatabaseOpening:
    """The database, opened on a helper thread while the caller checks files.

    Importing SQLAlchemy and Alembic and migrating cost about as much CPU as storing a 300 MB video;
    ``start()`` once the copies are made (the copy and the imports would fight over the GIL), and the
    checks' own children then run beside it. The first database call (the quota, at the earliest)
    waits for the opening, starting it if nobody did, and raises whatever the opening raised.
    Every attribute is the opened Database's.
    """

    def __init__(self, config: Config):
        self._db: Database | None = None
        self._error: BaseException | None = None
        # Not a daemon: a process that ends early still lets a migration under way finish.
        self._thread = threading.Thread(target=self._open, args=(config,), name="open-database")

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def _open(self, config: Config) -> None:
        try:
            self._db = open_database(config)
        except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread by opened())
            self._error = exc

    def opened(self) -> Database:
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._db

    def __getattr__(self, name: str) -> Any:
        return getattr(self.opened(), name)


def open_services(config: Config, progress: ProgressFactory | None = None, deep: bool = False,
                  database_in_background: bool = False) -> Services:
    """``database_in_background``: the database opens beside the checks, in the helper process the command
    started with (intake.database_process) or else on a helper thread (DatabaseOpening)."""
    secure_data(config)
    store = FileStore(config.storage.root, config.storage.chunk_bytes)
    if database_in_background:
        db = take_early()
        if db is not None:
            db.name(database_address(config))
        else:
            db = DatabaseOpening(config)
    else:
        db = open_database(config)
    return Services(config=config, db=db, store=store, progress=progress, deep=deep)
