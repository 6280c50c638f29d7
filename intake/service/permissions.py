"""Who may read what intake keeps: the account that runs it and that account's group, never everyone.

The database holds password hashes, session tokens, contacts and phones; the store, log and notes are the works.
Under umask 022 they would be readable by any local account, so the program's entry sets umask 027 and the unit
``UMask=0027``. What already exists is closed to the world by each command that opens the data (data folder,
store, done/, the SQLite file and journals; the files inside need no change once their folders are closed).
A folder another account owns is left alone and logged (chmod would fail anyway).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from intake.config import Config, sqlite_file

log = logging.getLogger(__name__)

PROGRAM_UMASK = 0o027   # set by the program's entry (intake.cli.main)
WORLD = 0o007


def sqlite_files(config: Config) -> list[Path]:
    """The SQLite database file of the config and its journals (whether they exist yet or not)."""
    database = sqlite_file(config.database.url)
    if database is None:
        return []
    return [database.with_name(database.name + companion) for companion in ("", "-wal", "-shm", "-journal")]


def secure_data(config: Config) -> None:
    """Make the data folder (0700 when new) and close the data, the store, done/ and the database to the world."""
    data = config.storage.data_dir
    try:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return   # the command that needs it says why
    for path in (data, config.storage.root, config.watch.done, *sqlite_files(config)):
        close_to_world(path)


def close_to_world(path: Path) -> None:
    """Take the world's read, write and search bits from ``path`` if we own it."""
    try:
        st = os.stat(path)
    except OSError:
        return   # not there (yet): created later under the program's umask
    if not st.st_mode & WORLD:
        return
    if st.st_uid != os.geteuid():
        log.warning("%s 其他用户也能访问，但它不属于运行 intake 的用户，无法收紧权限；请运行 chmod o-rwx %s", path, path)
        return
    try:
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~WORLD)
    except OSError as exc:
        log.warning("无法收紧 %s 的权限：%s", path, exc.strerror or exc)
