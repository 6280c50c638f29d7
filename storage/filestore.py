"""A content-addressed file store: each content once, named by its SHA-256.

Copy and hash are one pass over the source (the hash reads the stored copy back from the
page cache, so it names what is stored). A file appears under its final
name only when complete and on disk (temp name, fsync, rename), so a crash
or a shared store never shows a half-written file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core import failpoints
from core.errors import StorageError

Progress = Callable[[int, int], None]   # (bytes done, bytes total)
HASH_BUFFER = 1024 * 1024
# copy_file_range refused for these two files (an old kernel, two file systems, a special file): copy by hand.
NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM}


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size_bytes: int
    relative_path: str
    already_present: bool


class FileStore:
    def __init__(self, root: Path, chunk_bytes: int = 4 * 1024 * 1024):
        self.root = root
        self.chunk_bytes = chunk_bytes

    def path_of(self, relative_path: str) -> Path:
        return self.root / relative_path

    @staticmethod
    def relative_path_for(sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.mp4"

    def _temp_path(self) -> Path:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tmp_dir / f"{uuid.uuid4().hex}.part"

    def put(self, source: Path, progress: Progress | None = None) -> StoredBlob:
        """Copy ``source`` into the store, hashing as it goes; return where it lives."""
        try:
            with source.open("rb") as src:
                return self.put_fd(src.fileno(), None, progress)
        except OSError as exc:
            raise storage_error(self.root, exc) from exc

    def put_fd(self, fd: int, max_bytes: int | None, progress: Progress | None = None) -> StoredBlob:
        """Copy an already-open ``fd`` from its start (positional reads; at most ``max_bytes``, None: to its end)
        into the store: for files that must not be opened by path again. An exception from ``progress`` (a stop
        request) aborts the copy and leaves nothing behind."""
        tmp = self._temp_path()
        try:
            total = max_bytes if max_bytes is not None else os.fstat(fd).st_size
            dst = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            try:
                sha256, size = self._copy_and_hash(fd, dst, max_bytes, total, progress)
                os.fsync(dst)
            finally:
                os.close(dst)
            return self._place(tmp, sha256, size)
        except OSError as exc:
            _remove_quietly(tmp)
            raise storage_error(self.root, exc) from exc
        except BaseException:
            _remove_quietly(tmp)
            raise

    def new_temp(self) -> Path:
        """A fresh path in the store's own temporary folder (same file system) for a tool to write into;
        ``adopt`` then gives the complete file its content name."""
        try:
            return self._temp_path()
        except OSError as exc:
            raise storage_error(self.root, exc) from exc

    def adopt(self, temp: Path) -> StoredBlob:
        """Place a complete file written at ``temp`` (see ``new_temp``) under its content name; ``temp`` is gone
        afterwards. One read hashes it while another thread flushes it to disk: about one read on top of its write."""
        try:
            with temp.open("rb") as fh, ThreadPoolExecutor(max_workers=1, thread_name_prefix="fsync") as syncer:
                synced = syncer.submit(os.fsync, fh.fileno())
                digest, size = hashlib.sha256(), 0
                buffer = bytearray(self.chunk_bytes)
                while n := fh.readinto(buffer):
                    digest.update(memoryview(buffer)[:n])
                    size += n
                synced.result()
            return self._place(temp, digest.hexdigest(), size)
        except OSError as exc:
            _remove_quietly(temp)
            raise storage_error(self.root, exc) from exc
        except BaseException:
            _remove_quietly(temp)
            raise

    def open_writer(self) -> "BlobWriter":
        """For content that arrives in pieces (a mail attachment as it is decoded)."""
        return BlobWriter(self)

    def _copy_and_hash(self, src: int, dst: int, limit: int | None, total: int,
                       progress: Progress | None) -> tuple[str, int]:
        """Copy ``src`` to ``dst`` (copy_file_range where offered: no trip through our memory), hashing each chunk
        as it reads back from ``dst`` (from the page cache): what is hashed is what is stored, whatever the source
        does meanwhile. (sha256, bytes) of the copy."""
        digest = hashlib.sha256()
        buffer = bytearray(min(self.chunk_bytes, HASH_BUFFER))   # small enough to stay in the cache
        done = 0
        copy = _copy_range
        while limit is None or done < limit:
            want = self.chunk_bytes if limit is None else min(self.chunk_bytes, limit - done)
            try:
                n = copy(src, dst, want, done)
            except OSError as exc:
                if copy is not _copy_range or done or exc.errno not in NO_COPY_RANGE:
                    raise
                copy = _read_write   # copy_file_range is not offered here: copy through a buffer
                n = copy(src, dst, want, done)
            if not n:
                break
            offset, left = done, n
            while left:
                got = os.preadv(dst, [memoryview(buffer)[:min(left, len(buffer))]], offset)
                if not got:
                    raise OSError(errno.EIO, "the stored copy is shorter than what was written")
                digest.update(memoryview(buffer)[:got])
                offset += got
                left -= got
            done += n
            failpoints.reached("store_copy")
            if progress:
                progress(done, total)
        return digest.hexdigest(), done

    def _place(self, tmp: Path, sha: str, size: int) -> StoredBlob:
        """Give a complete, fsynced temp file its content-addressed name (or drop it if already there)."""
        relative = self.relative_path_for(sha)
        final = self.root / relative
        if final.exists() and final.stat().st_size == size:
            tmp.unlink()
            return StoredBlob(sha, size, relative, already_present=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return StoredBlob(sha, size, relative, already_present=False)


def _copy_range(src: int, dst: int, length: int, offset: int) -> int:
    return os.copy_file_range(src, dst, length, offset, offset)


def _read_write(src: int, dst: int, length: int, offset: int) -> int:
    data = os.pread(src, length, offset)
    written = 0
    while written < len(data):
        written += os.pwrite(dst, memoryview(data)[written:], offset + written)
    return len(data)


class FdSlice:
    """``readinto`` over the first ``limit`` bytes of ``fd`` by positional reads (the fd's offset is not used)."""

    def __init__(self, fd: int, limit: int):
        self.fd, self.limit, self.pos = fd, limit, 0

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.limit - self.pos)
        if want <= 0:
            return 0
        n = os.preadv(self.fd, [memoryview(buffer)[:want]], self.pos)
        self.pos += n
        return n


