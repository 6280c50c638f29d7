"""One open file that every media reader shares (children through ``/proc/self/fd/N``): a path swapped after
the checks began, for a playlist say, is never read.
"""

from __future__ import annotations

from core.errors import NotRegularFile
import errno
import os
import stat
from pathlib import Path

# O_NOFOLLOW: a symlink is refused, not followed; O_NONBLOCK: a FIFO cannot block the open.
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class OpenedFile:
    """A regular file open for reading, with its size as fstat gave it when opened."""

    def __init__(self, fd: int, size: int, name: str):
        self.fd = fd
        self.size = size
        self.name = name

    @classmethod
    def open(cls, path: Path | str) -> "OpenedFile":
        """Open ``path`` without following a symlink; raises OSError (NotRegularFile) unless it is a regular file."""
        fd = os.open(path, OPEN_FLAGS)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, st.st_size, Path(path).name)

    @property
    def proc_path(self) -> str:
        """The same open file, for a child process that inherits ``fd`` (see ``pass_fds``)."""
        return f"/proc/self/fd/{self.fd}"

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer only at the end of the file)."""
        chunks = []
        while length > 0:
            chunk = os.pread(self.fd, length, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "OpenedFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def media_input(source: "Path | OpenedFile") -> tuple[str, tuple[int, ...]]:
    """(what to give a child as its input, the descriptors it must inherit). A trusted store Path is resolved;
    an OpenedFile never is: resolving /proc/self/fd/N would name the path again."""
    if isinstance(source, OpenedFile):
        return source.proc_path, (source.fd,)
    return str(Path(source).resolve()), ()
