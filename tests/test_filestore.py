"""The content-addressed store (storage/filestore.py): what is hashed is what is stored, by the kernel's
copy or by hand, and a failure at any step leaves nothing behind."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from core.errors import StorageError
from storage import filestore
from storage.filestore import FileStore

DATA = os.urandom(5 * 65536 + 123)   # several chunks and a short last one


def open_under(folder: Path) -> list[str]:
    """What this process's open descriptors point at inside ``folder``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue   # closed meanwhile (the listing's own descriptor among them)
        if target.startswith(f"{folder}/"):
            found.append(target)
    return found


def stored_files(store: FileStore) -> list:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path) -> FileStore:
    return FileStore(tmp_path / "store", chunk_bytes=65536)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "work.mp4"
    path.write_bytes(DATA)
    return path


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_put_names_the_stored_bytes_by_their_hash(store, source, monkeypatch, kernel_copy):
    if not kernel_copy:   # a file system without copy_file_range: the copy goes through a buffer
        def refused(*args):
            raise OSError(errno.EXDEV, "cross-device")
        monkeypatch.setattr(filestore, "_copy_range", refused)
    progress: list[int] = []
    blob = store.put(source, progress=lambda done, total: progress.append(done))
    assert blob.sha256 == hashlib.sha256(DATA).hexdigest() and blob.size_bytes == len(DATA)
    assert (store.root / blob.relative_path).read_bytes() == DATA
    assert progress[-1] == len(DATA) and len(progress) == 6
    assert stored_files(store) == [store.root / blob.relative_path]


def test_put_fd_copies_no_more_than_its_limit(store, source):
    with source.open("rb") as fh:
        blob = store.put_fd(fh.fileno(), 100_000)
    assert blob.sha256 == hashlib.sha256(DATA[:100_000]).hexdigest()


def test_a_copy_whose_fsync_fails_is_never_named(store, source, monkeypatch):
    def failing(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(filestore.os, "fsync", failing)
    with pytest.raises(StorageError, match="Input/output error"):
        store.put(source)
    assert stored_files(store) == []


def test_a_copy_is_named_only_once_it_is_on_disk(store, source, monkeypatch):
    named_after = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        named_after.append("fsync")
        real_fsync(fd)

    def replace(a, b):
        named_after.append("rename")
        real_replace(a, b)

    monkeypatch.setattr(filestore.os, "fsync", fsync)
    monkeypatch.setattr(filestore.os, "replace", replace)
    blob = store.put(source)
    assert named_after[:2] == ["fsync", "rename"]   # the copy, then its name (then the folder's fsync)
    assert (store.root / blob.relative_path).read_bytes() == DATA


def test_put_interrupted_while_its_copy_is_flushed_leaves_nothing(store, source, monkeypatch, tmp_path):
    def interrupted(fd):
        raise KeyboardInterrupt   # Ctrl-C while the copy is flushed to disk

    monkeypatch.setattr(filestore.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.put(source)
    with source.open("rb") as fh, pytest.raises(KeyboardInterrupt):
        store.put_fd(fh.fileno(), len(DATA))
    assert stored_files(store) == []
    # No descriptor is left on the copy or its source. (The process's whole fd table is not compared: threads that
    # earlier tests of the same worker left behind open and close their own descriptors meanwhile.)
    assert open_under(tmp_path) == []


def test_a_failed_write_while_receiving_is_raised_and_leaves_nothing(store, monkeypatch):
    writer = store.open_writer()
    writer.write(DATA[:1000])

    class Full:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            pass

    real = writer._fh
    monkeypatch.setattr(writer, "_fh", Full())
    with pytest.raises(StorageError, match="磁盘空间不足"):
        for _ in range(10):   # the write that fails is behind the one that reports it
            writer.write(DATA[:1000])
        writer.commit()
    real.close()
    assert stored_files(store) == []


def test_pieces_received_are_stored_in_order(store):
    writer = store.open_writer()
    for start in range(0, len(DATA), 1000):
        writer.write(DATA[start:start + 1000])
    blob = writer.commit()
    assert (store.root / blob.relative_path).read_bytes() == DATA
    assert blob.sha256 == hashlib.sha256(DATA).hexdigest()
