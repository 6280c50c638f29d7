"""Assemble the services from a Config: the one place that opens the database and store."""

from __future__ import annotations

from intake.config import Config
from intake.pipeline import ProgressFactory, Services
from storage.database import Database
from storage.filestore import FileStore


def open_database(config: Config) -> Database:
    db = Database(config.database.url, config.database.busy_timeout_seconds)
    db.migrate()
    return db


def open_services(config: Config, progress: ProgressFactory | None = None, deep: bool = False) -> Services:
    store = FileStore(config.storage.root, config.storage.chunk_bytes)
    return Services(config=config, db=open_database(config), store=store, progress=progress, deep=deep)