class BlobWriter:
    """Receive a file in pieces, hash as it goes, then ``commit`` it under its content name.

    Pieces are written and hashed on a helper thread (both release the GIL) while the caller
    fetches and decodes the next one; at most ``QUEUED_PIECES`` wait, so memory stays bounded.
    Nothing appears under a final name until ``commit``; ``abort`` (or leaving the ``with`` block
    on an exception) removes the partial file. A failed write is raised by the next call.
    """

    QUEUED_PIECES = 2

    def __init__(self, store: FileStore):
        self.store = store
        self.size = 0
        self._digest = hashlib.sha256()
        self._error: OSError | None = None
        try:
            self.temp = store._temp_path()
            self._fh = self.temp.open("wb")
        except OSError as exc:
            raise storage_error(store.root, exc) from exc
        self._pieces: queue.Queue[bytes | None] = queue.Queue(self.QUEUED_PIECES)
        self._writer = threading.Thread(target=self._write_pieces, name="blob-writer", daemon=True)
        self._writer.start()

    def _write_pieces(self) -> None:
        while (data := self._pieces.get()) is not None:
            if self._error is not None:
                continue   # drain what was queued; the caller raises the error
            try:
                self._fh.write(data)
            except OSError as exc:
                self._error = exc
            else:
                self._digest.update(data)

    def write(self, data: bytes) -> None:
        """Queue ``data`` (bytes: it must not change afterwards) for writing; raises StorageError if a write failed."""
        self._raise_failed_write()
        self._pieces.put(bytes(data) if not isinstance(data, bytes) else data)
        self.size += len(data)

    def _finish_writes(self) -> None:
        if self._writer.is_alive():
            self._pieces.put(None)
            self._writer.join()

    def _raise_failed_write(self) -> None:
        if self._error is not None:
            error = self._error
            self.abort()
            raise storage_error(self.store.root, error) from error

    def commit(self) -> StoredBlob:
        self._finish_writes()
        self._raise_failed_write()
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            return self.store._place(self.temp, self._digest.hexdigest(), self.size)
        except OSError as exc:
            self.abort()
            raise storage_error(self.store.root, exc) from exc

    def abort(self) -> None:
        self._finish_writes()
        try:
            self._fh.close()
        except OSError:
            pass
        _remove_quietly(self.temp)

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is not None:
            self.abort()


def storage_error(root: Path, exc: OSError) -> StorageError:
    hint = "磁盘空间不足，请清理后重试。" if exc.errno == 28 else "请检查 storage.root 是否存在且可写。"
    return StorageError(f"无法把文件存入文件库 {root}：{exc.strerror or exc}", hint)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
