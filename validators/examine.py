"""Run every media check on one local file and summarise what it is."""

from __future__ import annotations

from core.errors import ProbeFailed
import os
import stat
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validators import checks
from validators.boxes import Layout, walk
from validators.opened import OpenedFile
from validators.content import content_checks
from validators.results import CheckResult, Outcome, Status, outcome_of
from validators.rules import RulesConfig
from validators.sniff import SNIFF_BYTES, sniff_bytes
from validators.mediainfo import MediaFacts, probe_media
from validators.tools import Span, Spans, decode

# What the box walk reads: images only to name their brand; a QuickTime file to show what it holds.
ISO_BMFF_KINDS = ("mp4", "quicktime", "avif", "heif")


@dataclass
class FileReport:
    path: Path
    size_bytes: int
    kind: str | None                 # None: never read (over the size limit)
    layout: Layout | None = None
    facts: MediaFacts | None = None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.checks)

    def media(self) -> dict[str, Any]:
        """The ``media`` object of ``intake validate --json``."""
        video = self.facts.video[0] if self.facts and self.facts.video else {}
        audio = self.facts.audio[0] if self.facts and self.facts.audio else {}
        _, seconds = checks.media_seconds(self.facts, self.layout) if (self.facts or self.layout) else (None, None)
        return {
            "container": self.kind,
            "duration_seconds": round(seconds, 3) if seconds is not None else None,
            "size_bytes": self.size_bytes,
            "video_codec": video.get("format"),
            "audio_codec": audio.get("format"),
            "width": _int(video.get("width")),
            "height": _int(video.get("height")),
        }


def _int(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def examine_file(path: Path, rules: RulesConfig, deep: bool = False, *, name: str | None = None,
                 transcripts: list[tuple[str, bytes]] = (), content: bool = True,
                 ocr: bool | None = None, opened: OpenedFile | None = None) -> FileReport:
    """Check one file. Never raises for a bad video; raises ToolError if a tool is missing.

    ``name``: the file's original name; ``transcripts``: (name, bytes) of texts that came with it; ``content``:
    run the content checks too. The file is opened once (OpenedFile.open), or ``opened`` is used as given and
    left open; nothing reads ``path`` again. A file over the size limit is judged by its size alone.
    """
    if opened is not None:
        return _examine(path, opened, rules, deep, name, transcripts, content, ocr)
    if not content and (oversized := oversized_report(path, rules)) is not None:
        return oversized
    with OpenedFile.open(path) as own:
        return _examine(path, own, rules, deep, name, transcripts, content, ocr)


def oversized_report(path: Path, rules: RulesConfig) -> FileReport | None:
    """The report of a regular file over the size limit, from lstat alone (it is not even opened); else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None   # the open that follows says what is wrong
    if stat.S_ISREG(st.st_mode) and st.st_size > rules.max_size_bytes:
        return _size_only(path, st.st_size, rules)
    return None


def _size_only(path: Path, size: int, rules: RulesConfig) -> FileReport:
    """An oversized file's only result is ``size: too_large``: no sniff, no box walk, no tool reads it."""
    return FileReport(path=path, size_bytes=size, kind=None, checks=[checks.check_size(size, rules)])


def _examine(path: Path, f: OpenedFile, rules: RulesConfig, deep: bool, name: str | None,
             transcripts, content: bool, ocr: bool | None) -> FileReport:
    report = _media_checks(path, f, rules, deep, name)
    if content:
        sent_as = name or path.name
        if report.kind is None:   # over the size limit: only the secrecy scan reads it
            report.checks += scan_unread(f, rules, sent_as, transcripts, ocr)
        else:
            report.checks += content_checks(f, report.kind, report.facts, report.layout, rules, sent_as,
                                            list(transcripts), ocr)
    return report


def scan_unread(f: OpenedFile, rules: RulesConfig, name: str, transcripts=(), ocr: bool | None = None
                ) -> list[CheckResult]:
    """The content checks of a file over the size limit: sniffed and walked for the scan, never given to MediaInfo."""
    kind = "empty" if f.size == 0 else sniff_bytes(f.read_at(0, SNIFF_BYTES))
    layout = walk(f) if kind in ISO_BMFF_KINDS else None
    return content_checks(f, kind, None, layout, rules, name, list(transcripts), ocr)


def _media_checks(path: Path, f: OpenedFile, rules: RulesConfig, deep: bool, name: str | None) -> FileReport:
    size = f.size
    if size > rules.max_size_bytes:
        return _size_only(path, size, rules)
    report = FileReport(path=path, size_bytes=size,
                        kind="empty" if size == 0 else sniff_bytes(f.read_at(0, SNIFF_BYTES)))
    report.checks.append(checks.check_size(size, rules))
    if report.kind in ISO_BMFF_KINDS:
        report.layout = walk(f)
    container = checks.check_container(report.kind, report.layout, rules, sent_as=name or path.name)
    report.checks.append(container)
    if report.layout is None:
        return report  # not an MP4: no C library ever sees it (only the scan's decoder, with its own demuxer)

    layout_problem = checks.check_layout_integrity(report.layout)
    if container.status is Status.FAIL:
        if layout_problem:
            report.checks.append(layout_problem)
        elif report.kind == "quicktime":   # what it holds (duration, picture), for the reviewers
            with suppress(ProbeFailed):
                report.facts = probe_media(f, rules.probe_timeout_seconds)
        return report

    # MediaInfo first, then the decode check, which reads where MediaInfo says the file ends. Side by side they
    # held 30 MB more at the burst's peak, for a fifth of a second a file.
    try:
        report.facts = probe_media(f, rules.probe_timeout_seconds)
    except ProbeFailed as exc:
        report.checks.append(checks.check_probe_failed(exc.reason))
        return report
    report.checks.append(checks.check_streams(report.facts, rules))
    report.checks.append(checks.check_duration(report.facts, report.layout, rules))
    if layout_problem:
        report.checks.append(layout_problem)
    else:
        decoded = decode(f, _spans(report, rules, deep), rules.decode_timeout_seconds)
        report.checks.append(checks.check_decode(decoded, deep))
    return report


def _spans(report: FileReport, rules: RulesConfig, deep: bool) -> Spans:
    """What the decode check reads: the whole file, or its first ``integrity_seconds`` and its end.

    The end is read from the picture's last keyframe when the box walk gives it: a decoder asked to start
    before the end would go back to the keyframe before that time, up to a whole GOP early (8 s of an export
    with keyframes 250 frames apart); from it the rest is read without decoding the picture (``then_to_end``).
    """
    if deep:
        return [Span(None, None)]
    _, seconds = checks.media_seconds(report.facts, report.layout)
    span = rules.integrity_seconds
    spans: Spans = [Span(None, span)]
    if seconds and seconds > 2 * span:
        last_key = next((t.last_key_seconds for t in report.layout.tracks if t.handler == "vide"), None) \
            if report.layout is not None else None
        if last_key is not None and last_key > span:
            # A seek goes to the last keyframe shown at or before the time asked, and the keyframe is shown a
            # little after it is decoded (B-frame delay, the sound's priming: 23 ms in an ordinary export). Past
            # the last keyframe no other lies, so asking a little later still lands on it, never a GOP early.
            margin = min(0.5, (seconds - last_key) / 2)
            spans.append(Span(last_key + margin, span, then_to_end=True))
        else:
            spans.append(Span(seconds - span, None))
    return spans
