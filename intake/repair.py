"""The pipeline's lossless repair: a near miss (QuickTime, MKV/WebM, FLV, AVI holding H.264/H.265/MPEG-4 video and
AAC/MP3 sound) gets its streams copied into an MP4, which is then checked like any file and judged.

The original stays in the store as evidence and the file records both, linked. The container check says what
was done (warn ``remuxed``), so the work is never silently accepted; where a lossless copy is not possible,
the rejection stands and says why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.numbers import size_text
from intake.task import MediaTask
from validators.checks import check_not_remuxable, check_remuxed
from validators.examine import FileReport, examine_file
from validators.matroska import has_content_encodings
from validators.opened import OpenedFile
from validators.remux import (REMUX_KINDS, OutputTooLarge, RemuxFailed, Streams, holds_lossless_streams,
                              probe_streams, remux_to_mp4, source_tags, streams_from_facts)
from validators.results import CheckResult, Status

if TYPE_CHECKING:
    from intake.pipeline import Services

log = logging.getLogger(__name__)

# Why a copy is refused when the file would make it repeat bytes (it would fill the store).
ENCODED = ("其中的音视频轨道使用了 Matroska 的内容编码（如头部剥离、zlib 压缩），转换时数据会成倍放大，"
           "不能无损转换")
REPEATED = "文件的样本表反复引用同一段数据（样本合计 {samples}，而文件只有 {size}），转换时数据会成倍放大，不能无损转换"
GROWN = "转换得到的文件远大于原文件（文件中的数据被反复引用），已停止转换"
# The sender's texts in the original's container (title, comment, chapters), which the copy leaves out: the
# opening-phrase and secrecy-mark checks of the copy read them under this name.
ORIGINAL_TAGS = "原文件的文件信息"


def needs_remux(media: MediaTask) -> bool:
    """A stored file that failed ``container`` only because it is one of the near-miss containers."""
    report = media.report
    if media.blob is None or report is None or report.kind not in REMUX_KINDS or media.repair:
        return False
    failures = [c for c in media.checks if c.status is Status.FAIL]
    return [c.check_id for c in failures] == ["container"]


def remux_file(media: MediaTask, services: Services) -> None:
    """Replace ``media``'s stored file by its lossless MP4 copy, checked; or say why that cannot be done."""
    rules, store = services.config.rules, services.store
    kind, name = media.report.kind, media.original_name
    timeout = rules.repair.remux_timeout_seconds
    temp = store.new_temp()
    try:
        with OpenedFile.open(store.path_of(media.blob.relative_path)) as opened:
            try:
                # MediaInfo read a QuickTime file already (after the box walk); the others ask their demuxer.
                streams = streams_from_facts(media.report.facts) or probe_streams(opened, kind, timeout)
                if not streams.lossless:
                    _refuse(media.report, check_not_remuxable(kind, name, streams.video, streams.audio))
                    return
                repeats = _repeats_bytes(media.report, opened)
                if repeats:
                    _refuse_repeating(media.report, name, streams, repeats)
                    return
                remux_to_mp4(opened, kind, streams, temp, timeout, rules.max_size_bytes)
                tags = source_tags(opened, kind, timeout)
            except OutputTooLarge as exc:
                _refuse_repeating(media.report, name, streams, GROWN, exc.reason)
                return
            except RemuxFailed as exc:
                log.info("无法无损转换 %s：%s", name, exc.reason)
                _refuse(media.report, check_not_remuxable(kind, name, None, None, unreadable=True))
                return
        # Checked before it is placed: a copy that does not hold what was planned never enters the store.
        transcripts = media.transcripts + ([(ORIGINAL_TAGS, tags.encode("utf-8"))] if tags else [])
        with OpenedFile.open(temp) as made:
            report = examine_file(temp, rules, deep=services.deep, name=name, transcripts=transcripts,
                                  opened=made)
        if report.kind is None:
            return   # the copy came out over the size limit: the original's rejection stands
        container = next(c for c in report.checks if c.check_id == "container")
        if container.status is not Status.PASS or not holds_lossless_streams(report.facts):
            _refuse(media.report, check_not_remuxable(kind, name, streams.video, streams.audio, unreadable=True))
            return
        blob = store.adopt(temp)
    finally:
        temp.unlink(missing_ok=True)
    original = media.blob
    report.path = store.path_of(blob.relative_path)
    _replace(report, check_remuxed(kind, name, original_sha256=original.sha256,
                                   original_size_bytes=original.size_bytes, video_codec=streams.video,
                                   audio_codec=streams.audio))
    media.original, media.repair = original, "remux"
    media.blob, media.report, media.size_bytes = blob, report, blob.size_bytes
    log.info("已把 %s 无损转换为 MP4（%s → %s）", name, size_text(original.size_bytes), size_text(blob.size_bytes))


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
    _refuse(report, check_not_remuxable(report.kind, name, streams.video, streams.audio, why=why))


def _replace(report: FileReport, check: CheckResult) -> None:
    report.checks = [check if c.check_id == check.check_id else c for c in report.checks]


def _refuse(report: FileReport, check: CheckResult) -> None:
    """The rejection stands, now saying why a lossless copy is not possible."""
    _replace(report, check)
