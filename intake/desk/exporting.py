"""报送 from the desk (admins): the same export as ``intake export`` into a folder on the server machine,
every shortlisted work and file told ✓ or ✗ with the reason, and the 汇总表.xlsx it wrote for download."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from core.errors import IntakeError, UsageError
from intake.desk.accounts import Account
from intake.desk.app import Desk
from intake.report.export import SKIP_TEXTS, SUMMARY, ExportResult, export_shortlist, reserved_folders

EXPORTED = "exported"
# One export at a time: two admins (or a double click) writing into one folder would trip over each other.
_running = threading.Lock()


def export_page(request: Request, desk: Desk, account: Account, form, *, status: int = 200,
                error: str | None = None, result: dict[str, Any] | None = None, target: str = "") -> Response:
    shortlisted = sum(1 for v in desk.views() if v["decision"] and v["decision"]["decision"] == "shortlist")
    return desk.render("export.html.j2", account, status=status, error=error, result=result, target=target,
                       shortlisted=shortlisted, last=_last_summary(desk) is not None)


def export_run(request: Request, desk: Desk, account: Account, form) -> Response:
    """Export into the folder given (an absolute path on this computer); ``replace`` as ``--replace``."""
    target = str(form.get("directory") or "").strip()
    replace = form.get("replace") == "1"
    try:
        if not target or not Path(target).is_absolute():
            raise UsageError("请填写导出目录的完整路径（这台电脑上的路径），如 /media/usb/报送材料 或 D:\\报送材料。")
        if not _running.acquire(blocking=False):
            raise UsageError("另一次导出正在进行，请等它完成后再试。")
        try:
            result = export_shortlist(desk.views(), desk.store, Path(target), contest_name=desk.config.contest.name,
                                      replace=replace, reserved=reserved_folders(desk.config))
        finally:
            _running.release()
    except IntakeError as exc:
        status = 400 if isinstance(exc, UsageError) else 500
        hint = (exc.hint or "").replace("请加 --replace", "请勾选“替换上次导出的文件”")
        return export_page(request, desk, account, form, status=status, error=" ".join(filter(None, [exc.message, hint])),
                           target=target)
    summary = result.summary
    desk.db.audit.record(EXPORTED, {**result.audit(), "summary": {"path": str(summary.resolve()),
                                                                  "sha256": _digest(summary)}}, actor=account.name)
    return export_page(request, desk, account, form, result=result_of(result), target=target)


def result_of(result: ExportResult) -> dict[str, Any]:
    """The export as the page tells it: each shortlisted work, each of its files (✓ name or ✗ why), the totals."""
    works = []
    for work in result.works:
        files = [{"original": item.file["original_name"], "name": item.name, "forced": item.forced,
                  "reason": SKIP_TEXTS[item.skipped] if item.skipped else None} for item in work.files]
        works.append({"id": work.view["id"], "unit": work.view["unit"] or "（未注明单位）", "title": work.title,
                      "exported": bool(work.exported), "files": files, "secrecy": work.secrecy, "forced": work.forced})
    return {"directory": str(result.directory.resolve()), "works": works, "files": len(result.files),
            "removed": result.removed, "kept": result.kept, "had_manifest": result.had_manifest,
            "incomplete": [w.view["id"] for w in result.incomplete], "summary": SUMMARY,
            "flagged": [w.view["id"] for w in result.works if w.view["secrecy"]["flagged"]]}


def summary(request: Request, desk: Desk, account: Account, form) -> Response:
    """The 汇总表.xlsx of the latest export, if it is still the file that export wrote (same SHA-256)."""
    path = _last_summary(desk)
    if path is None:
        return desk.render("refused.html.j2", account, status=404,
                           message="找不到最近一次导出的汇总表（还没有导出过，或导出目录中的汇总表已被移走或改动）。")
    return FileResponse(path, filename=SUMMARY,
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _last_summary(desk: Desk) -> Path | None:
    event = desk.db.audit.latest((EXPORTED,))
    written = (event.data or {}).get("summary") if event else None
    if not isinstance(written, dict) or not written.get("path"):
        return None
    path = Path(str(written["path"]))
    if path.name != SUMMARY or not path.is_file() or path.is_symlink():
        return None
    return path if _digest(path) == written.get("sha256") else None


def _digest(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None
