"""The pipeline's lossless repair: a near miss (QuickTime, MKV/WebM, FLV, AVI holding MP4's codecs) gets its
streams copied into an MP4, which is then checked like any file and judged.

The original stays in the store as evidence. The container check says what was done (warn ``remuxed``), so the
work is never silently accepted; where a lossless copy is not possible, the rejection stands and says why.
"""

from __future__ import annotations

from core.errors import OutputTooLarge, RemuxFailed
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.numbers import size_text
from intake.pipeline.task import MediaTask
from validators.checks import check_not_remuxable, check_remuxed, check_will_remux
from validators.content import content_checks
from validators.examine import FileReport, examine_file
from validators.matroska import has_content_encodings
from validators.opened import OpenedFile
from validators.remux import (REMUX_KINDS, Streams, holds_lossless_streams, ORIGINAL_TAGS, probe_streams, remux_to_mp4, source_tags, streams_from_facts)
from validators.results import CheckResult, Status
from validators.rules import RulesConfig
from validators.sniff import SNIFF_BYTES, sniff_bytes

if TYPE_CHECKING:
    from intake.pipeline.services import Services

log = logging.getLogger(__name__)

# Why a copy is refused when the file would make it repeat bytes (it would fill the store).
ENCODED = ("其中的音视频轨道使用了 Matroska 的内容编码（如头部剥离、zlib 压缩），转换时数据会成倍放大，"
           "不能无损转换")
REPEATED = "文件的样本表反复引用同一段数据（样本合计 {samples}，而文件只有 {size}），转换时数据会成倍放大，不能无损转换"
GROWN = "转换得到的文件远大于原文件（文件中的数据被反复引用），已停止转换"


def needs_remux(media: MediaTask) -> bool:
    """A stored file that failed ``container`` only because it is one of the near-miss containers."""
    return media.blob is not None and not media.repair and near_miss(media.report, media.checks)


def near_miss(report: FileReport | None, checks: list[CheckResult]) -> bool:
    """A file of a near-miss container (.mov, .mkv, .flv, .avi…) whose only failure is that container."""
    if report is None or report.kind not in REMUX_KINDS:
        return False
    return [c.check_id for c in checks if c.status is Status.FAIL] == ["container"]


def remux_file(media: MediaTask, services: Services) -> None:
    """Replace ``media``'s stored file by its lossless MP4 copy, checked; or say why that cannot be done."""
    rules, store = services.config.rules, services.store
    name = media.original_name
    temp = store.new_temp()
    try:
        with OpenedFile.open(store.path_of(media.blob.relative_path)) as opened:
            made = remux_checked(opened, media.report, name, rules, temp, deep=services.deep)
        if made is None:
            return   # the rejection stands, saying why
        blob = store.adopt(temp)
        if made.tags:   # the content checks (scan_files) read the sender's texts the copy leaves out
            media.transcripts = [*media.transcripts, (ORIGINAL_TAGS, made.tags.encode("utf-8"))]
    finally:
        temp.unlink(missing_ok=True)
    original, report = media.blob, made.report
    report.path = store.path_of(blob.relative_path)
    _replace(report, check_remuxed(made.kind, name, original_sha256=original.sha256,
                                   original_size_bytes=original.size_bytes, video_codec=made.streams.video,
                                   audio_codec=made.streams.audio))
    media.original, media.repair = original, "remux"
    media.blob, media.report, media.size_bytes = blob, report, blob.size_bytes
    log.info("已把 %s 无损转换为 MP4（%s → %s）", name, size_text(original.size_bytes), size_text(blob.size_bytes))


@dataclass(frozen=True)
class Remuxed:
    """A near miss copied into an MP4 and checked: the MP4's report (its container check its own)."""

    kind: str            # what the original is (quicktime, mkv…)
    streams: Streams
    report: FileReport
    tags: str = ""       # the original's title, comment, chapters… (the copy carries none of them)


