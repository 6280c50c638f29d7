"""What every stage works with (``Services``), assembled from a Config: the one place that opens the database and store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from intake.config import Config
from intake.service.permissions import secure_data
from storage.filestore import FileStore, Progress

if TYPE_CHECKING:  # SQLAlchemy and Alembic load in open_database
    from storage.database import Database
    from storage.records import SchemaChange


ProgressFactory = Callable[[str, int], Progress | None]   # (label, total bytes) -> callback


@dataclass
class Services:
    config: Config
    db: "Database"
    store: FileStore
    progress: ProgressFactory | None = None
    deep: bool = False


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

    secure_data(config)   # before SQLite creates the file or the folder
    db = Database(**database_address(config))
    return db, db.migrate(how="intake migrate")


def open_services(config: Config, progress: ProgressFactory | None = None, deep: bool = False) -> Services:
    secure_data(config)
    store = FileStore(config.storage.root, config.storage.chunk_bytes)
    return Services(config=config, db=open_database(config), store=store, progress=progress, deep=deep)
