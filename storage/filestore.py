"""A content-addressed file store: each content once, named by its SHA-256.

Copy and hash are one pass over the source. A file appears under its final
name only when complete and on disk (temp name, fsync, rename), so a crash
or a shared store never shows a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core import failpoints
from core.errors import StorageError

Progress = Callable[[int, int], None]   # (bytes done, bytes total)


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
    def relative_path_for(sha256: str, suffix: str = ".mp4") -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"

    def _temp_path(self) -> Path:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return tmp_dir / f"{uuid.uuid4().hex}.part"

    def put(self, source: Path, suffix: str = ".mp4", progress: Progress | None = None) -> StoredBlob:
        """Copy ``source`` into the store, hashing as it goes; return where it lives."""
        tmp: Path | None = None
        try:
            tmp = self._temp_path()
            with source.open("rb") as src:
                sha, done = self._copy_and_hash(src, source.stat().st_size, tmp, progress)
            return self._place(tmp, sha, done, suffix)
        except OSError as exc:
            if tmp is not None:
                _remove_quietly(tmp)
            raise storage_error(self.root, exc) from exc

    def put_fd(self, fd: int, max_bytes: int, suffix: str = ".mp4", progress: Progress | None = None) -> StoredBlob:
        """Copy at most ``max_bytes`` from the start of an already-open ``fd`` (positional reads) into the store.

        For files that were checked once when opened and must not be opened by path again. An
        exception from ``progress`` (a stop request) aborts the copy and leaves nothing behind.
        """
        tmp: Path | None = None
        try:
            tmp = self._temp_path()
            sha, done = self._copy_and_hash(FdSlice(fd, max_bytes), max_bytes, tmp, progress)
            return self._place(tmp, sha, done, suffix)
        except OSError as exc:
            if tmp is not None:
                _remove_quietly(tmp)
            raise storage_error(self.root, exc) from exc
        except BaseException:
            if tmp is not None:
                _remove_quietly(tmp)
            raise

    def open_writer(self, suffix: str = ".mp4") -> "BlobWriter":
        """For content that arrives in pieces (a mail attachment as it is decoded)."""
        return BlobWriter(self, suffix)

    def _copy_and_hash(self, src, total: int, target: Path, progress: Progress | None) -> tuple[str, int]:
        """One pass over ``src`` (anything with ``readinto``): each chunk is hashed on a helper thread while it is written.

        hashlib and file writes both release the GIL, so on two cores the hash
        costs almost nothing on top of the copy. Buffers rotate so that a chunk
        is never overwritten before both its hash and its write are done.
        """
        digest = hashlib.sha256()
        done = 0
        buffers = [bytearray(self.chunk_bytes) for _ in range(2)]
        pending: Future | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as hasher, target.open("wb") as dst:
            turn = 0
            while True:
                buffer = buffers[turn]
                n = src.readinto(buffer)
                if not n:
                    break
                chunk = memoryview(buffer)[:n]
                if pending is not None:
                    pending.result()  # the previous chunk is hashed; its buffer is free again next turn
                pending = hasher.submit(digest.update, chunk)
                dst.write(chunk)
                done += n
                failpoints.reached("store_copy")
                if progress:
                    progress(done, total)
                turn ^= 1
            if pending is not None:
                pending.result()
            dst.flush()
            os.fsync(dst.fileno())
        return digest.hexdigest(), done

    def _place(self, tmp: Path, sha: str, size: int, suffix: str) -> StoredBlob:
        """Give a complete, fsynced temp file its content-addressed name (or drop it if already there)."""
        relative = self.relative_path_for(sha, suffix)
        final = self.root / relative
        if final.exists() and final.stat().st_size == size:
            tmp.unlink()
            return StoredBlob(sha, size, relative, already_present=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return StoredBlob(sha, size, relative, already_present=False)


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

    def __init__(self, store: FileStore, suffix: str):
        self.store = store
        self.suffix = suffix
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
            return self.store._place(self.temp, self._digest.hexdigest(), self.size, self.suffix)
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
