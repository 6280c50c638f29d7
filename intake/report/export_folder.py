"""The export folder and its manifest.

An export goes into an empty folder, or, with ``--replace``, into the folder of an earlier export: then it
removes only the files that export listed in its manifest (``.intake-export.json``) and that are unchanged
since (same SHA-256). Anything else in the folder is kept and reported. The manifest is read as hostile
input: only plain names inside the folder count (no ``/``, no ``..``), and nothing is opened or removed
through a symlink.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from core.errors import StorageError, UsageError
from core.timefmt import local_iso

MANIFEST = ".intake-export.json"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class WrittenFile:
    name: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class ExportFolder:
    path: Path
    removable: tuple[str, ...]   # files of the earlier export, unchanged since: --replace removes them
    kept: tuple[str, ...]        # everything else that was there (not written by it, or changed since)
    had_manifest: bool           # an earlier export's manifest was found and read


def is_plain_name(name: object) -> bool:
    """A name of a file directly inside the folder: no path, no parent, no NUL."""
    return (isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0")
            and len(name.encode("utf-8", "surrogatepass")) <= 255)


def open_folder(path: Path, replace: bool, reserved: dict[str, Path] | None = None) -> ExportFolder:
    """The folder to export into, created if missing; UsageError when it holds files and not ``replace``, or
    when it lies in one of the ``reserved`` folders (what: path) the intake itself works in."""
    for what, root in (reserved or {}).items():
        if _inside(path, root):
            raise UsageError(f"{path} 位于{what}（{root}）中，不能导出到这里：导出的文件会被当作新作品登记或混入存档。",
                             "请指定这些文件夹以外的一个空目录，如 U 盘上的新文件夹。")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} 不是目录，不能导出到这里。", "请指定一个空目录（不存在时会自动创建）。")
    try:
        path.mkdir(parents=True, exist_ok=True)
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise StorageError(f"无法使用导出目录 {path}：{exc.strerror}", "请检查路径和写入权限。") from exc
    if names and not replace:
        raise UsageError(f"导出目录 {path} 不是空的（有 {len(names)} 个文件或文件夹），为免把旧文件混进报送材料，没有导出。",
                         "请换一个空目录；要替换上次导出到这里的文件，请加 --replace"
                         "（只删除上次导出清单中列出且未被改动的文件，其他文件保留）。")
    listed = _read_manifest(path) if MANIFEST in names else None
    removable, kept = [], []
    for name in names:
        if name == MANIFEST and _is_regular(path / name):
            continue          # replaced by this export's own manifest
        expected = (listed or {}).get(name)
        (removable if expected and _digest(path / name) == expected else kept).append(name)
    return ExportFolder(path, tuple(removable), tuple(kept), listed is not None)


def remove_files(folder: ExportFolder) -> list[str]:
    """Remove the earlier export's files (regular files only; a name now a symlink or folder stays)."""
    removed = []
    for name in folder.removable:
        target = folder.path / name
        if _is_regular(target):
            try:
                target.unlink()
            except OSError as exc:
                raise StorageError(f"无法删除上次导出的文件 {name}：{exc.strerror}", "请检查导出目录的写入权限。") from exc
            removed.append(name)
    return removed


def manifest_data(files: list[WrittenFile], exported_at: datetime) -> dict:
    """The manifest of an export: every file written, with its SHA-256."""
    return {"tool": "intake", "version": 1, "exported_at": local_iso(exported_at),
            "files": [{"name": f.name, "sha256": f.sha256, "size_bytes": f.size_bytes} for f in files]}


def write_manifest(folder: Path, files: list[WrittenFile], exported_at: datetime) -> Path:
    """Write the manifest of this export beside its files (atomically), listing every file with its SHA-256."""
    data = manifest_data(files, exported_at)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".intake-export.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
        os.replace(temp, folder / MANIFEST)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return folder / MANIFEST


def file_digest(path: Path) -> WrittenFile:
    digest = _digest(path)
    if digest is None:
        raise StorageError(f"无法读取刚写入的 {path.name}。", "请检查导出目录。")
    return WrittenFile(path.name, digest, path.stat().st_size)


def _read_manifest(folder: Path) -> dict[str, str] | None:
    """name → SHA-256 of the files an earlier export wrote; None when there is no readable manifest."""
    try:
        with _open_regular(folder / MANIFEST) as fh:
            if fh is None or os.fstat(fh.fileno()).st_size > MAX_MANIFEST_BYTES:
                return None
            data = json.loads(fh.read(MAX_MANIFEST_BYTES + 1))
    except (OSError, ValueError, RecursionError):   # nesting without end is as unreadable as bad syntax
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        return None
    return {item["name"]: item["sha256"] for item in files
            if isinstance(item, dict) and is_plain_name(item.get("name")) and item["name"] != MANIFEST
            and isinstance(item.get("sha256"), str) and SHA256.match(item["sha256"])}


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or lies under it, links resolved (a link into the inbox is the inbox)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):   # a link loop: not a folder anyone could export into
        return True


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _digest(path: Path) -> str | None:
    """SHA-256 of a regular file, read without following a symlink; None for anything else."""
    try:
        with _open_regular(path) as fh:
            return None if fh is None else hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise StorageError(f"无法读取导出目录中的 {path.name}：{exc.strerror}", "请检查导出目录。") from exc


@contextlib.contextmanager
def _open_regular(path: Path) -> Iterator[BinaryIO | None]:
    """``path`` opened for reading if it is a regular file (not through a symlink); else None."""
    try:
        fd: int | None = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOENT, errno.ENXIO, errno.EACCES, errno.EPERM):
            raise
        fd = None
    if fd is not None and not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        fd = None
    if fd is None:
        yield None
        return
    with os.fdopen(fd, "rb") as fh:
        yield fh
