"""What every part of the database writes with: who writes, how a write waits out another process's lock, and
how a part opens a transaction. Below ``database.py`` so that no part imports ``Database`` back."""

from __future__ import annotations

import functools
import getpass
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Callable, ContextManager

from core.errors import DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# How a part of the database opens a transaction: ``Database.session``, shared by every part.
Sessions = Callable[[], ContextManager["Session"]]

log = logging.getLogger(__name__)

LOCKED_RETRIES = 6


def current_actor() -> str:
    """The system user running this, as the audit log names them: under sudo the user behind it (root
    tells nobody who it was), else the login name."""
    behind_sudo = os.environ.get("SUDO_USER")
    if behind_sudo and behind_sudo != "root" and os.geteuid() == 0:
        return behind_sudo
    try:
        return getpass.getuser()
    except Exception:  # no user name in a bare container
        return "unknown"


def worker_id() -> str:
    """This process, as other workers see it in the claims table."""
    return f"{socket.gethostname()}:{os.getpid()}"


def retry_when_locked(method):
    """SQLite answers "database is locked" when another process holds the write lock past the busy
    timeout; try the whole transaction again with backoff before giving up (in Chinese)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        delay = 0.2
        for attempt in range(LOCKED_RETRIES):
            try:
                return method(self, *args, **kwargs)
            except DatabaseError as exc:
                if "locked" not in str(exc.__cause__ or "").lower():
                    raise
                if attempt == LOCKED_RETRIES - 1:
                    raise DatabaseError("数据库一直被其他程序占用（database is locked），本次未能写入。",
                                        "请稍后重试；如反复出现，请检查是否有其他程序长时间打开了数据库。") from exc
                log.warning("数据库被占用，%.1f 秒后重试（第 %d 次）", delay, attempt + 1)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    return wrapper
