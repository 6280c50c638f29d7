"""``intake fix --shrink``: a reviewer's explicit, lossy repair of a file over the size limit.

The file is re-encoded to land at about 95 % of ``rules.max_size_bytes``. The pipeline never does this on its
own: it changes the picture. The original is stored as evidence, the new file goes through every check and
becomes the submission's file in a new check run (a ``fixed`` event). A file over the duration limit is refused:
trimming changes the work, and that is the submitter's job.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.errors import ShrinkFailed, ToolError, UsageError
from core.numbers import duration_text, size_text
from intake.inbox.done import Refreshed, follow_outcome
from intake.pipeline.services import Services
from intake.pipeline.stages import check_unit_quota, take_opening_phrase
from intake.review.recheck import CONTENT_CHECKS, MEDIA_CHECKS, Judged, Rechecked, requota_later, stored_task, whole_scan
from intake.pipeline.recording import check_row
from intake.pipeline.task import MediaTask, Source
from storage.filestore import StoredBlob
from storage.records import CheckRun, FileRun
from validators.checks import check_shrunk, media_seconds
from validators.examine import FileReport, examine_file
from validators.opened import OpenedFile
from validators.results import Outcome, Status
from validators.shrink import ShrinkPlan, plan_shrink, shrink_to_mp4

SHRINKABLE = ("mp4", "quicktime")   # what the box walk and MediaInfo read, and the mov/mp4 demuxer decodes
# Sources whose recorded size is the file's own (a mail's unfetched attachment has only an estimate).
EXACT_SIZE = (Source.FOLDER, Source.CLI, Source.ATTACH)
Progress = Callable[[float], None]


@dataclass
class Fixed:
    """What ``ShrinkJob.run`` did: the file as it is now, and the submission's outcome before and after."""

    submission_id: int
    position: int
    media: MediaTask
    original: StoredBlob
    before: Outcome
    after: Outcome
    later: list[Rechecked] = field(default_factory=list)   # later works of the unit whose quota changed
    moved: Refreshed | None = None   # its file in done/, moved to the folder of the new outcome


