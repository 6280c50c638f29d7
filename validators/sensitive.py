"""Flag classification markings and configured keywords in every text we have, for a person to review.

A marking is what a document carries (机密★10年, 内部资料 as a stamp), wherever OCR saw it in the
picture; the topic's own vocabulary in narration (涉密载体, 密级, 绝密、机密、秘密) is not flagged.
"""

from __future__ import annotations

import re
import unicodedata

from validators.results import CheckResult, passed, warned
from validators.rules import SensitiveConfig
from validators.texts import TextSource

CONTEXT = 12
MAX_SHOWN = 5


def _patterns(cfg: SensitiveConfig) -> list[re.Pattern]:
    return [re.compile(p, re.MULTILINE) for p in cfg.marks] + [re.compile(re.escape(k)) for k in cfg.keywords if k]


def find_sensitive(texts: list[TextSource], cfg: SensitiveConfig) -> list[dict]:
    found = []
    seen = set()
    patterns = _patterns(cfg)
    for source in texts:
        text = unicodedata.normalize("NFKC", source.text)
        for pattern in patterns:
            for match in pattern.finditer(text):
                snippet = text[max(0, match.start() - CONTEXT): match.end() + CONTEXT].replace("\n", " ")
                key = (match.group(0), source.label)
                if key in seen:
                    continue
                seen.add(key)
                found.append({"match": match.group(0), "snippet": snippet, "source": source.label,
                              "seconds": source.seconds})
    return found


def check_sensitive(texts: list[TextSource], cfg: SensitiveConfig) -> CheckResult:
    found = find_sensitive(texts, cfg)
    if not found:
        kinds = sorted({t.label.split("（")[0] for t in texts})
        return passed("sensitive_content", f"未发现密级标志或敏感词（已查看：{'、'.join(kinds) or '无文字'}）。")
    shown = []
    for item in found[:MAX_SHOWN]:
        at = f"，约第 {item['seconds']:.0f} 秒" if item["seconds"] is not None else ""
        shown.append(f"“{item['match']}”出现在{item['source']}{at}：……{item['snippet']}……")
    more = f"（另有 {len(found) - MAX_SHOWN} 处）" if len(found) > MAX_SHOWN else ""
    return warned("sensitive_content", "flagged",
                  "发现可能涉密或敏感的内容，请人工复核：\n" + "\n".join(shown) + more,
                  advice="作品的文字中出现了可能涉及密级标志或敏感信息的内容，将由工作人员人工核实。"
                         "请再次确认作品不含涉密信息；如需更换，请修改后重新报送。", matches=found)
