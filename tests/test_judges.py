"""Judges score on their own (issue 23, item 11): until an admin closes scoring (``contest.scoring.reveal``), a
judge sees only their own scores, total, decisions and notes, and no work's score or rank, on every page and
in the API. With two judges the list's mean gave away the other's total exactly (2 × 7.25 − 5 = 9.5). Closing
and reopening are audited; ``reveal: always`` opens the aggregates at once. Through the real server."""

from __future__ import annotations

import re

import pytest

from intake.desk.accounts import add_account
from tests.cli import run
from tests.configs import add_config
from tests.desks import PASSWORD, logged_in, make_desk, running_desk, score_form

OTHER_NOTE = "我觉得拍得很好"


@pytest.fixture(scope="module")
def desk(clips, tmp_path_factory):
    root = tmp_path_factory.mktemp("judges")
    ids = make_desk(root, clips)
    with running_desk(root) as (port, services):
        add_account(services.db, "judge2", "reviewer", PASSWORD)
        judge, judge2 = logged_in(port, "judge"), logged_in(port, "judge2")
        target = ids["accepted"]
        assert judge.post(f"/entries/{target}/score", score_form(judge, target, 思想性="5", 艺术性="5", 技术性="5")).status == 303
        assert judge2.post(f"/entries/{target}/score",
                           score_form(judge2, target, 思想性="9.5", 艺术性="9.5", 技术性="9.5")).status == 303
        assert judge2.post(f"/entries/{target}/decide", {"csrf": judge2.csrf(), "decision": "shortlist",
                                                          "note": OTHER_NOTE}).status == 303
        yield root, port, ids, services


def judge_pages(client, ids) -> dict[str, str]:
    paths = ["/", "/list", "/list?sort=score&dir=desc", "/api/submissions", "/api/overview?after=0",
             f"/entries/{ids['accepted']}"]
    return {path: client.get(path).text for path in paths}


def test_a_judge_sees_only_their_own_until_scoring_is_closed(desk):
    root, port, ids, services = desk
    judge, admin = logged_in(port, "judge"), logged_in(port, "admin")
    pages = judge_pages(judge, ids)
    for path, text in pages.items():
        for leak in ("7.25", "9.5", OTHER_NOTE, 'data-judge="judge2"', 'data-decision="shortlist"',
                     '"decision": "shortlist"', '"decision":"shortlist"'):
            assert leak not in text, (path, leak)
    row = re.search(rf'<tr data-id="{ids["accepted"]}" data-outcome="accepted" data-decision="none"(?:(?!</tr>).)*'
                    r'<td data-sort="5.0" class="score">5</td>\s*<td class="problems">', pages["/list"], re.S)
    assert row and ">我的总分<" in pages["/list"] and 'class="rank"' not in pages["/list"]
    assert 'id="sort-rank"' not in pages["/list"]   # a sealed judge has no ranking: not even an empty column
    [view] = [v for v in judge.get("/api/submissions").json() if v["id"] == ids["accepted"]]
    assert (view["decision"], view["decisions"]) == (None, [])
    overview = pages["/"]
    assert re.search(r'data-count="decision-shortlist">0<', overview)
    assert re.search(r'<tr data-judge="judge"><td>judge</td><td class="progress">1 / 3</td>', overview)
    entry = pages[f"/entries/{ids['accepted']}"]
    assert 'id="entry-score"' not in entry and "（评分结束前，其他人的评审决定和备注不公开）" in entry
    assert "评分进行中：评委只能看到自己的评分" in overview and 'id="scoring-form"' not in overview
    # the admin sees everything
    shown = admin.get(f"/entries/{ids['accepted']}").text
    assert "作品得分：7.25（平均分），排名第 1" in shown and OTHER_NOTE in shown
    assert re.search(r'<td data-sort="7.25" class="score">7.25</td>\s*<td data-sort="1" class="rank">1</td>',
                     admin.get("/list").text)
    assert 'data-judge="judge2"' in admin.get("/").text
    # a judge may not close scoring
    refused = judge.post("/scoring", {"csrf": judge.csrf(), "do": "close"})
    assert refused.status == 403 and services.db.audit.latest(["scoring_closed"]) is None


def test_closing_scoring_reveals_the_scores_and_stops_saving_them(desk):
    root, port, ids, services = desk
    judge, admin = logged_in(port, "judge"), logged_in(port, "admin")
    closed = admin.post("/scoring", {"csrf": admin.csrf(), "do": "close"})
    assert (closed.status, closed.headers["location"]) == (303, "/?done=scoring_close")
    try:
        assert "已结束评分：评委现在可以看到作品得分、名次和其他人的评审决定，不能再修改评分。" in admin.get("/?done=scoring_close").text
        [event] = [e for e in services.db.audit.events() if e.kind == "scoring_closed"]
        assert event.actor == "admin" and event.submission_id is None
        listed = judge.get("/list").text
        assert re.search(r'<td data-sort="7.25" class="score">7.25</td>\s*<td data-sort="1" class="rank">1</td>', listed)
        assert ">得分<" in listed and ">我的总分<" not in listed
        entry = judge.get(f"/entries/{ids['accepted']}").text
        assert "作品得分：7.25（平均分），排名第 1" in entry and OTHER_NOTE in entry and 'id="judges"' not in entry
        assert "评分已结束，不能再修改评分。我的总分：5。" in entry
        refused = judge.post(f"/entries/{ids['accepted']}/score",
                             score_form(judge, ids["accepted"], 思想性="6", 艺术性="6", 技术性="6"))
        assert refused.status == 400 and "评分已结束，不能再保存评分。" in refused.text
        assert [c.values["思想性"] for c in services.db.judging.scores(judge="judge")] == [5.0]
    finally:
        reopened = admin.post("/scoring", {"csrf": admin.csrf(), "do": "reopen"})
    assert reopened.headers["location"] == "/?done=scoring_reopen"
    assert [e.kind for e in services.db.audit.events() if e.kind.startswith("scoring_")] == ["scoring_closed",
                                                                                             "scoring_reopened"]
    assert "7.25" not in judge.get("/list").text      # sealed again


def test_reveal_always_opens_the_aggregates_at_once(desk):
    root, port, ids, services = desk
    add_config(root, "contest:\n  scoring:\n    reveal: always\n")
    try:
        with running_desk(root) as (other, _):
            judge = logged_in(other, "judge")
            assert re.search(r'<td data-sort="7.25" class="score">7.25</td>', judge.get("/list").text)
            assert OTHER_NOTE in judge.get(f"/entries/{ids['accepted']}").text
            assert "按配置（contest.scoring.reveal: always），评委随时可以看到" in judge.get("/").text
    finally:
        config = root / "config.yaml"
        config.write_text(config.read_text(encoding="utf-8").replace("    reveal: always\n", ""), encoding="utf-8")


def test_reveal_takes_closed_or_always(workdir):
    add_config(workdir, "contest:\n  scoring:\n    reveal: sometimes\n")
    out = run("list")
    assert out.returncode == 2
    assert "配置项 contest.scoring.reveal 的值 'sometimes' 无效（取值不在允许范围内）" in out.stderr