class ShrinkJob(contextlib.AbstractContextManager):
    """One file to shrink, checked and planned (``prepare_shrink``); ``run`` does it. Leaving its ``with`` closes it."""

    def __init__(self, services: Services, judged: Judged, index: int, opened: OpenedFile, source: Path | None,
                 report: FileReport, seconds: float, plan: ShrinkPlan):
        self.services, self.judged, self.index, self.opened, self.source = services, judged, index, opened, source
        self.report, self.seconds, self.plan = report, seconds, plan

    @property
    def media(self) -> MediaTask:
        return self.judged.task.files[self.index]

    @property
    def size_bytes(self) -> int:
        return self.opened.size

    def run(self, progress: Progress | None = None, actor: str | None = None) -> Fixed:
        """Keep the original, re-encode, check the new file, record it; ToolError if it cannot be done."""
        services, item, sub = self.services, self.media, self.judged.sub
        rules, store = services.config.rules, services.store
        original = item.original or item.blob or self._store_original()
        # The new file holds the picture the original held: a whole-video scan of the original (made where it
        # arrived) stands for it, and is not made again (it would cost about as much as the re-encode).
        scanned = [c for c in item.extra_checks if c.check_id == "sensitive_content"]
        scanned = scanned if whole_scan(scanned) else []
        # The whole-video scan off; the opening phrase is still looked for.
        checking = rules.model_copy(update={"sensitive": rules.sensitive.model_copy(update={"scan": False})}) \
            if scanned else rules
        temp = store.new_temp()
        try:
            self._encode(temp, progress)
            with OpenedFile.open(temp) as made:
                report = examine_file(temp, checking, deep=services.deep, name=item.original_name, opened=made)
            blob = store.adopt(temp)
        finally:
            temp.unlink(missing_ok=True)
        report.path = store.path_of(blob.relative_path)
        shrunk = check_shrunk(self.opened.size, blob.size_bytes, rules)
        report.checks = [shrunk if c.check_id == "size" and c.status is Status.PASS else c for c in report.checks]
        if scanned:
            report.checks = [scanned[0] if c.check_id == "sensitive_content" else c for c in report.checks]
        item.extra_checks = [c for c in item.extra_checks if c.check_id not in MEDIA_CHECKS | CONTENT_CHECKS]
        item.blob, item.report, item.size_bytes, item.original, item.repair = \
            blob, report, blob.size_bytes, original, "shrink"
        task = self.judged.task
        take_opening_phrase(task, services)   # fills a speaker or topic still empty
        task.checks = [c for c in task.checks if c.check_id != "quota"]
        check_unit_quota(task, services)      # a work no longer rejected takes its unit's place
        position = self.judged.positions[self.index]
        run = CheckRun(checks=tuple(check_row(c) for c in task.checks),
                       files=(FileRun(position, tuple(check_row(c) for c in item.checks), item.media()),))
        changes = {name: getattr(task, name) for name in ("speaker", "topic")
                   if getattr(task, name) != getattr(sub, name)}
        record = services.db.submissions.record_repair(sub.id, position, blob, original, "shrink", run,
                                                       self._audit(), changes=changes, actor=actor)
        refreshed = follow_outcome(services, sub.id, "压缩文件", actor=actor)
        later = list(requota_later(services, self.judged.units, sub.id, {sub.id}, actor)) \
            if self.judged.rejected_changed() else []
        return Fixed(sub.id, position, item, original, Outcome(record["outcome"]["old"]),
                     Outcome(record["outcome"]["new"]), later,
                     refreshed if refreshed and refreshed.moved_from else None)

    def _store_original(self) -> StoredBlob:
        services = self.services
        progress = services.progress(self.media.original_name, self.opened.size) if services.progress else None
        return services.store.put_fd(self.opened.fd, self.opened.size, progress=progress)

    def _encode(self, temp: Path, progress: Progress | None) -> None:
        """Two tries at most: a second one at a lower bitrate if the first came out over the limit."""
        repair = self.services.config.rules.repair
        limit = self.services.config.rules.max_size_bytes
        for attempt in (1, 2):
            try:
                shrink_to_mp4(self.opened, temp, self.plan, preset=repair.shrink_preset,
                              timeout=repair.shrink_timeout_seconds, progress=progress)
            except ShrinkFailed as exc:
                reason = "超时" if exc.reason == "timeout" else exc.reason
                raise ToolError(f"压缩失败（ffmpeg：{reason}），作品没有改动。",
                                "超时可调大 rules.repair.shrink_timeout_seconds 或换用更快的 rules.repair.shrink_preset。"
                                ) from exc
            size = temp.stat().st_size
            if size <= limit:
                return
            if attempt == 1 and self.plan.after(size).workable:
                self.plan = self.plan.after(size)
                continue
            raise ToolError(f"压缩后仍有 {size_text(size)}，超过 {size_text(limit)} 的上限，作品没有改动。",
                            "请报送单位自行压缩后重新报送。")

    def _audit(self) -> dict[str, Any]:
        plan, preset = self.plan, self.services.config.rules.repair.shrink_preset
        return {"shrink": {"video_bps": plan.video_bps, "audio_bps": plan.audio_bps, "target_bytes": plan.target_bytes,
                           "seconds": round(self.seconds, 3), "preset": preset, "passes": 1},
                "source": str(self.source) if self.source else "store"}

    def __exit__(self, *exc) -> None:
        self.opened.close()


def prepare_shrink(services: Services, submission_id: int, source: OpenedFile | None = None,
                   source_path: Path | None = None, number: int | None = None) -> ShrinkJob:
    """The file of submission ``submission_id`` to shrink (``number``: its 1-based place among the files), read
    from the store or, never stored, from ``source`` (the reviewer's copy, opened from ``source_path``); checked
    and planned. UsageError says why it cannot be. The job owns ``source`` from here on and closes it."""
    try:
        judged = stored_task(services, submission_id)
        index = _pick(judged, number, services.config.rules.max_size_bytes)
        item = judged.task.files[index]
        opened = _original(services, judged, item, source, source_path)
    except BaseException:
        if source is not None:
            source.close()
        raise
    try:
        report, seconds = _shrinkable(opened, item, services)
        plan = plan_shrink(seconds, bool(report.facts.audio), services.config.rules.max_size_bytes)
        if not plan.workable:
            raise UsageError(f"视频长 {duration_text(seconds)}，要压缩到 {size_text(plan.target_bytes)} 以内，"
                             "画质会低到无法评审，没有压缩。", "请报送单位自行处理后重新报送。")
        return ShrinkJob(services, judged, index, opened, source_path, report, seconds, plan)
    except BaseException:
        opened.close()
        raise


