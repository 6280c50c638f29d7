"""The opening-phrase check: 我是保密法治代言人XXX，今天我要讲的是…… in the texts of a file's first seconds,
looked for in metadata, subtitles, sidecar texts, the text on screen, then speech, stopping at the first hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.numbers import duration_text
from validators.frame_scan import FrameScan
from validators.phrase import PhraseMatch, find_phrase
from validators.results import CheckResult, passed, warned
from validators.rules import OpeningConfig
from validators.subtitles import in_window
from validators.texts import TEXT_SOURCE_LABELS, TextSource

OPENING_HINT = "我是保密法治代言人XXX，今天我要讲的是……"


@dataclass
class OpeningSources:
    """What was read of one file, for the phrase search; ``None`` for a source not looked at at all."""

    metadata: list[TextSource] = field(default_factory=list)
    subtitles: list[TextSource] | None = None
    sidecars: list[TextSource] | None = None
    frames: FrameScan | None = None       # read with the phrase search in its window
    frames_failure: str | None = None     # the reading process failed (not "no phrase")
    speech: list[TextSource] | None = None
    speech_failure: str | None = None


@dataclass
class OpeningResult:
    check: CheckResult


def _search(sources: list[TextSource], cfg: OpeningConfig) -> tuple[PhraseMatch, TextSource] | None:
    """Search the sources joined in order (a phrase may run over cues, lines or caption boxes);
    credit the first source that holds the phrase's beginning."""
    if not sources:
        return None
    found = find_phrase("\n".join(s.text for s in sources), cfg.max_errors)
    if found is None:
        return None
    origin = next((s for s in sources if find_phrase(s.text, cfg.max_errors)), sources[0])
    return found, origin


def check_opening(sources: OpeningSources, cfg: OpeningConfig) -> OpeningResult:
    looked: list[str] = []
    window = cfg.scan_seconds
    for kind, texts in (("metadata", sources.metadata), ("subtitle", sources.subtitles),
                        ("sidecar", sources.sidecars)):
        if texts is None:
            continue
        looked.append(TEXT_SOURCE_LABELS[kind])
        hit = _search(in_window(texts, window) if kind != "metadata" else texts, cfg)
        if hit:
            return _found(*hit)
    if sources.frames is not None or sources.frames_failure is not None:
        looked.append(TEXT_SOURCE_LABELS["ocr"])
        if sources.frames is not None and sources.frames.hit is not None:
            match, seconds = sources.frames.hit
            return _found(match, TextSource("ocr", match.matched, None, seconds))
    if sources.speech is not None or sources.speech_failure is not None:
        looked.append(TEXT_SOURCE_LABELS["speech"])
        hit = _search(in_window(sources.speech or [], window), cfg)
        if hit:
            return _found(*hit)
    where = "、".join(looked) or "无可查看的文字"
    first = duration_text(window)
    # A tool that failed is said as such, never as "no phrase": what it should have read was never read.
    for code, failure, tool, seen in (("ocr_failed", sources.frames_failure, "画面文字识别", "画面"),
                                      ("speech_failed", sources.speech_failure, "语音识别", "讲话")):
        if failure is not None:
            return OpeningResult(warned(
                "opening_phrase", code,
                f"{tool}没有完成（{failure}），无法确定前{first}的{seen}中是否有建议的开头语"
                f"（已查看：{where}）。开头语只是建议，请评审人员观看确认。",
                advice=f"系统未能确认视频前{first}是否有建议的开头语。开头语只是建议，不影响作品登记，暂不需要处理。",
                looked=looked, error=failure))
    return OpeningResult(warned(
        "opening_phrase", "not_found",
        f"前{first}内未发现建议的开头语“{OPENING_HINT}”（已查看：{where}）。开头语只是建议，请评审人员观看确认。",
        advice=f"视频前{first}内未发现建议的开头语“{OPENING_HINT}”。开头语只是建议，不影响作品登记；"
               "如方便，可在视频开头加上后重新报送。",
        looked=looked))


def _found(match: PhraseMatch, source: TextSource) -> OpeningResult:
    at = f"，约第 {source.seconds:.0f} 秒" if source.seconds is not None else ""
    speaker = match.speaker or "（未识别）"
    topic = match.topic or "（未识别）"
    return OpeningResult(passed(
        "opening_phrase", f"有开头语（{source.label}{at}）：代言人 {speaker}，主题“{topic}”。",
        speaker=match.speaker, topic=match.topic, source=source.kind, seconds=source.seconds,
        errors=match.errors, matched=match.matched))
