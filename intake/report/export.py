"""报送: the package forwarded to the regional bureau — shortlisted works, 汇总表.xlsx and a manifest.

The result says, file by file, what was exported under which name, and why anything was not. A file the checks
rejected is exported only when a reviewer shortlisted the work with ``--force`` and none of its files passed;
a repaired file is exported as the MP4 that was judged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from core.errors import StorageError, UsageError
from core.numbers import duration_text, size_mb
from core.textsafe import clean_name, one_line
from core.timefmt import local_text
from intake.report.export_folder import MANIFEST, WrittenFile, file_digest, open_folder, remove_files, write_manifest
from intake.report.rows import forced_text, resolution_text
from intake.report.sheet import write_sheet
from intake.pipeline.secrecy import flag_summary
from storage.filestore import FileStore

if TYPE_CHECKING:
    from intake.config import Config

# Characters Windows refuses in a file name; control characters are dropped before this.
WINDOWS_UNSAFE = re.compile(r'[\\/:*?"<>|]')
PART_BYTES = len(b".") + len(b".part")      # room for a temporary copy's name
SUMMARY = "汇总表.xlsx"
SUMMARY_COLUMNS = ["序号", "单位", "作品名", "代言人", "主题", "联系人", "联系电话", "时长", "大小（MB）", "分辨率",
                   "文件名", "SHA-256", "涉密提醒", "备注"]
SUMMARY_WIDTHS = (6, 16, 30, 10, 30, 10, 15, 10, 10, 16, 44, 66, 40, 40)
# Video containers (as found by content) and the extension an exported copy gets. Files that passed are MP4;
# the others are exported only when a reviewer forced the shortlist, and keep the name of what they are.
VIDEO_EXTENSIONS = {"mp4": ".mp4", "quicktime": ".mov", "mkv": ".mkv", "webm": ".webm", "avi": ".avi", "flv": ".flv"}


class Skip(str, Enum):
    """Why a file of a shortlisted work was not exported."""

    NOT_STORED = "not_stored"
    REJECTED = "rejected"
    MISSING = "missing"
    CORRUPT = "corrupt"


SKIP_TEXTS = {
    Skip.NOT_STORED: "没有保存文件（超过大小上限或未能下载）",
    Skip.REJECTED: "文件检查不合格",
    Skip.MISSING: "文件库中找不到这个文件",
    Skip.CORRUPT: "文件库中的文件与登记时不一致（SHA-256 不符），可能已损坏",
}
# Skips a reviewer must act on: the store lost or damaged a file (the others are the checks' verdict).
STORE_PROBLEMS = frozenset({Skip.MISSING, Skip.CORRUPT})


def safe_part(text: str | None, limit: int = 60) -> str:
    """A piece of a file name that Windows and a USB stick accept: one line, no controls, no \\/:*?"<>|."""
    text = unicodedata.normalize("NFC", one_line(text) or "")
    text = WINDOWS_UNSAFE.sub("_", text).strip(" .")
    return text[:limit] or "未命名"


def export_name(prefix: str, unit: str | None, title: str, suffix: str = ".mp4") -> str:
    """序号_单位_作品名.mp4, cut by UTF-8 bytes (keeping .mp4) so that it and its temporary copy fit NAME_MAX."""
    name = f"{prefix}_{safe_part(unit or '未注明单位', 20)}_{safe_part(title)}{suffix}"
    return clean_name(name, reserve_bytes=PART_BYTES)


@dataclass
class FileExport:
    file: dict[str, Any]              # the file as ``intake list --json`` shows it
    name: str | None = None           # its name in the export folder, once exported
    skipped: Skip | None = None
    forced: bool = False              # exported although the checks rejected it (shortlisted with --force)


@dataclass
class WorkExport:
    view: dict[str, Any]
    files: list[FileExport]
    seq: int | None = None

    @property
    def title(self) -> str:
        return self.view["title"] or (Path(self.view["files"][0]["original_name"]).stem if self.view["files"] else "")

    @property
    def exported(self) -> list[FileExport]:
        return [f for f in self.files if f.name]

    @property
    def secrecy(self) -> str:
        """What the secrecy scan found on the work (or could not read), in one line; empty when nothing."""
        return flag_summary(self.view["secrecy"])

    @property
    def forced(self) -> str:
        """What a forced shortlist overrode; empty when the shortlist was not forced."""
        return forced_text(self.view["decision"] or {})

    @property
    def complete(self) -> bool:
        """At least one file exported, and none lost or damaged in the store."""
        return bool(self.exported) and not any(f.skipped in STORE_PROBLEMS for f in self.files)


