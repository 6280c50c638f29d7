"""各单位报送情况: each unit's state from the recorded works and the decisions, in the library, in
``intake list --units`` and in the report (the report's section in Chromium is in tests/test_report.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from intake.config import Config, ContestConfig, load_config
from intake.review.unit_coverage import UnitState, state_text, unit_coverage, warning_text
from intake.pipeline.services import open_database
from storage.records import SubmissionRecord
from tests.cli import run

UNITS = ["城中区", "柳南区", "柳北区", "鹿寨县", "融安县"]


def view(number: int, unit: str | None, outcome: str = "accepted", decision: str | None = None) -> dict:
    """The fields of a submission view that coverage reads."""
    return {"id": number, "unit": unit, "outcome": outcome,
            "decision": {"decision": decision} if decision else None}


def contest(quota: int = 1) -> ContestConfig:
    return ContestConfig(units=UNITS, quota_per_unit=quota)


# The works behind every state: 城中区 none; 柳南区 two sent; 柳北区 one sent and one rejected; 鹿寨县 only
# rejected ones; 融安县 two shortlisted (one of them rejected, shortlisted with --force); one outside the list;
# one with no unit.
WORKS = [(1, "柳南区", "accepted", None), (2, "柳南区", "needs_review", "pending"), (3, "鹿寨县", "rejected", None),
         (4, "柳北区", "accepted", None), (5, "柳北区", "rejected", None), (6, "融安县", "accepted", "shortlist"),
         (7, "鹿寨县", "rejected", "reject"), (8, "融安县", "rejected", "shortlist"), (9, "市公安局", "accepted", None),
         (10, None, "accepted", None)]


def test_each_unit_gets_one_state():
    found = unit_coverage([view(*w) for w in WORKS], contest())
    rows = {u.unit: u for u in found.units}
    assert list(rows) == [*UNITS, "市公安局"]            # the list's order, then units outside it
    assert {unit: (row.state, state_text(row)) for unit, row in rows.items()} == {
        "城中区": (UnitState.MISSING, "未报送"),
        "柳南区": (UnitState.OVER_QUOTA, "超过名额（2 件，名额 1 件）"),
        "柳北区": (UnitState.SUBMITTED, "已报送"),
        "鹿寨县": (UnitState.ONLY_REJECTED, "仅有不合格作品（#3、#7）"),
        "融安县": (UnitState.SHORTLISTED, "已入围 2 件"),
        "市公安局": (UnitState.SUBMITTED, "已报送"),
    }
    assert (rows["柳北区"].submitted, rows["柳北区"].rejected) == ([4], [5])
    assert rows["融安县"].shortlisted == [6, 8] and rows["融安县"].over_shortlisted
    assert warning_text(rows["融安县"]) == "入围 2 件，超过每单位 1 件的名额，请只保留 1 件。"
    assert [u.unit for u in found.units if warning_text(u)] == ["融安县"]
    assert not rows["市公安局"].listed and rows["城中区"].listed
    assert found.without_unit == [10]


def test_the_quota_comes_from_the_config():
    rows = {u.unit: u for u in unit_coverage([view(*w) for w in WORKS], contest(quota=2)).units}
    assert state_text(rows["柳南区"]) == "已报送"
    assert rows["融安县"].state is UnitState.SHORTLISTED and warning_text(rows["融安县"]) is None


def test_the_default_contest_lists_the_ten_counties_and_districts():
    found = unit_coverage([], Config().contest)
    assert len(found.units) == 10 and {u.state for u in found.units} == {UnitState.MISSING}


@pytest.fixture
def recorded(workdir):
    """WORKS recorded in a real database (no files needed), with their decisions."""
    config = workdir / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "contest:\n", "contest:\n  units: [城中区, 柳南区, 柳北区, 鹿寨县, 融安县]\n"), encoding="utf-8")
    db = open_database(load_config(None))
    for number, unit, outcome, decision in WORKS:
        assert db.submissions.add(SubmissionRecord(source="cli", received_at=datetime.now(timezone.utc),
                                                   outcome=outcome, unit=unit, unit_raw=unit)) == number
        if decision:
            db.judging.record_decision(number, decision, None, "评审", forced=outcome == "rejected")
    return workdir


def test_list_units_prints_a_table(recorded):
    out = run("list", "--units")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == (
        "单位                状态                         作品（不含不合格）  入围\n"
        "城中区              未报送\n"
        "柳南区              超过名额（2 件，名额 1 件）  #1、#2\n"
        "柳北区              已报送                       #4\n"
        "鹿寨县              仅有不合格作品（#3、#7）\n"
        "融安县              已入围 2 件                  #6                  #6、#8\n"
        "市公安局（名单外）  已报送                       #9\n"
        "注意：融安县入围 2 件，超过每单位 1 件的名额，请只保留 1 件。\n"
        "每单位名额 1 件。另有 1 件作品未注明单位：#10。\n")
    one = run("list", "--units", "--unit", "鹿寨县")
    assert one.stdout == ("单位    状态                      作品（不含不合格）  入围\n"
                          "鹿寨县  仅有不合格作品（#3、#7）\n"
                          "每单位名额 1 件。\n")
    both = run("list", "--units", "--outcome", "rejected")
    assert (both.returncode, both.stderr) == (2, "错误：--units 不能与 --outcome 同时使用：各单位报送情况总是统计全部作品。\n")


def test_list_units_json_gives_the_raw_data(recorded):
    data = json.loads(run("list", "--units", "--json").stdout)
    assert (data["quota"], data["without_unit"]) == (1, [10])
    rows = {u["unit"]: u for u in data["units"]}
    assert rows["融安县"] == {"unit": "融安县", "listed": True, "quota": 1, "submitted": [6], "rejected": [8],
                             "shortlisted": [6, 8], "state": "shortlisted", "over_shortlisted": True}
    assert [(u["unit"], u["state"]) for u in data["units"]] == [
        ("城中区", "missing"), ("柳南区", "over_quota"), ("柳北区", "submitted"), ("鹿寨县", "only_rejected"),
        ("融安县", "shortlisted"), ("市公安局", "submitted")]


def test_a_filtered_report_still_counts_every_work_per_unit(recorded):
    assert run("report", "--outcome", "rejected", "-o", "r.html").returncode == 0
    page = (recorded / "r.html").read_text(encoding="utf-8")
    # the rows hold only rejected works, but 柳北区's accepted #4 still counts as sent
    assert '<tr data-state="submitted"><td>柳北区</td>' in page
    assert "应报送 5 个单位：未报送 1 个，仅有不合格作品 1 个，已报送 1 个，超过名额 1 个，已入围 1 个；" \
           "另有 1 件作品未注明单位：#10" in page
