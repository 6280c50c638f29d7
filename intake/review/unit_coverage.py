"""各单位报送情况: which units sent a work, which did not, and which sent or had shortlisted more than their quota.

A rejected work does not count as sent (it does not take up the quota); a shortlisted one counts whatever its
outcome (a reviewer may shortlist a rejected work with ``--force``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from intake.config import ContestConfig


class UnitState(str, Enum):
    MISSING = "missing"                    # 未报送
    ONLY_REJECTED = "only_rejected"        # 仅有不合格作品
    SUBMITTED = "submitted"                # 已报送
    OVER_QUOTA = "over_quota"              # 超过名额
    SHORTLISTED = "shortlisted"            # 已入围 N 件


@dataclass
class UnitCoverage:
    unit: str
    listed: bool                                          # on the contest's unit list
    quota: int
    submitted: list[int] = field(default_factory=list)   # works that are not rejected
    rejected: list[int] = field(default_factory=list)
    shortlisted: list[int] = field(default_factory=list)

    @property
    def state(self) -> UnitState:
        if self.shortlisted:
            return UnitState.SHORTLISTED
        if len(self.submitted) > self.quota:
            return UnitState.OVER_QUOTA
        if self.submitted:
            return UnitState.SUBMITTED
        return UnitState.ONLY_REJECTED if self.rejected else UnitState.MISSING

    @property
    def over_shortlisted(self) -> bool:
        """More works shortlisted than the unit's quota: the reviewers must choose."""
        return len(self.shortlisted) > self.quota

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state.value, "over_shortlisted": self.over_shortlisted}


@dataclass
class Coverage:
    quota: int
    units: list[UnitCoverage]
    without_unit: list[int]           # works whose unit nobody wrote

    def as_json(self) -> dict[str, Any]:
        return {"quota": self.quota, "units": [u.as_json() for u in self.units], "without_unit": self.without_unit}


def unit_coverage(views: list[dict[str, Any]], contest: ContestConfig) -> Coverage:
    """The coverage of every unit, from submission views (as ``intake list --json`` gives them)."""
    quota = contest.quota_per_unit
    rows = {u.name: UnitCoverage(u.name, True, quota) for u in contest.units}
    without_unit = []
    for view in views:
        if not view["unit"]:
            without_unit.append(view["id"])
            continue
        row = rows.setdefault(view["unit"], UnitCoverage(view["unit"], False, quota))
        (row.rejected if view["outcome"] == "rejected" else row.submitted).append(view["id"])
        if view["decision"] and view["decision"]["decision"] == "shortlist":
            row.shortlisted.append(view["id"])
    return Coverage(quota, list(rows.values()), without_unit)


STATE_LABELS = {UnitState.MISSING: "未报送", UnitState.ONLY_REJECTED: "仅有不合格作品", UnitState.SUBMITTED: "已报送",
                UnitState.OVER_QUOTA: "超过名额", UnitState.SHORTLISTED: "已入围"}


def numbers(ids: list[int]) -> str:
    """#3、#7"""
    return "、".join(f"#{i}" for i in ids)


def state_text(row: UnitCoverage) -> str:
    """The state as a reviewer reads it: 未报送, 仅有不合格作品（#3、#7）, 已报送, 超过名额（2 件，名额 1 件）, 已入围 1 件."""
    more = {UnitState.ONLY_REJECTED: f"（{numbers(row.rejected)}）",
            UnitState.OVER_QUOTA: f"（{len(row.submitted)} 件，名额 {row.quota} 件）",
            UnitState.SHORTLISTED: f" {len(row.shortlisted)} 件"}
    return STATE_LABELS[row.state] + more.get(row.state, "")


def warning_text(row: UnitCoverage) -> str | None:
    """What a reviewer must still settle for the unit, or None."""
    if row.over_shortlisted:
        return f"入围 {len(row.shortlisted)} 件，超过每单位 {row.quota} 件的名额，请只保留 {row.quota} 件。"
    return None