@dataclass
class ExportResult:
    directory: Path
    works: list[WorkExport]
    summary: Path
    manifest: Path
    exported_at: datetime
    removed: list[str] = field(default_factory=list)    # files of the earlier export, removed (--replace)
    kept: list[str] = field(default_factory=list)       # other files found in the folder, left alone
    had_manifest: bool = False

    @property
    def files(self) -> list[FileExport]:
        return [f for w in self.works for f in w.exported]

    @property
    def incomplete(self) -> list[WorkExport]:
        return [w for w in self.works if not w.complete]

    def audit(self) -> dict[str, Any]:
        """What the audit log keeps of an export: where, which files, and what was not exported and why."""
        return {"directory": str(self.directory.resolve()), **works_audit(self.works), "removed": self.removed,
                "kept": self.kept}


def works_audit(works: list[WorkExport]) -> dict[str, Any]:
    """What the audit log keeps of the works of an export: the files, what was not exported and why, the files
    exported by a forced shortlist, and the works with a secrecy flag."""
    not_exported = [{"id": w.view["id"], "files": [{"name": f.file["original_name"], "reason": f.skipped.value}
                                                  for f in w.files if f.skipped]}
                    for w in works if any(f.skipped for f in w.files) or not w.files]
    flagged = [{"id": w.view["id"], "found": w.view["secrecy"]["found"], "incomplete": w.view["secrecy"]["incomplete"]}
               for w in works if w.view["secrecy"]["flagged"] or w.view["secrecy"]["incomplete"]]
    files = [f for w in works for f in w.exported]
    return {"files": [f.name for f in files], "not_exported": not_exported, "forced": [f.name for f in files if f.forced],
            "flagged": flagged}


def reserved_folders(config: Config) -> dict[str, Path]:
    """The folders the intake works in (what: path); an export into any of them is refused."""
    return {"投递文件夹": config.watch.inbox, "处理结果文件夹": config.watch.done, "文件库": config.storage.root,
            "数据目录": config.storage.data_dir}


def plan_export(views: list[dict[str, Any]], store: FileStore) -> list[WorkExport]:
    """Every shortlisted work with the files to export, numbered and named, or why not; UsageError when nothing
    is shortlisted."""
    shortlisted = [v for v in views if v["decision"] and v["decision"]["decision"] == "shortlist"]
    if not shortlisted:
        raise UsageError("还没有入围的作品，没有可以报送的内容。", "请先用 intake decide 作品编号 --shortlist 标记入围作品。")
    works = [WorkExport(view, _plan(view, store)) for view in shortlisted]
    _name(works)
    return works


def summary_title(contest_name: str, exported_at: datetime) -> str:
    return f"“{contest_name}”微视频报送作品汇总表（导出时间：{local_text(exported_at)}，北京时间）"