def remux_checked(opened: OpenedFile, report: FileReport, name: str, rules: RulesConfig, temp: Path, *,
                  deep: bool = False, transcripts=(), content: bool = False, ocr: bool | None = None
                  ) -> Remuxed | None:
    """Copy the near miss ``opened`` into an MP4 at ``temp`` and check that (its content too if ``content``).
    None when it cannot be done: ``report``'s container check then says why, or, for a copy over the size limit,
    the rejection stands."""
    kind, timeout = report.kind, rules.repair.remux_timeout_seconds
    try:
        # MediaInfo read a QuickTime file already (after the box walk); the others ask their demuxer.
        streams = streams_from_facts(report.facts) or probe_streams(opened, kind, timeout)
        if not streams.lossless:
            _replace(report, check_not_remuxable(kind, name, streams.video, streams.audio))
            return None
        repeats = _repeats_bytes(report, opened)
        if repeats:
            _refuse_repeating(report, name, streams, repeats)
            return None
        remux_to_mp4(opened, kind, streams, temp, timeout, rules.max_size_bytes)
        tags = source_tags(opened, kind, timeout)
    except OutputTooLarge as exc:
        _refuse_repeating(report, name, streams, GROWN, exc.reason)
        return None
    except RemuxFailed as exc:
        log.info("无法无损转换 %s：%s", name, exc.reason)
        _replace(report, check_not_remuxable(kind, name, None, None, unreadable=True))
        return None
    # Checked before it is placed: a copy that does not hold what was planned never enters the store.
    transcripts = [*transcripts, *([(ORIGINAL_TAGS, tags.encode("utf-8"))] if tags else [])]
    with OpenedFile.open(temp) as made:
        checked = examine_file(temp, rules, deep=deep, name=name, transcripts=transcripts, content=content, ocr=ocr,
                               opened=made)
    if checked.kind is None:
        return None   # the copy came out over the size limit: the original's rejection stands
    container = next(c for c in checked.checks if c.check_id == "container")
    if container.status is not Status.PASS or not holds_lossless_streams(checked.facts):
        _replace(report, check_not_remuxable(kind, name, streams.video, streams.audio, unreadable=True))
        return None
    return Remuxed(kind, streams, checked, tags)


def examine_as_intake(path: Path, opened: OpenedFile, rules: RulesConfig, *, deep: bool = False, transcripts=(),
                      ocr: bool | None = None) -> FileReport:
    """``intake validate``'s look at a file: what intake will judge, and nothing stored. A near miss is judged as
    the lossless MP4 intake makes of it (in a temporary folder); its content is read once, where intake reads it."""
    if not (rules.repair.remux and opened.size <= rules.max_size_bytes
            and sniff_bytes(opened.read_at(0, SNIFF_BYTES)) in REMUX_KINDS):
        return examine_file(path, rules, deep=deep, transcripts=transcripts, ocr=ocr, opened=opened)
    report = examine_file(path, rules, deep=deep, content=False, opened=opened)
    if near_miss(report, report.checks):
        with tempfile.TemporaryDirectory(prefix="intake-validate-") as folder:
            made = remux_checked(opened, report, path.name, rules, Path(folder) / "remuxed.mp4", deep=deep,
                                 transcripts=transcripts, content=True, ocr=ocr)
        if made is not None:
            # The file as given (its kind and size), judged as the MP4 that holds the same streams.
            preview = made.report
            preview.path, preview.size_bytes, preview.kind = report.path, report.size_bytes, report.kind
            _replace(preview, check_will_remux(made.kind, path.name, mp4_size_bytes=made.report.size_bytes,
                                               video_codec=made.streams.video, audio_codec=made.streams.audio))
            return preview
    report.checks += content_checks(opened, report.kind, report.facts, report.layout, rules, path.name,
                                    list(transcripts), ocr)
    return report


def _repeats_bytes(report: FileReport, opened: OpenedFile) -> str | None:
    """Why copying this file would repeat its bytes many times over, or None: a Matroska track with a content
    encoding, or a QuickTime sample table whose samples add up to more than the file holds."""
    if report.kind in ("mkv", "webm") and has_content_encodings(opened):
        return ENCODED
    layout = report.layout
    if report.kind == "quicktime" and layout is not None and layout.sample_bytes > opened.size:
        return REPEATED.format(samples=size_text(layout.sample_bytes), size=size_text(opened.size))
    return None


def _refuse_repeating(report: FileReport, name: str, streams: Streams, why: str, detail: str = "") -> None:
    log.warning("拒绝无损转换 %s：%s %s", name, why, detail)
    _replace(report, check_not_remuxable(report.kind, name, streams.video, streams.audio, why=why))


def _replace(report: FileReport, check: CheckResult) -> None:
    report.checks = [check if c.check_id == check.check_id else c for c in report.checks]
