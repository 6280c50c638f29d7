"""Flag classification markings (机密★10年, a 内部资料 stamp) and configured keywords in every text read in and
around a work, for a person to review, and say exactly what was looked at. The topic's own vocabulary
(涉密载体, 密级, 绝密、机密、秘密 as narration) is not flagged.

Text read off the screen comes with misread glyphs (增显★长期 for 绝密★长期, 内郁资料 for 内部资料), so a line read
on screen that has a marking's shape but for a character or two is flagged too, as a possible misreading.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.numbers import moment_text
from validators.frame_scan import FrameScan
from validators.phrase import fuzzy_find
from validators.remux import ORIGINAL_TAGS
from validators.results import CheckResult, Status, passed, warned
from validators.rules import SensitiveConfig
from validators.subtitles import SUBTITLE_SUFFIXES
from validators.texts import TextSource

CONTEXT = 12
MAX_SHOWN = 5
MAX_FOUND = 50          # findings kept in the details; the message shows MAX_SHOWN of them
SAME_FINDING = 5.0      # the same text seen again within this many seconds is the same finding
# Where a finding was seen, as details.found[].where says it.
WHERE = {"ocr": "画面文字", "subtitle": "字幕", "metadata": "文件信息", "file_name": "文件名",
         "body": "邮件正文", "subject": "邮件主题", "speech": "语音"}
# The shapes a misread marking keeps (see the module docstring).
STAR_PERIOD = re.compile(r"[★☆]\s*(?:\d+\s*(?:年|个月)|长[期明朋]|启用前)")
STAMPS = ("内部资料", "内部文件", "内部材料", "内部刊物")
STAMP_TAILS = ("", "注意保密", "注意保存", "妥善保管", "请勿外传")
MAX_MARK_LINE = 16      # a marking is a short line; a long one that looks like it is narration


@dataclass(frozen=True)
class Unread:
    """Why the picture was not read: switched off (``off``), or it could not be (the scan is incomplete)."""

    reason: str
    off: bool = False


def where_seen(source: TextSource) -> str:
    if source.kind == "sidecar" and source.name == ORIGINAL_TAGS:
        return WHERE["metadata"]   # a remuxed file's original tags
    if source.kind == "sidecar":
        return "字幕" if PurePosixPath(source.name or "").suffix.lower() in SUBTITLE_SUFFIXES else "说明文件"
    return WHERE.get(source.kind, source.label)


def _misread_marking(line: str) -> bool:
    """A line read on screen that is a marking but for a misread character or two (see the module docstring)."""
    compact = "".join(ch for ch in line if not ch.isspace())
    if len(compact) > MAX_MARK_LINE:
        return False
    if STAR_PERIOD.search(compact):
        return True
    letters = "".join(ch for ch in compact if unicodedata.category(ch)[0] in "LN")
    for stamp in STAMPS:
        for tail in STAMP_TAILS:
            form = stamp + tail
            if abs(len(letters) - len(form)) <= 1:
                found = fuzzy_find(letters, form, 1)
                if found and found[0] == 0 and found[1] >= len(letters) - 1:
                    return True
    return False


def find_sensitive(texts: list[TextSource], cfg: SensitiveConfig) -> list[dict]:
    """Each finding once: its text, time, where it was seen, the words around it, and on screen its place."""
    found: list[dict] = []
    patterns = [re.compile(p, re.MULTILINE) for p in cfg.marks] + [re.compile(re.escape(k)) for k in cfg.keywords if k]
    for source in texts:
        text = unicodedata.normalize("NFKC", source.text)
        hits = [(m.group(0), m.start(), m.end()) for pattern in patterns for m in pattern.finditer(text)]
        likely = not hits and source.kind == "ocr" and _misread_marking(text)
        if likely:
            hits = [(text.strip(), 0, len(text))]
        for match, start, end in hits:
            item = {"text": match, "seconds": source.seconds, "where": where_seen(source), "kind": source.kind,
                    "context": text[max(0, start - CONTEXT): end + CONTEXT].replace("\n", " ")}
            if source.box is not None:
                item["box"] = list(source.box)
            if likely:
                item["misread"] = True
            if not _seen_before(found, item):
                found.append(item)
    return found


def _seen_before(found: list[dict], item: dict) -> bool:
    for earlier in found:
        if (earlier["text"], earlier["where"]) != (item["text"], item["where"]):
            continue
        if earlier["seconds"] is None or item["seconds"] is None:
            return earlier["seconds"] == item["seconds"]
        if abs(earlier["seconds"] - item["seconds"]) <= SAME_FINDING:
            return True
    return False


def _finding_text(item: dict) -> str:
    misread = "（疑似密级标志，文字识别可能有误）" if item.get("misread") else ""
    at = f"，{moment_text(item['seconds'])}" if item["seconds"] is not None else ""
    return f"“{item['text']}”{misread}出现在{item['where']}{at}"


def check_sensitive(texts: list[TextSource], cfg: SensitiveConfig, *, looked: list[str] | None = None,
                    frames: FrameScan | None = None, unread: Unread | None = None) -> CheckResult:
    """The verdict over ``texts``, naming what was looked at: ``looked`` (labels of the sources read besides
    the picture; by default those of ``texts``), and the picture: read by ``frames``, or ``unread``."""
    if looked is None:
        looked = list(dict.fromkeys(where_seen(t) for t in texts))
    coverage = ([frames.coverage()] if frames is not None else []) + looked
    seen = "、".join(coverage) or "无文字"
    incomplete = (frames is not None and not frames.complete) or (unread is not None and not unread.off)
    why = (frames.problem if frames is not None and not frames.complete else unread.reason if incomplete else None)
    found = find_sensitive(texts, cfg)
    details = {"found": found[:MAX_FOUND], "looked": coverage, **(
        frames.details() if frames is not None else {"scanned_seconds": 0.0, "frames": 0} if unread else {})}
    if unread is not None:
        details["unread"] = unread.reason
    rest = f"其余部分未查看（{why}），请人工观看确认。" if incomplete else ""
    if found:
        shown = "；".join(_finding_text(item) for item in found[:MAX_SHOWN])
        more = f"（另有 {len(found) - MAX_SHOWN} 处）" if len(found) > MAX_SHOWN else ""
        return warned("sensitive_content", "flagged",
                      f"发现可能涉密或敏感的内容，请人工复核：{shown}{more}。已查看：{seen}。{rest}",
                      advice="作品的文字中出现了可能涉及密级标志或敏感信息的内容，将由工作人员人工核实。"
                             "请再次确认作品不含涉密信息；如需更换，请修改后重新报送。",
                      codes=["flagged", *(["scan_incomplete"] if incomplete else [])], **details)
    if incomplete:
        return warned("sensitive_content", "scan_incomplete",
                      f"全片扫描未完成。已查看：{seen}，其中未发现密级标志或敏感词；{rest}",
                      advice="系统未能完整查看视频画面，工作人员将人工观看，暂不需要处理。",
                      codes=["scan_incomplete"], **details)
    if unread is not None:
        return CheckResult("sensitive_content", Status.PASS, "not_scanned",
                           f"未发现密级标志或敏感词（已查看：{seen}；画面未查看：{unread.reason}）。", details)
    return passed("sensitive_content", f"未发现密级标志或敏感词（已查看：{seen}）。", **details)
