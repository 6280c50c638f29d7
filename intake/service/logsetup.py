"""Logging for the long-running jobs: stderr and a rotating file under the data folder, in Beijing time."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import datetime
from pathlib import Path

from core.timefmt import SHANGHAI
from intake.config import Config
from intake.service.permissions import secure_data

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class BeijingFormatter(logging.Formatter):
    """``%(asctime)s`` in Asia/Shanghai (a server often runs on UTC)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, SHANGHAI).strftime(datefmt or DATE_FORMAT)


def setup_logging(config: Config) -> Path:
    """Configure the root logger; return the log file's path."""
    secure_data(config)   # the data folder is made 0700 before the log's folder is made in it
    log_dir = config.storage.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "intake.log"
    handlers = [logging.handlers.RotatingFileHandler(log_file, maxBytes=config.logging.max_bytes,
                                                     backupCount=config.logging.backups, encoding="utf-8"),
                logging.StreamHandler(sys.stderr)]
    for handler in handlers:
        handler.setFormatter(BeijingFormatter(FORMAT, DATE_FORMAT))
    logging.basicConfig(level=config.logging.level, handlers=handlers, force=True)
    # watchdog and alembic are chatty at INFO
    logging.getLogger("watchdog").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return log_file


def logging_progress(label: str, total: int):
    """Log a line at each quarter of a long copy (the main job runs unattended, often without a terminal)."""
    if total < 32 * 1024 * 1024:
        return None
    log = logging.getLogger("intake.progress")
    state = {"next": 25}

    def update(done: int, _total: int) -> None:
        percent = done * 100 // total
        if percent >= state["next"]:
            log.info("正在存档 %s：%d%%（%.0f / %.0f MB）", label, percent, done / 1048576, total / 1048576)
            state["next"] = (percent // 25 + 1) * 25

    return update
