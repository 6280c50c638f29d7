"""The content checks of one file, whatever its other checks say: the opening phrase and the secrecy scan.

Every text in and around the file is read once; the opening-phrase check takes what falls in its window,
the secrecy check everything. A file the scan cannot decode still gets the secrecy check: it says the
picture could not be read, never that nothing was found.
"""

from __future__ import annotations

import logging

from core.errors import ToolError
from validators.boxes import Layout
from validators.checks import picture_seconds
from validators.frame_scan import SCANNABLE, FrameScan, input_options_for, scan_frames
from validators.mediainfo import MediaFacts
from validators.mediainfo_child import TAGS   # every tag MediaInfo reads: all are searched for marks
from validators.opened import OpenedFile
from validators.opening import OpeningSources, check_opening
from validators.results import CheckResult
from validators.rules import RulesConfig
from validators.sensitive import Unread, check_sensitive
from validators.subtitles import embedded_subtitles, sidecar_sources
from validators.texts import TEXT_SOURCE_LABELS, TextSource

log = logging.getLogger(__name__)
METADATA_FIELDS = ("title", "comment", "description")   # where a phrase may be written into the file
NOT_A_VIDEO = "文件不是可以解码的视频"


def content_checks(f: OpenedFile, kind: str | None, facts: MediaFacts | None, layout: Layout | None,
                   rules: RulesConfig, name: str, transcripts: list[tuple[str, bytes]] = (),
                   ocr: bool | None = None) -> list[CheckResult]:
    """``opening_phrase`` (for a video MediaInfo read) and ``sensitive_content`` (always) of ``f``; ``ocr`` False
    reads no text on screen (``validate --no-ocr``), None follows the config. A failing reader is said in the
    results."""
    opening_cfg, sensitive_cfg = rules.opening, rules.sensitive
    decodable = kind in SCANNABLE
    has_picture = decodable and (facts is None or bool(facts.video))
    texts = [TextSource("file_name", name)]
    looked = [TEXT_SOURCE_LABELS["file_name"]]
    sources = OpeningSources()
    if facts is not None:
        tags = [TextSource("metadata", str(facts.general[k]), k) for k in TAGS if facts.general.get(k)]
        sources.metadata = [t for t in tags if t.name in METADATA_FIELDS]
        texts += tags
        looked.append("文件信息")
        if facts.text:
            sources.subtitles = embedded_subtitles(f, opening_cfg.timeout_seconds, _options(kind))
            texts += sources.subtitles
            looked.append(TEXT_SOURCE_LABELS["subtitle"])
    if transcripts:
        sources.sidecars = sidecar_sources(list(transcripts))
        texts += sources.sidecars
        looked.append(TEXT_SOURCE_LABELS["sidecar"])

    scan_whole = sensitive_cfg.scan and ocr is not False
    phrase_on_screen = opening_cfg.ocr if ocr is None else ocr
    frames: FrameScan | None = None
    unread: Unread | None = None
    if not decodable:
        unread = Unread(NOT_A_VIDEO)
    elif not has_picture:
        looked.append("画面（文件中没有视频画面）")
    elif scan_whole or phrase_on_screen:
        try:
            frames = scan_frames(f, kind, rules, whole=scan_whole, window=opening_cfg.scan_seconds
                                 if phrase_on_screen else 0.0, duration=picture_seconds(facts, layout))
        except ToolError as exc:   # not "nothing on screen": the picture was never read
            log.warning("%s", exc)
            if phrase_on_screen:
                sources.frames_failure = exc.message
            unread = Unread(f"画面文字识别程序出错：{exc.message}") if scan_whole else None
        if frames is not None:
            sources.frames = frames if phrase_on_screen else None
            texts += frames.lines
    if has_picture and not scan_whole:
        unread = Unread("已关闭全片扫描" + ("（--no-ocr）" if ocr is False else "（rules.sensitive.scan: false）"),
                        off=True)

    if decodable and opening_cfg.speech_model is not None:
        from validators.speech import transcribe

        try:
            said = transcribe(f, opening_cfg.speech_model, None, sensitive_cfg.timeout_seconds, _options(kind))
            sources.speech = [TextSource("speech", words, None, seconds) for seconds, words in said]
        except ToolError as exc:   # a missing model or a failing recogniser: the speech was never heard
            log.warning("语音识别不可用：%s", exc)
            sources.speech_failure = exc.message
        texts += sources.speech or []
        looked.append(TEXT_SOURCE_LABELS["speech"])

    # The phrase is looked for where MediaInfo read the file (an MP4, a QuickTime file): a file no other check
    # could read gets only the secrecy scan.
    checks = [check_opening(sources, opening_cfg).check] if has_picture and facts is not None else []
    whole = frames if frames is not None and frames.whole else None
    checks.append(check_sensitive(texts, sensitive_cfg, looked=looked, frames=whole, unread=unread))
    return checks


def _options(kind: str | None) -> dict[str, str]:
    """ffmpeg's input options for ``kind`` as ffmpeg-python keyword arguments."""
    args = input_options_for(kind)
    return {args[i].lstrip("-"): args[i + 1] for i in range(0, len(args), 2)}

