"""报送: the package forwarded to the regional bureau — shortlisted works and a 汇总表.xlsx."""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import StorageError, UsageError
from core.textsafe import clean_name, one_line
from intake.report.sheet import write_sheet

# Characters Windows refuses in a file name; control characters are dropped before this.
WINDOWS_UNSAFE = re.compile(r'[\\/:*?"<>|]')
PART_BYTES = len(b".") + len(b".part")      # the copy is written as ".<name>.part" first
SUMMARY_COLUMNS = [("seq", "序号"), ("file", "文件名"), ("unit", "单位"), ("contact", "联系人"), ("phone", "联系电话"),
                   ("speaker", "代言人"), ("topic", "主题"), ("duration", "时长（秒）"), ("size", "大小（字节）"),
                   ("sha256", "SHA-256"), ("id", "作品编号")]


def safe_part(text: str | None, limit: int = 60) -> str:
    """A piece of a file name that Windows and a USB stick accept: one line, no controls, no \\/:*?"<>|."""
    text = unicodedata.normalize("NFC", one_line(text) or "")
    text = WINDOWS_UNSAFE.sub("_", text).strip(" .")
    return text[:limit] or "未命名"


def export_name(prefix: str, unit: str | None, title: str) -> str:
    """序号_单位_作品名.mp4, cut by UTF-8 bytes (keeping .mp4) so that it and its temporary copy fit NAME_MAX."""
    name = f"{prefix}_{safe_part(unit or '未注明单位', 20)}_{safe_part(title)}.mp4"
    return clean_name(name, reserve_bytes=PART_BYTES)


@dataclass(frozen=True)
class ExportedFile:
    seq: int
    path: Path
    view: dict[str, Any]
    file: dict[str, Any]


def export_shortlist(views: list[dict[str, Any]], store_root: Path, target: Path) -> list[ExportedFile]:
    """Copy every shortlisted work's stored files into ``target`` as 序号_单位_作品名.mp4, checking each hash."""
    shortlisted = [v for v in views if v["decision"] and v["decision"]["decision"] == "shortlist"]
    if not shortlisted:
        raise UsageError("还没有入围的作品，没有可以报送的内容。", "请先用 intake decide 作品编号 --shortlist 标记入围作品。")
    target.mkdir(parents=True, exist_ok=True)
    exported: list[ExportedFile] = []
    seq = 0
    for view in shortlisted:
        files = [f for f in view["files"] if f["sha256"] and f["outcome"] != "rejected"]
        if not files:
            continue
        seq += 1
        for index, f in enumerate(files):
            seq_in_work = f"-{index + 1}" if len(files) > 1 else ""
            title = view["title"] or Path(f["original_name"]).stem
            name = export_name(f"{seq:02d}{seq_in_work}", view["unit"], title)
            source = store_root / f"{f['sha256'][:2]}/{f['sha256'][2:4]}/{f['sha256']}.mp4"
            _copy_verified(source, target / name, f["sha256"])
            exported.append(ExportedFile(seq, target / name, view, f))
    return exported


def _copy_verified(source: Path, target: Path, sha256: str) -> None:
    if not source.exists():
        raise StorageError(f"文件库中找不到作品文件 {source.name}。", "文件库可能被移动或删除，请检查 storage.root。")
    digest = hashlib.sha256()
    temp = target.with_name(f".{target.name}.part")
    with source.open("rb") as src, temp.open("wb") as dst:
        while chunk := src.read(4 * 1024 * 1024):
            digest.update(chunk)
            dst.write(chunk)
    if digest.hexdigest() != sha256:
        temp.unlink()
        raise StorageError(f"文件库中的 {source.name} 与登记时的内容不一致（SHA-256 不符），未导出。",
                           "文件可能已损坏，请从原始邮件或投递文件重新登记。")
    temp.replace(target)
    shutil.copystat(source, target)


def write_summary(exported: list[ExportedFile], path: Path) -> Path:
    rows = ([item.seq, item.path.name, item.view["unit"], item.view["contact"], item.view["phone"],
             item.view["speaker"], item.view["topic"], item.file["duration_seconds"], item.file["size_bytes"],
             item.file["sha256"], item.view["id"]] for item in exported)
    keys = [key for key, _ in SUMMARY_COLUMNS]
    return write_sheet(path, "汇总表", [label for _, label in SUMMARY_COLUMNS], rows,
                       widths=(6, 40, 16, 10, 14, 10, 30, 10, 12, 66, 8), text_columns={keys.index("phone")})