def export_shortlist(views: list[dict[str, Any]], store: FileStore, target: Path, *, contest_name: str,
                     replace: bool = False, now: datetime | None = None,
                     reserved: dict[str, Path] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Copy every shortlisted work's files into ``target`` (each hash checked), write 汇总表.xlsx and the manifest.
    If copying fails midway (a full disk), the manifest still lists what was written, so ``--replace`` can clear it."""
    exported_at = now or datetime.now(timezone.utc)
    works = plan_export(views, store)
    folder = open_folder(target, replace, reserved)
    todo = [item for work in works for item in work.exported]
    clashes = sorted(({item.name for item in todo} | {SUMMARY, MANIFEST}) & set(folder.kept))
    if clashes:
        raise UsageError(f"导出目录中已有同名的 {'、'.join(clashes)}，它们不是上次导出写入的（或导出后被改动过），"
                         "为免误删没有导出。", "请把它们移走，或换一个空目录。")
    removed = remove_files(folder)
    written: list[WrittenFile] = []
    try:
        for done, item in enumerate(todo, 1):
            copied = _copy_verified(store, item, folder.path)
            if copied:
                written.append(copied)
            if progress:
                progress(done, len(todo))
        summary = write_summary(works, folder.path / SUMMARY, summary_title(contest_name, exported_at))
    except BaseException:
        if written:   # what was written stays listed: --replace can clear it
            with contextlib.suppress(OSError, StorageError):
                write_manifest(folder.path, written, exported_at)
        raise
    manifest = write_manifest(folder.path, [*written, file_digest(summary)], exported_at)
    return ExportResult(folder.path, works, summary, manifest, exported_at, removed, list(folder.kept),
                        folder.had_manifest)


def _plan(view: dict[str, Any], store: FileStore) -> list[FileExport]:
    """Which files of a work to export: those that passed; if none did and the shortlist was forced, its
    stored videos. Files missing from the store are found here, so that numbering leaves no gaps."""
    plans = [FileExport(f) for f in view["files"]]
    for item in plans:
        if not item.file["sha256"]:
            item.skipped = Skip.NOT_STORED
        elif item.file["outcome"] == "rejected":
            item.skipped = Skip.REJECTED
    if view["decision"].get("forced") and all(item.skipped for item in plans):
        for item in plans:
            if item.skipped is Skip.REJECTED and item.file["container"] in VIDEO_EXTENSIONS:
                item.skipped, item.forced = None, True
    for item in plans:
        if item.skipped is None:
            try:
                size = os.lstat(stored_path(store, item.file)).st_size
            except OSError:
                item.skipped = Skip.MISSING
                continue
            item.skipped = None if size == item.file["size_bytes"] else Skip.CORRUPT
    return plans


def stored_path(store: FileStore, file: dict[str, Any]) -> Path:
    """Where a file of the export is in the store."""
    return store.path_of(store.relative_path_for(file["sha256"]))


def _name(works: list[WorkExport]) -> None:
    """Number the works that have files to export (01, 02, …) and name those files."""
    seq = 0
    for work in works:
        todo = [item for item in work.files if item.skipped is None]
        if not todo:
            continue
        seq += 1
        work.seq = seq
        for index, item in enumerate(todo):
            suffix = f"-{index + 1}" if len(todo) > 1 else ""
            item.name = export_name(f"{seq:02d}{suffix}", work.view["unit"], work.title,
                                    VIDEO_EXTENSIONS.get(item.file["container"], ".mp4"))


def _copy_verified(store: FileStore, item: FileExport, folder: Path) -> WrittenFile | None:
    """Copy one stored file to its export name through a temporary file; on a hash mismatch mark it skipped."""
    source = stored_path(store, item.file)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as dst, source.open("rb") as src:
            while chunk := src.read(4 * 1024 * 1024):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        if digest.hexdigest() != item.file["sha256"]:
            item.name, item.skipped = None, Skip.CORRUPT
            os.unlink(temp)
            return None
        shutil.copystat(source, temp)
        os.replace(temp, folder / item.name)
    except FileNotFoundError:
        Path(temp).unlink(missing_ok=True)
        item.name, item.skipped = None, Skip.MISSING
        return None
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise StorageError(f"导出 {item.name} 时出错：{exc.strerror}", "请检查导出目录的剩余空间和写入权限。") from exc
    return WrittenFile(item.name, item.file["sha256"], size)


def write_summary(works: list[WorkExport], path: Path, title: str) -> Path:
    """汇总表.xlsx: a title row, then one row per exported file (phones as text, sizes in MB as 0.0)."""
    rows = []
    for work in works:
        v = work.view
        for item in work.exported:
            f = item.file
            rows.append([work.seq, v["unit"], work.title, v["speaker"], v["topic"], v["contact"], v["phone"],
                         duration_text(f["duration_seconds"]), size_mb(f["size_bytes"]),
                         resolution_text(f), item.name, f["sha256"], work.secrecy,
                         f"强制入围：{work.forced}" if work.forced else ""])
    return write_sheet(path, "汇总表", SUMMARY_COLUMNS, rows, widths=SUMMARY_WIDTHS,
                       text_columns={SUMMARY_COLUMNS.index("联系电话")},
                       number_formats={SUMMARY_COLUMNS.index("大小（MB）"): "0.0"}, freeze="A3", title_row=title)
