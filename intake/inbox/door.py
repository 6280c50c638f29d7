"""The one door for files from the inbox: videos, zips, sidecars and subtitles come in here and nowhere else.

A path is opened once, through a chain of directories each opened with O_NOFOLLOW (no folder on the way may
be a link), with ``O_RDONLY | O_NOFOLLOW | O_NONBLOCK`` (a FIFO never blocks us, a link is refused), and kept
only if ``fstat`` says it is a regular file. Everything after reads through the descriptor, at most the size
``fstat`` gave. The source counts as taken only if, just before the record commits, it still has the device,
inode, size and mtime it had when opened. Moves rename the entry inside the directory we hold open, so a
folder swapped for a link meanwhile cannot send us outside.
"""

from __future__ import annotations

from core.errors import RefusedEntry, SourceChanged, Stopped
import contextlib
import errno
import fcntl
import io
import os
import shutil
import signal
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from intake.pipeline.task import MediaTask
from storage.filestore import FdSlice

if TYPE_CHECKING:
    from storage.filestore import FileStore, Progress, StoredBlob
    from validators.opened import OpenedFile

FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SIDECAR_CAP = 1024 * 1024          # a sidecar or transcript is read at most this far
F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
KIND_NAMES = {stat.S_IFIFO: "命名管道（FIFO）", stat.S_IFCHR: "字符设备", stat.S_IFBLK: "块设备",
              stat.S_IFSOCK: "套接字", stat.S_IFLNK: "符号链接", stat.S_IFDIR: "文件夹"}


@dataclass(frozen=True)
class Identity:
    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> "Identity":
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def kind_name(mode: int) -> str:
    return KIND_NAMES.get(stat.S_IFMT(mode), "特殊文件")


def relative_parts(inbox: Path, path: Path) -> tuple[str, ...]:
    """``path`` below ``inbox`` as its name components; RefusedEntry if it is not below it (lexically)."""
    try:
        parts = path.relative_to(inbox).parts
    except ValueError:
        raise RefusedEntry(path, "不在投递文件夹内") from None
    if not parts or any(p in ("..", ".") for p in parts):
        raise RefusedEntry(path, "不在投递文件夹内")
    return parts


def open_dir_chain(inbox: Path, parts: tuple[str, ...]) -> int:
    """A descriptor of ``inbox/parts…``, walked down one folder at a time without following any link."""
    fd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)   # the inbox itself is the operator's choice
    try:
        for part in parts:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise RefusedEntry(inbox.joinpath(*parts), f"路径中的“{part}”是链接或不是文件夹，不会跟随") from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_real_folder(inbox: Path, path: Path) -> bool:
    """True if ``path`` is the inbox or a folder below it reached without any link."""
    if path == inbox:
        return True
    try:
        os.close(open_dir_chain(inbox, relative_parts(inbox, path)))
        return True
    except (RefusedEntry, OSError):
        return False


def ignore_lease_breaks() -> bool:
    """A lease being broken sends SIGIO, whose default action ends the process: ignore it (main thread only);
    True if lease probes are safe now."""
    if signal.getsignal(signal.SIGIO) not in (signal.SIG_DFL, None):
        return True
    try:
        signal.signal(signal.SIGIO, signal.SIG_IGN)
        return True
    except ValueError:   # not the main thread: skip the probe rather than risk the signal
        return False


