"""报送 from the desk (admins), by the same rules as ``intake export``: as one zip download (``/export/zip``,
``export_zip.py``), or into a folder on the computer that runs the tool (``/export``, a job whose progress and
then result, file by file, the page shows).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from core.errors import IntakeError, UsageError
from intake.desk.base import Desk
from intake.desk.export_zip import zip_chunks, zip_name
from intake.desk.guard import allowed, form_of, seen
from intake.desk.jobs import Job, JobFailed
from intake.report.export import SKIP_TEXTS, SUMMARY, ExportResult, export_shortlist, plan_export, reserved_folders, \
    works_audit

EXPORTED = "exported"
EXPORT_JOB = "export"   # one export into a folder at a time: two would trip over each other
RELATIVE = "请填写导出目录的完整路径（运行本工具的那台电脑上的路径），如 /media/usb/报送材料 或 D:\\报送材料。"


@allowed("export")
def export_page(request: Request) -> Response:
    """The page; ``?job=ID``: an export into a folder under way (its progress), or its result once done."""
    desk, account = seen(request), request.user
    job = desk.work.get(request.query_params.get("job", ""))
    if job is None or job.key != EXPORT_JOB:
        return _page(desk, account)
    if job.state == "done":
        return _page(desk, account, result=job.result["shown"], target=job.result["target"])
    if job.state == "failed":
        return _page(desk, account, status=job.status, error=job.error)
    return _page(desk, account, job={"id": job.id, "progress": job.progress, "seconds": job.seconds()})


def _page(desk: Desk, account, *, status: int = 200, error: str | None = None,
          result: dict[str, Any] | None = None, target: str = "", job: dict[str, Any] | None = None) -> Response:
    shortlisted = sum(1 for v in desk.views() if v["decision"] and v["decision"]["decision"] == "shortlist")
    return desk.render("export.html.j2", account, status=status, error=error, result=result, target=target,
                       shortlisted=shortlisted, last=_last_summary(desk) is not None, job=job)


@allowed("export")
async def export_run(request: Request) -> Response:
    """Export into the folder given (an absolute path) as a job; ``replace`` as ``--replace``."""
    desk, account, form = seen(request), request.user, form_of(request)
    target = str(form.get("directory") or "").strip()
    replace = form.get("replace") == "1"

    def refused(message: str, status: int = 400) -> Response:
        return _page(desk, account, status=status, error=message, target=target)

    if not target or not Path(target).is_absolute():
        return await run_in_threadpool(refused, RELATIVE)

    def work(job: Job) -> dict[str, Any]:
        job.report("正在准备导出……")
        try:
            result = export_shortlist(desk.views(), desk.store, Path(target), contest_name=desk.config.contest.name,
                                      replace=replace, reserved=reserved_folders(desk.config),
                                      progress=lambda done, total: job.report(f"正在复制文件：已复制 {done} / {total} 个。"))
        except IntakeError as exc:
            hint = (exc.hint or "").replace("请加 --replace", "请勾选“替换上次导出的文件”")
            raise JobFailed(" ".join(filter(None, [exc.message, hint])), 400 if isinstance(exc, UsageError) else 500) \
                from None
        summary = result.summary
        desk.db.audit.record(EXPORTED, {**result.audit(), "summary": {"path": str(summary.resolve()),
                                                                      "sha256": _digest(summary)}}, actor=account.name)
        return {"shown": result_of(result), "target": target}

    job = desk.work.start(EXPORT_JOB, work, owner=account.name, join=False)
    if job is None:
        return await run_in_threadpool(refused, "另一次导出正在进行，请等它完成后再试。")
    if not await job.wait():
        return Response(status_code=303, headers={"location": f"/export?job={job.id}"})
    if job.state == "failed":
        return await run_in_threadpool(refused, job.error, job.status)
    return await run_in_threadpool(lambda: _page(desk, account, result=job.result["shown"], target=target))


@allowed("export")
async def export_zip(request: Request) -> Response:
    """The export as one zip, streamed as it is written; audited once the last byte is written."""
    desk, account = seen(request), request.user
    exported_at = datetime.now(timezone.utc)
    try:
        works = await run_in_threadpool(lambda: plan_export(desk.views(), desk.store))
    except UsageError as exc:
        refused = " ".join(filter(None, [exc.message, exc.hint]))
        return await run_in_threadpool(lambda: _page(desk, account, status=400, error=refused))
    name = zip_name(exported_at)

    def written() -> None:
        desk.db.audit.record(EXPORTED, {"zip": name, **works_audit(works)}, actor=account.name)

    chunks = zip_chunks(works, desk.store, desk.config.contest.name, exported_at, written)
    return StreamingResponse(chunks, media_type="application/zip", headers={
        "content-disposition": f"attachment; filename*=utf-8''{quote(name)}"})


def result_of(result: ExportResult) -> dict[str, Any]:
    """The export as the page tells it: each shortlisted work and file (✓ name or ✗ why), the totals."""
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


@allowed("export")
def summary(request: Request) -> Response:
    """The 汇总表.xlsx of the latest export into a folder, if it is still the file that export wrote (same SHA-256)."""
    desk = seen(request)
    path = _last_summary(desk)
    if path is None:
        return desk.render("refused.html.j2", request.user, status=404,
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