def _pick(judged: Judged, number: int | None, limit: int) -> int:
    files, sub_id = judged.task.files, judged.sub.id
    if number is not None:
        if not 1 <= number <= len(files):
            raise UsageError(f"作品 #{sub_id} 没有第 {number} 个文件（共 {len(files)} 个）。", "请用 intake list 查看它的文件。")
        item = files[number - 1]
        if item.size_bytes <= limit:
            raise UsageError(f"作品 #{sub_id} 的第 {number} 个文件（{item.original_name}，{size_text(item.size_bytes)}）"
                             f"没有超过 {size_text(limit)} 的上限，不需要压缩。")
        return number - 1
    over = [index for index, item in enumerate(files) if item.size_bytes > limit]
    if not over:
        raise UsageError(f"作品 #{sub_id} 没有超过大小上限（{size_text(limit)}）的文件，不需要压缩。")
    if len(over) > 1:
        raise UsageError(f"作品 #{sub_id} 有 {len(over)} 个文件超过大小上限。",
                         "请用 --file 指定压缩第几个文件（如 --file 1）。")
    return over[0]


def _original(services: Services, judged: Judged, item: MediaTask, source: OpenedFile | None,
              source_path: Path | None) -> OpenedFile:
    """The file to shrink, open: the stored copy, or the reviewer's copy of a file never stored."""
    number = judged.task.files.index(item) + 1
    if item.blob is not None:
        if source is not None:
            raise UsageError(f"第 {number} 个文件已保存在文件库中，压缩时使用保存的副本，不需要 --source。")
        return OpenedFile.open(services.store.path_of(item.blob.relative_path))
    if source is None:
        raise UsageError(f"第 {number} 个文件（{item.original_name}，{size_text(item.size_bytes)}）收到时超过大小上限，"
                         "没有保存。", f"请用 --source 指定原文件：投递文件夹收到的在 {services.config.watch.done}/不合格/ 下，"
                                       "邮件附件请从邮箱中下载。")
    if judged.task.source in EXACT_SIZE and source.size != item.size_bytes:
        raise UsageError(f"{source_path or source.name} 的大小为 {source.size:,} 字节，与登记时的 {item.size_bytes:,} 字节不同，"
                         "可能不是这件作品的文件。", "请核对 --source 指定的文件。")
    return source


def _shrinkable(opened: OpenedFile, item: MediaTask, services: Services) -> tuple[FileReport, float]:
    """The original's checks (its size aside) and its duration; UsageError for what shrinking cannot mend."""
    rules = services.config.rules
    lifted = rules.model_copy(update={"max_size_bytes": max(rules.max_size_bytes, opened.size)})
    report = examine_file(Path(item.original_name), lifted, name=item.original_name, content=False, opened=opened)
    _, seconds = media_seconds(report.facts, report.layout) if report.facts else (None, None)
    if report.kind not in SHRINKABLE or not report.facts or not report.facts.video or not seconds:
        raise UsageError(f"{item.original_name} 不是能读取的 MP4 或 MOV 视频，无法压缩。",
                         "；".join(c.message for c in report.checks if c.status is Status.FAIL) or None)
    most = rules.max_duration_seconds + rules.duration_grace_seconds
    if seconds > most:
        raise UsageError(f"视频时长 {duration_text(seconds)}，超过 {duration_text(rules.max_duration_seconds)} 的要求，"
                         "没有压缩：压缩不会缩短时长，剪辑会改变作品。", "请报送单位剪辑后重新报送。")
    failures = [c for c in report.checks if c.status is Status.FAIL and c.check_id not in ("container", "duration")]
    if failures:
        raise UsageError("原文件还有压缩不能解决的问题，没有压缩：" + "；".join(c.message for c in failures))
    return report, seconds
