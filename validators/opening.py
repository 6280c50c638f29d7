"""The opening-phrase check: look in metadata, subtitles, sidecar texts, then OCR (and speech, if set up).

Sources are tried in that order and the search stops at the first that finds
the phrase. Everything read on the way is returned too, for the sensitive
content check.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ToolError
from core.numbers import duration_text
from validators import children, ocr_worker
from validators.ocr_worker import OCR_HINT
from validators.opened import OpenedFile, media_input
from validators.phrase import PhraseMatch, find_phrase
from validators.results import CheckResult, passed, warned
from validators.rules import OpeningConfig
from validators.subtitles import embedded_subtitles, sidecar_sources
from validators.texts import TEXT_SOURCE_LABELS, TextSource
from validators.mediainfo_pool import MediaFacts
from validators.tools import SAFE_INPUT, ffmpeg_exe
from validators.worker_child import child_env

log = logging.getLogger(__name__)
METADATA_FIELDS = ("title", "comment", "description")
OPENING_HINT = "我是保密法治代言人XXX，今天我要讲的是……"


@dataclass
class OpeningResult:
    check: CheckResult
    texts: list[TextSource] = field(default_factory=list)
    match: PhraseMatch | None = None


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


def check_opening(path: Path | OpenedFile, facts: MediaFacts, cfg: OpeningConfig,
                  transcripts: list[tuple[str, bytes]], use_ocr: bool | None = None) -> OpeningResult:
    """``path`` may be an OpenedFile: every tool then reads that descriptor, never a path."""
    deadline = time.monotonic() + cfg.timeout_seconds
    looked: list[str] = []
    texts: list[TextSource] = []

    def attempt(kind: str, sources: list[TextSource]) -> OpeningResult | None:
        looked.append(TEXT_SOURCE_LABELS[kind])
        texts.extend(sources)
        if time.monotonic() > deadline:
            return None   # the time bound: what was read is still kept for the sensitive check
        hit = _search(sources, cfg)
        return _found(hit, texts) if hit else None

    general = facts.general
    metadata = [TextSource("metadata", str(general[k]), k) for k in METADATA_FIELDS if general.get(k)]
    result = attempt("metadata", metadata)
    if result:
        return result
    if facts.text:
        result = attempt("subtitle", embedded_subtitles(path, cfg.scan_seconds, cfg.timeout_seconds))
        if result:
            return result
    if transcripts:
        result = attempt("sidecar", sidecar_sources(transcripts, cfg.scan_seconds))
        if result:
            return result
    ocr_failure: str | None = None
    speech_failure: str | None = None
    if (cfg.ocr if use_ocr is None else use_ocr) and facts.video:
        try:
            result = _ocr(path, facts, cfg, deadline, looked, texts)
        except ToolError as exc:   # not "no phrase": the captions were never read
            log.warning("%s", exc)
            ocr_failure, result = exc.message, None
        if result:
            return result
    if cfg.speech_model is not None:
        from validators.speech import transcribe

        looked.append(TEXT_SOURCE_LABELS["speech"])
        try:
            spoken = transcribe(path, cfg.speech_model, cfg.scan_seconds, cfg.timeout_seconds)
        except ToolError as exc:   # a missing model or a failing recogniser: the speech was never heard
            log.warning("语音识别不可用：%s", exc)
            speech_failure, spoken = exc.message, ""
        if spoken:
            texts.append(TextSource("speech", spoken, None, 0.0))
            hit = _search([texts[-1]], cfg)
            if hit:
                return _found(hit, texts)
    where = "、".join(looked) or "无可查看的文字"
    first = duration_text(cfg.scan_seconds)
    # A tool that failed is said as such, never as "no phrase": what it should have read was never read.
    for code, failure, tool, seen in (("ocr_failed", ocr_failure, "画面文字识别", "画面"),
                                      ("speech_failed", speech_failure, "语音识别", "讲话")):
        if failure is not None:
            return OpeningResult(warned(
                "opening_phrase", code,
                f"{tool}没有完成（{failure}），无法确定前{first}的{seen}中是否有建议的开头语"
                f"（已查看：{where}）。开头语只是建议，请评审人员观看确认。",
                advice=f"系统未能确认视频前{first}是否有建议的开头语。开头语只是建议，不影响作品登记，暂不需要处理。",
                looked=looked, error=failure), texts)
    return OpeningResult(warned(
        "opening_phrase", "not_found",
        f"前{first}内未发现建议的开头语“{OPENING_HINT}”（已查看：{where}）。开头语只是建议，请评审人员观看确认。",
        advice=f"视频前{first}内未发现建议的开头语“{OPENING_HINT}”。开头语只是建议，不影响作品登记；"
               "如方便，可在视频开头加上后重新报送。",
        looked=looked), texts)


def _ocr(path: Path | OpenedFile, facts: MediaFacts, cfg: OpeningConfig, deadline: float, looked: list[str],
         texts: list[TextSource]) -> OpeningResult | None:
    """OCR runs in another process: the service's long-lived worker if there is one, else a child of its own
    (see validators.ocr_child).

    Raises ToolError when that process fails (a non-zero exit, a crash, a missing model, no answer in time):
    that is not the same as captions without the phrase.
    """
    looked.append(TEXT_SOURCE_LABELS["ocr"])
    remaining = max(1.0, deadline - time.monotonic())
    target, fds = media_input(path)
    # the whole frames are spread over the part of the window the video fills (a header may lie: the scan
    # itself still reads the whole window)
    filled = min(cfg.scan_seconds, _seconds(facts.general.get("duration")) or cfg.scan_seconds)
    request = {"path": target, "fds": list(fds), "scan_seconds": cfg.scan_seconds, "fps": cfg.ocr_fps,
               "band": cfg.ocr_band, "side": cfg.ocr_width, "whole_frames": cfg.ocr_whole_frames,
               "whole_seconds": filled, "max_errors": cfg.max_errors, "timeout": remaining, "ffmpeg": ffmpeg_exe(),
               "input_options": [arg for key, value in SAFE_INPUT.items() for arg in (f"-{key}", value)]}
    worker = ocr_worker.current()
    if worker is not None:
        answer = worker.ask(request, fds, remaining + 30)
    else:
        answer = _run_ocr_child(request, fds, remaining + 30, child_env())
    texts.extend(TextSource("ocr", line, None, seconds) for seconds, line in answer["lines"])
    hit = answer["hit"]
    if not hit:
        return None
    match = PhraseMatch(hit["speaker"], hit["topic"], hit["errors"], hit["matched"])
    return _found((match, TextSource("ocr", hit["matched"], None, hit["seconds"])), texts)


def _seconds(milliseconds) -> float | None:
    """MediaInfo's duration (ms, an int or a string such as '10000.000000') in seconds; None if unusable."""
    try:
        value = float(milliseconds) / 1000
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _run_ocr_child(request: dict, fds: tuple[int, ...], timeout: float, env: dict) -> dict:
    """The child's answer ({"lines": …, "hit": …}); ToolError saying, in Chinese, why there is none."""
    hint = OCR_HINT
    try:
        proc = children.run([sys.executable, "-m", "validators.ocr_child", json.dumps(request)],
                            timeout=timeout, env=env, pass_fds=fds)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"画面文字识别程序超过 {timeout:.0f} 秒没有结束", hint) from exc
    except OSError as exc:
        raise ToolError(f"无法启动画面文字识别程序：{exc.strerror or exc}", hint) from exc
    said = _last_line(proc.stderr)
    if proc.returncode < 0:
        raise ToolError(f"画面文字识别程序异常退出（信号 {-proc.returncode}）{said}", hint)
    if proc.returncode != 0:
        raise ToolError(f"画面文字识别程序出错（退出码 {proc.returncode}）{said}", hint)
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "lines" not in answer or "hit" not in answer:
        raise ToolError("画面文字识别程序的输出无法识别", hint)
    return answer


def _last_line(stderr: bytes) -> str:
    """The child's last word on stderr (the error its traceback ends with), as "：…" or ""."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return f"：{lines[-1][:300]}" if lines else ""


def _found(hit: tuple[PhraseMatch, TextSource], texts: list[TextSource]) -> OpeningResult:
    match, source = hit
    at = f"，约第 {source.seconds:.0f} 秒" if source.seconds is not None else ""
    speaker = match.speaker or "（未识别）"
    topic = match.topic or "（未识别）"
    return OpeningResult(passed(
        "opening_phrase", f"有开头语（{source.label}{at}）：代言人 {speaker}，主题“{topic}”。",
        speaker=match.speaker, topic=match.topic, source=source.kind, seconds=source.seconds,
        errors=match.errors, matched=match.matched), texts, match)
