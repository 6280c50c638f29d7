"""The contest's own rules: which unit a name means, the deadline, and the quota per unit."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from core.timefmt import local_text
from intake.config import ContestConfig
from validators.results import CheckResult, passed, warned

SUFFIXES = ("苗族自治县", "侗族自治县", "瑶族自治县", "壮族自治县", "自治县", "区", "县", "市")
SUFFIX_ENDINGS = tuple({suffix[-1] for suffix in SUFFIXES})
NOISE = re.compile(r"[\s·．.、,，()（）【】\[\]\"“”'‘’-]")


@dataclass(frozen=True)
class UnitMatch:
    unit: str | None       # the known unit, or None
    how: str               # exact | alias | contains | fuzzy | ambiguous | unknown
    score: float = 1.0
    named: tuple[str, ...] = ()   # ambiguous: the different units the text names, in the order written


def _clean(text: str) -> str:
    return NOISE.sub("", unicodedata.normalize("NFKC", text))


def short_forms(name: str) -> list[str]:
    """柳南区 → 柳南; 融水苗族自治县 → 融水县, 融水."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            core = name[: -len(suffix)]
            return [core + suffix[-1], core] if suffix != suffix[-1] else [core]
    return []


class UnitMatcher:
    def __init__(self, contest: ContestConfig):
        self.threshold = contest.fuzzy_threshold
        self.names = [u.name for u in contest.units]
        # alias → unit, longest first so that 融水苗族自治县 wins over 融水
        pairs: dict[str, str] = {}
        for unit in contest.units:
            for alias in (unit.name, *unit.aliases, *short_forms(unit.name)):
                pairs.setdefault(_clean(alias), unit.name)
        self.aliases = sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)
        # What may be found inside a longer text (a file name): names, configured aliases and short forms with
        # their ending (融水县), never a bare short form (城中 is in 城中村, 柳南 in 柳南风光).
        bare = {_clean(form) for unit in contest.units for form in short_forms(unit.name)
                if not form.endswith(SUFFIX_ENDINGS)} - {_clean(a) for unit in contest.units
                                                          for a in (unit.name, *unit.aliases)}
        self.distinctive = [(alias, unit) for alias, unit in self.aliases if alias not in bare]

    def match(self, raw: str | None) -> UnitMatch:
        if not raw:
            return UnitMatch(None, "unknown", 0.0)
        text = _clean(raw)
        for alias, unit in self.aliases:
            if text == alias:
                return UnitMatch(unit, "exact" if alias == _clean(unit) else "alias")
        named = list(dict.fromkeys(unit for _, _, unit in self._spans(text, self.aliases)))   # in the order written
        if len(named) == 1:
            return UnitMatch(named[0], "contains")
        if named:   # 柳北区、柳南区联合报送: choosing one would count the work against a unit at random
            return UnitMatch(None, "ambiguous", 0.0, tuple(named))
        score, best = max(((difflib.SequenceMatcher(None, text, alias).ratio(), unit) for alias, unit in self.aliases),
                          key=lambda pair: pair[0], default=(0.0, None))
        if best and score >= self.threshold:
            return UnitMatch(best, "fuzzy", score)
        return UnitMatch(None, "unknown", score)

    def written_in(self, text: str) -> str | None:
        """The one listed unit a longer text (a file name such as 融水县作品) names, as written there: by its
        name, an alias or a short form with its ending. None when it names none, or more than one."""
        cleaned = _clean(text)
        found = self._spans(cleaned, self.distinctive)
        if len({unit for _, _, unit in found}) != 1:
            return None
        start, end, _ = found[0]
        return cleaned[start:end]

    @staticmethod
    def _spans(text: str, aliases: list[tuple[str, str]]) -> list[tuple[int, int, str]]:
        """(start, end, unit) of each of ``aliases`` in ``text``, in the order written. The longest name is
        taken first, and a shorter one inside or across it does not count (柳南区委 is 柳南区, not 柳南 too)."""
        claimed: list[tuple[int, int, str]] = []
        for alias, unit in aliases:
            if len(alias) < 2:
                continue
            start = text.find(alias)
            while start >= 0:
                end = start + len(alias)
                if not any(start < e and s < end for s, e, _ in claimed):
                    claimed.append((start, end, unit))
                start = text.find(alias, start + 1)
        return sorted(claimed)


def check_unit(raw: str | None, found: UnitMatch) -> CheckResult | None:
    """None when there is no unit at all (contact_info already says so)."""
    if not raw:
        return None
    if found.how in ("exact", "alias", "contains"):
        return passed("unit", f"参赛单位：{found.unit}（报送时写作“{raw}”）。" if raw != found.unit
                      else f"参赛单位：{found.unit}。", unit=found.unit, raw=raw)
    if found.how == "fuzzy":
        return warned("unit", "unit_fuzzy", f"单位名称“{raw}”与“{found.unit}”相近，已按{found.unit}统计，请核对。",
                      advice=f"单位名称“{raw}”已按“{found.unit}”登记；如有误，请与主办方联系更正。",
                      unit=found.unit, raw=raw, score=round(found.score, 2))
    if found.how == "ambiguous":
        named = "、".join(found.named)
        return warned("unit", "unit_ambiguous", f"单位名称“{raw}”中有多个单位（{named}），未计入其中任何一个，"
                      "请核对由哪个单位报送。",
                      advice=f"单位名称“{raw}”中写了多个单位（{named}）。每件作品由一个单位报送，"
                             "请与主办方联系，说明由哪个单位报送。", raw=raw, named=list(found.named))
    return warned("unit", "unit_unknown", f"单位名称“{raw}”不在应报送单位名单中，请核对是哪个单位。",
                  advice=f"单位名称“{raw}”不在应报送单位名单中。请与主办方联系确认，"
                         "或重新报送时在邮件正文中写明参赛单位的规范名称（如“柳南区”）。", raw=raw)


def check_deadline(received_at: datetime, deadline: datetime) -> CheckResult:
    if received_at > deadline:
        return warned("deadline", "late", f"收到时间 {local_text(received_at)} 晚于截止时间 {local_text(deadline)}，"
                      "是否接受由评审人员决定。",
                      advice=f"作品在截止时间 {local_text(deadline)} 之后收到，是否接受由主办方决定。",
                      received_at=received_at.isoformat(), deadline=deadline.isoformat())
    return passed("deadline", f"在截止时间 {local_text(deadline)} 前收到。")


def check_quota(unit: str | None, earlier: list[int], quota: int) -> CheckResult | None:
    if not unit:
        return None
    if len(earlier) >= quota:
        ids = "、".join(f"#{i}" for i in earlier)
        return warned("quota", "over_quota", f"{unit}此前已报送 {len(earlier)} 件作品（{ids}），超过每单位 {quota} 件的名额。"
                      "请评审人员确认以哪一件为准。",
                      advice=f"{unit}此前已报送过作品，每单位名额为 {quota} 件。如需更换作品，请与主办方联系，说明以哪一件为准。",
                      earlier_submission_ids=earlier)
    return passed("quota", f"{unit}的第 {len(earlier) + 1} 件作品，未超过名额。")