class InboxFile:
    """An open regular file in the inbox, with the identity it had when opened."""

    def __init__(self, path: Path, dir_fd: int, name: str, fd: int, st: os.stat_result,
                 stop: threading.Event | None = None):
        self.path = path
        self.dir_fd = dir_fd
        self.name = name
        self.fd = fd
        self.identity = Identity.of(st)
        self.ctime = st.st_ctime
        self.stop = stop

    @classmethod
    def open(cls, inbox: Path, path: Path, stop: threading.Event | None = None) -> "InboxFile":
        """Open ``path``; RefusedEntry for anything but a regular file reached without links, OSError if it is gone."""
        parts = relative_parts(inbox, path)
        dir_fd = open_dir_chain(inbox, parts[:-1])
        try:
            fd = open_regular(parts[-1], path, dir_fd)
            return cls(path, dir_fd, parts[-1], fd, os.fstat(fd), stop)
        except BaseException:
            os.close(dir_fd)
            raise

    @property
    def size(self) -> int:
        return self.identity.size

    def close(self) -> None:
        for fd in (self.fd, self.dir_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> "InboxFile":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def opened(self) -> "OpenedFile":
        """The same open file for the media readers (a duplicate descriptor: closing it leaves ours open)."""
        from validators.opened import OpenedFile

        return OpenedFile(os.dup(self.fd), self.size, self.name)

    # -- reading, never past the size fstat gave -------------------------------------------------

    def head(self, limit: int) -> bytes:
        return os.pread(self.fd, min(limit, self.size), 0)

    def read_capped(self, cap: int = SIDECAR_CAP) -> bytes:
        return read_fd(self.fd, min(cap, self.size))

    def reader(self) -> io.BufferedReader:
        """A seekable reader bounded to the opened size (for zipfile)."""
        return io.BufferedReader(_BoundedRaw(self.fd, self.size, self.stop))

    def store_into(self, store: "FileStore", progress: "Progress | None" = None) -> "StoredBlob":
        """Copy and hash into the store; SourceChanged if the file shrank, Stopped on a stop request."""

        def guarded(done: int, total: int) -> None:
            if self.stop is not None and self.stop.is_set():
                raise Stopped()
            if progress:
                progress(done, total)

        blob = store.put_fd(self.fd, self.size, progress=guarded)
        if blob.size_bytes != self.size:
            raise SourceChanged(f"{self.path} 在拷贝时变短了")
        return blob

    # -- is it finished, and is it still what we read? -----------------------------------------

    def writers_active(self) -> bool:
        """True if some process has the file open for writing (a copy still under way, maybe paused).

        A read lease is refused with EAGAIN exactly then. Where leases are not offered (network
        shares: EINVAL, or no CAP_LEASE: EPERM) the answer is False and the settle time, the
        source check and the longer wait for cut-short results stand in.
        """
        if not ignore_lease_breaks():
            return False
        try:
            fcntl.fcntl(self.fd, F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            return exc.errno in (errno.EAGAIN, errno.EBUSY)
        fcntl.fcntl(self.fd, F_SETLEASE, fcntl.F_UNLCK)
        return False

    def check_unchanged(self) -> None:
        """SourceChanged unless the name still leads to the same inode with the same size and mtime."""
        try:
            now = os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise SourceChanged(f"{self.path} 在处理期间被移走或改名") from None
        if Identity.of(now) != self.identity or Identity.of(os.fstat(self.fd)) != self.identity:
            raise SourceChanged(f"{self.path} 在处理期间被改动")
        if self.writers_active():
            raise SourceChanged(f"{self.path} 仍在被写入")

    def age_seconds(self) -> float:
        """Seconds since the file last changed, by ctime: a copy that keeps the original mtime (cp -p,
        Explorer) sets it only at the end, but every write and that final touch move the ctime."""
        return max(0.0, time.time() - max(self.ctime, self.identity.mtime_ns / 1e9))

    # -- leaving the inbox -----------------------------------------------------------------------

    def move_to(self, target: Path) -> None:
        move_entry(self.dir_fd, self.name, self.fd, target)


def open_regular(name: str, path: Path, dir_fd: int | None = None) -> int:
    """Open ``name`` (relative to ``dir_fd``) read-only, never through a link, never blocking; regular files only."""
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(before.st_mode):
        # RefusedEntry before open(): opening a device can have effects of its own.
        raise RefusedEntry(path, f"是{kind_name(before.st_mode)}，不是普通文件，不会读取")
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RefusedEntry(path, "是符号链接，不会跟随") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise RefusedEntry(path, f"在打开时被换成了{kind_name(st.st_mode)}，不会读取")
    return fd


def read_fd(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from the start of ``fd``."""
    chunks, done = [], 0
    while done < limit:
        chunk = os.pread(fd, min(limit - done, 1024 * 1024), done)
        if not chunk:
            break
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def read_sidecar(path: Path, inbox: Path | None = None, cap: int = SIDECAR_CAP) -> bytes:
    """A sidecar's first ``cap`` bytes; through the folder chain when it lies in ``inbox``. RefusedEntry / OSError."""
    if inbox is not None:
        with InboxFile.open(inbox, path) as source:
            return source.read_capped(cap)
    fd = open_regular(str(path), path)
    try:
        return read_fd(fd, min(cap, os.fstat(fd).st_size))
    finally:
        os.close(fd)


def move_entry(dir_fd: int, name: str, fd: int | None, target: Path) -> None:
    """Rename ``name`` in the open folder ``dir_fd`` to ``target``; across devices, copy through ``fd``.

    The copy goes to a temp name, is fsynced and renamed, and only then is the source unlinked,
    so a crash leaves either the source or a complete copy (``claim_name`` then takes its name again).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(name, target, src_dir_fd=dir_fd)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    own_fd = fd is None
    if own_fd:
        fd = open_regular(name, target.with_name(name), dir_fd)
    try:
        temp = target.with_name(f".{uuid.uuid4().hex[:12]}.part")
        with open(temp, "wb") as dst, os.fdopen(os.dup(fd), "rb") as src:
            src.seek(0)
            shutil.copyfileobj(src, dst, 4 * 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(temp, target)
    finally:
        if own_fd:
            os.close(fd)
    os.unlink(name, dir_fd=dir_fd)


class _BoundedRaw(io.RawIOBase):
    """A seekable, read-only view of the first ``size`` bytes of ``fd`` (pread: no shared offset)."""

    def __init__(self, fd: int, size: int, stop: threading.Event | None):
        self.slice, self.stop = FdSlice(fd, size), stop

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.slice.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.slice.pos, io.SEEK_END: self.slice.limit}[whence]
        self.slice.pos = max(0, base + offset)
        return self.slice.pos

    def readinto(self, buffer) -> int:
        if self.stop is not None and self.stop.is_set():
            raise Stopped()
        return self.slice.readinto(buffer)


@dataclass
class InboxMedia(MediaTask):
    """A file of a folder submission, read through the inbox door (``source``) rather than by path."""

    source: InboxFile | None = None

    def source_size(self) -> int:
        return self.source.size

    def store_into(self, store: "FileStore", progress: "Progress | None") -> "StoredBlob":
        return self.source.store_into(store, progress)

    def open_source(self) -> "OpenedFile":
        return self.source.opened()
