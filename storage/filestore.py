"""A content-addressed file store: each content once, named by its SHA-256.

Copy and hash are one pass over the source. A file appears under its final
name only when complete and on disk (temp name, fsync, rename), so a crash
or a shared store never shows a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from intake import failpoints
from intake.errors import StorageError

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

    def _copy_and_hash(self, source: Path, target: Path, progress: Progress | None) -> tuple[str, int]:
        """One pass over ``source``: each chunk is hashed on a helper thread while it is written.

        hashlib and file writes both release the GIL, so on two cores the hash
        costs almost nothing on top of the copy. Buffers rotate so that a chunk
        is never overwritten before both its hash and its write are done.
        """
        digest = hashlib.sha256()
        total = source.stat().st_size
        done = 0
        buffers = [bytearray(self.chunk_bytes) for _ in range(2)]
        pending: Future | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as hasher, \
                source.open("rb") as src, target.open("wb") as dst:
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

    def put(self, source: Path, suffix: str = ".mp4", progress: Progress | None = None) -> StoredBlob:
        """Copy ``source`` into the store, hashing as it goes; return where it lives."""
        tmp_dir = self.root / "tmp"
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            sha, done = self._copy_and_hash(source, tmp, progress)
            relative = self.relative_path_for(sha, suffix)
            final = self.root / relative
            if final.exists() and final.stat().st_size == done:
                tmp.unlink()
                return StoredBlob(sha, done, relative, already_present=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            return StoredBlob(sha, done, relative, already_present=False)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            hint = "磁盘空间不足，请清理后重试。" if exc.errno == 28 else "请检查 storage.root 是否存在且可写。"
            raise StorageError(f"无法把文件存入文件库 {self.root}：{exc.strerror or exc}", hint) from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
