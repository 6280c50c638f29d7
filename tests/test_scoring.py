"""Scoring by several judges: the arithmetic (weighted totals, mean and trimmed mean, ranks with ties,
progress), the scores' storage on each backend, the desk's score form and progress over HTTP, blind review
on every route, and ``intake scores``."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from core.errors import ConfigError, NotFound, UsageError
from intake.review.blind import HIDDEN, MASK, UnitNames, blind_view
from intake.config import Config, config_from_dict, load_config
from intake.desk.app import create_app
from intake.review.scoring import entry_score, parse_scores, progress, ranks, score_text, standings, weighted_total
from intake.pipeline.services import open_services
from storage.records import SubmissionRecord
from storage.records import JudgeScores
from tests.cli import listing, run
from tests.configs import add_config
from tests.desks import logged_in, make_desk, running_desk, score_form

SCORING = Config().contest.scoring          # 思想性 40, 艺术性 30, 技术性 30, out of 10
NOW = datetime(2024, 4, 10, tzinfo=timezone.utc)


def card(submission_id: int, judge: str, a: float, b: float, c: float) -> JudgeScores:
    return JudgeScores(submission_id, judge, {"思想性": a, "艺术性": b, "技术性": c}, None, NOW)


def view(submission_id: int, outcome: str = "accepted", decision: str | None = None) -> dict:
    return {"id": submission_id, "outcome": outcome, "decision": {"decision": decision} if decision else None}


# -- the arithmetic -----------------------------------------------------------------------------
def test_a_judges_total_is_the_weighted_mean_on_the_same_scale():
    assert weighted_total({"思想性": 8, "艺术性": 7, "技术性": 9}, SCORING) == pytest.approx(8.0)
    assert weighted_total({"思想性": 10, "艺术性": 10, "技术性": 10}, SCORING) == pytest.approx(10)
    assert weighted_total({"思想性": 10, "艺术性": 0, "技术性": 0}, SCORING) == pytest.approx(4)
    assert weighted_total({"思想性": 8, "艺术性": 7}, SCORING) is None   # a criterion left: not complete


def test_the_entry_score_is_the_mean_and_from_five_judges_the_trimmed_mean():
    assert entry_score([]) == (None, None)
    assert entry_score([8.0, 6.0]) == (7.0, "mean")
    assert entry_score([9.0, 7.0, 8.0, 1.0]) == (6.25, "mean")
    # five judges: the highest (10) and the lowest (2) are dropped
    assert entry_score([9.0, 7.0, 8.0, 2.0, 10.0]) == (8.0, "trimmed_mean")
    # six judges: only one of each end is dropped, even when two share it
    assert entry_score([10.0, 10.0, 6.0, 6.0, 8.0, 0.0]) == (7.5, "trimmed_mean")


def test_ranks_follow_the_score_and_ties_share_one():
    assert ranks({1: 8.0, 2: 9.0, 3: 8.0, 4: 7.0}) == {2: 1, 1: 2, 3: 2, 4: 4}
    assert ranks({5: 0.1 + 0.2, 6: 0.3}) == {5: 1, 6: 1}     # equal to six decimals is equal
    assert ranks({}) == {}


def test_standings_and_progress_over_several_judges():
    views = [view(1), view(2, "needs_review"), view(3, "rejected"), view(4, "rejected", "shortlist"), view(5)]
    cards = [card(1, f"j{n}", *marks) for n, marks in enumerate(
        [(9, 9, 9), (7, 7, 7), (8, 8, 8), (2, 2, 2), (10, 10, 10)])]
    cards += [card(2, "j0", 8, 7, 9), card(2, "j1", 8, 7, 9), card(4, "j0", 10, 5, 5),
              card(3, "j0", 10, 10, 10),                                  # rejected: kept, not ranked
              JudgeScores(5, "j1", {"思想性": 9}, None, NOW)]             # incomplete: not counted
    found = standings(views, cards, SCORING)
    assert {sid: (s.score, s.method, s.rank) for sid, s in found.items()} == {
        1: (pytest.approx(8.0), "trimmed_mean", 1), 2: (pytest.approx(8.0), "mean", 1),
        3: (pytest.approx(10.0), "mean", None), 4: (pytest.approx(7.0), "mean", 3), 5: (None, None, None)}
    assert found[1].totals == {"j0": 9, "j1": 7, "j2": 8, "j3": 2, "j4": 10}
    done = progress(views, cards, ["j0", "j1", "j9"], SCORING)
    assert [(p.judge, p.text) for p in done] == [("j0", "3 / 4"), ("j1", "2 / 4"), ("j9", "0 / 4")]
    assert [score_text(x) for x in (8.0, 8.5, 7.8333, None)] == ["8", "8.5", "7.83", "—"]


def test_what_a_judge_may_enter():
    assert parse_scores({"思想性": "8", "艺术性": " 7.5 ", "技术性": "10"}, SCORING) == \
        {"思想性": 8.0, "艺术性": 7.5, "技术性": 10.0}
    # "-0" is a score of 0, never shown (or written to the sheet) as "-0"
    zero = parse_scores({"思想性": "-0", "艺术性": "-0.0", "技术性": "0"}, SCORING)
    assert [str(v) for v in zero.values()] == ["0.0"] * 3
    assert score_text(-0.0) == "0" and score_text(weighted_total(zero, SCORING)) == "0"
    cases = [({"思想性": "8"}, "请为每个评分项打分：缺少“艺术性”“技术性”。"),
             ({"思想性": "8", "艺术性": "七", "技术性": "9"}, "“艺术性”的分数“七”不是数字。"),
             ({"思想性": "8", "艺术性": "nan", "技术性": "9"}, "“艺术性”的分数“nan”不是数字。"),
             ({"思想性": "11", "艺术性": "7", "技术性": "9"}, "“思想性”的分数 11 超出范围：应为 0 到 10 分。"),
             ({"思想性": "-1", "艺术性": "7", "技术性": "9"}, "“思想性”的分数 -1 超出范围：应为 0 到 10 分。"),
             ({"思想性": "8.25", "艺术性": "7", "技术性": "9"}, "“思想性”的分数 8.25 最多保留一位小数。")]
    for given, message in cases:
        with pytest.raises(UsageError) as caught:
            parse_scores(given, SCORING)
        assert caught.value.message == message


def test_the_scoring_config_is_checked():
    custom = config_from_dict({"contest": {"scoring": {"criteria": [{"name": "创意", "weight": 1.5},
                                                                    {"name": "制作", "weight": 1}], "scale": 100}}},
                              Path("."))
    assert weighted_total({"创意": 90, "制作": 40}, custom.contest.scoring) == pytest.approx(70)
    for criteria, said in (([{"name": "创意", "weight": 1}, {"name": " 创意", "weight": 2}], "评分项名称重复：创意"),
                           ([{"name": " ", "weight": 1}], "评分项名称不能为空"),
                           ([{"name": "创意", "weight": 0}], "应大于下限"), ([], "至少要有一个评分项")):
        with pytest.raises(ConfigError) as caught:
            config_from_dict({"contest": {"scoring": {"criteria": criteria}}}, Path("."))
        assert said in caught.value.message


def test_blind_view_masks_every_name_of_the_unit():
    contest = Config().contest
    raw = {"id": 7, "unit": "融水苗族自治县", "unit_raw": "融水县保密办", "contact": "贾五", "phone": "13800000002",
           "sender": "rongshui@163.com", "subject": "融水县参赛作品", "source_ref": "mail:x", "title": "融水的保密故事",
           "body_text": "附件是融水县的作品，联系人贾五",
           "files": [{"original_name": "作品.zip/融水/贾五作品.MOV", "sha256": "ab"}],
           "checks": [{"message": "文件“贾五作品.MOV”已转换；联系人贾五，电话 13800000002；与柳南区的作品重复"}],
           "history": [{"kind": "edited", "text": "联系人：贾四 → 贾五"}, {"kind": "decision", "text": "入围；备注：融水不错"}]}
    seen = blind_view(raw, UnitNames.of(contest, [raw]))
    assert [seen[k] for k in ("unit", "unit_raw", "contact", "phone", "sender", "subject", "source_ref",
                              "body_text")] == [HIDDEN] * 8
    assert seen["title"] == f"{MASK}的保密故事"
    assert seen["files"] == [{"original_name": "文件1.mov", "sha256": None}]   # equal contents would tie works
    assert seen["checks"][0]["message"] == f"文件“{MASK}”已转换；联系人{MASK}，电话 {MASK}；与{MASK}的作品重复"
    assert [h["text"] for h in seen["history"]] == [HIDDEN, f"入围；备注：{MASK}不错"]
    assert seen["blind"] is True and raw["unit"] == "融水苗族自治县"   # the view itself is not changed
    # A title that is only the file's name, a name in another case, a file's stem quoted in a message
    named = {**raw, "title": "RS_Baomi_2024", "files": [{"original_name": "rs_baomi_2024.mp4", "sha256": "cd"}],
             "checks": [{"message": "RongShui 的 rs_baomi_2024 与 RS_BAOMI_2024.MP4"}], "history": []}
    seen = blind_view(named, UnitNames.of(contest, [named]))
    assert seen["title"] == "（作品名取自文件名，已隐去）"
    assert seen["checks"][0]["message"] == f"{MASK} 的 {MASK} 与 {MASK}"
    assert blind_view({**named, "title": "作品"}, UnitNames.of(contest, [named]))["title"] == "作品"


# -- storage ------------------------------------------------------------------------------------------
def test_a_save_replaces_the_judges_scores_and_is_audited(backend, workdir):
    db = open_services(load_config(workdir / "config.yaml")).db
    sid = db.submissions.add(SubmissionRecord(source="cli", received_at=NOW, outcome="accepted", unit="柳南区"))
    db.judging.save_scores(sid, "王老师", {"思想性": 8.0, "艺术性": 7.0, "技术性": 9.0}, "主题鲜明")
    db.judging.save_scores(sid, "李老师", {"思想性": 6.0, "艺术性": 6.5, "技术性": 7.0}, None)
    saved = db.judging.save_scores(sid, "王老师", {"思想性": 9.0, "艺术性": 7.5, "技术性": 9.0}, None)
    assert (saved.judge, saved.values, saved.comment) == ("王老师", {"思想性": 9.0, "艺术性": 7.5, "技术性": 9.0}, None)
    assert [(c.judge, c.values["思想性"]) for c in db.judging.scores()] == [("李老师", 6.0), ("王老师", 9.0)]
    assert [c.judge for c in db.judging.scores(judge="李老师")] == ["李老师"]
    events = [e for e in db.audit.events(sid) if e.kind == "scored"]
    assert [(e.actor, e.data["scores"]["思想性"], e.data.get("previous", {}).get("思想性")) for e in events] == \
        [("王老师", 8.0, None), ("李老师", 6.0, None), ("王老师", 9.0, 8.0)]
    with pytest.raises(NotFound):
        db.judging.save_scores(sid + 1, "王老师", {"思想性": 1.0}, None)


# -- the desk ----------------------------------------------------------------------------------------
HIDDEN_STRINGS = ("融水", "rongshui", "13800000002", "贾五", "融水县参赛作品", "融水.mp4", "柳南", "13800000001",
                  "张三", "鹿寨", "柳北区", "13800000012")


@pytest.fixture(scope="module")
def desk(clips, tmp_path_factory):
    """A desk under blind review: (root, port, ids, services)."""
    root = tmp_path_factory.mktemp("scoring")
    ids = make_desk(root, clips)
    add_config(root, "contest:\n  scoring:\n    blind: true\n")
    with running_desk(root) as (port, services):
        yield root, port, ids, services


def test_a_judge_scores_an_entry(desk):
    root, port, ids, services = desk
    judge = logged_in(port, "judge")
    entry = f"/entries/{ids['accepted']}"
    page = judge.get(entry).text
    assert 'id="score-form"' in page and "尚未评分" in page and 'name="score:思想性" value=""' in page
    target = entry + "/score"
    assert judge.post(target, {"score:思想性": "8", "score:艺术性": "7", "score:技术性": "9"}).status == 403  # no token
    refused = judge.post(target, score_form(judge, ids["accepted"], 思想性="8", 艺术性="12", 技术性="9"))
    assert refused.status == 400 and "“艺术性”的分数 12 超出范围：应为 0 到 10 分。" in refused.text
    assert 'name="score:艺术性" value="12"' in refused.text      # what was typed stays in the form
    missing = judge.post(target, score_form(judge, ids["accepted"], 思想性="8"))
    assert missing.status == 400 and "请为每个评分项打分：缺少“艺术性”“技术性”。" in missing.text
    assert services.db.judging.scores() == []
    saved = judge.post(target, score_form(judge, ids["accepted"], 思想性="8", 艺术性="7", 技术性="9", comment="画面清晰"))
    assert (saved.status, saved.headers["location"]) == (303, f"{entry}?done=score")
    page = judge.get(f"{entry}?done=score").text
    assert "已保存评分。" in page and "我的总分：8（已保存）" in page and 'name="score:艺术性" value="7"' in page
    assert ">画面清晰</textarea>" in page
    assert re.search(r'<tr data-kind="scored"><td>[^<]+</td><td>judge</td><td>评分</td><td>思想性 8；艺术性 7；技术性 9；'
                     r'评语：画面清晰</td>', page), page
    # a second save replaces the first
    judge.post(target, score_form(judge, ids["accepted"], 思想性="9", 艺术性="7", 技术性="9"))
    [own] = services.db.judging.scores(judge="judge")
    assert (own.values, own.comment) == ({"思想性": 9.0, "艺术性": 7.0, "技术性": 9.0}, None)
    # the overview counts it; the rejected WebM is not to be scored
    row = re.search(r'<tr data-judge="judge"><td>judge</td><td class="progress">([^<]+)</td>', judge.get("/").text)
    assert row.group(1) == "1 / 3"
    rows = judge.get("/list").text
    # while scoring is open (contest.scoring.reveal: closed) the judge's list holds the judge's own total, no rank
    assert re.search(rf'<tr data-id="{ids["accepted"]}"[^>]*>(?:(?!</tr>).)*<td data-sort="8.4" class="score">8.4</td>\s*'
                     r'<td class="problems">', rows, re.S) and 'class="rank"' not in rows
    admin = logged_in(port, "admin")
    assert admin.post("/scoring", {"csrf": admin.csrf(), "do": "close"}).status == 303
    try:
        rows = judge.get("/list").text
        assert re.search(rf'<tr data-id="{ids["accepted"]}"[^>]*>(?:(?!</tr>).)*<td data-sort="8.4" class="score">8.4</td>\s*'
                         r'<td data-sort="1" class="rank">1</td>', rows, re.S)
    finally:
        admin.post("/scoring", {"csrf": admin.csrf(), "do": "reopen"})
    not_scored = judge.post(f"/entries/{ids['rejected']}/score",
                            score_form(judge, ids["rejected"], 思想性="8", 艺术性="7", 技术性="9"))
    assert not_scored.status == 400 and f"作品 #{ids['rejected']} 的检查结果为不合格，不参加评分。" in not_scored.text


def test_clerks_do_not_score_and_admins_see_every_judge(desk):
    root, port, ids, services = desk
    clerk = logged_in(port, "clerk")
    entry = f"/entries/{ids['mail']}"
    assert 'id="score-form"' not in clerk.get(entry).text
    refused = clerk.post(entry + "/score", score_form(clerk, ids["mail"], 思想性="8", 艺术性="7", 技术性="9"))
    assert refused.status == 403 and "登记员账号不能进行此操作。" in refused.text
    admin = logged_in(port, "admin")
    assert admin.post(entry + "/score", score_form(admin, ids["mail"], 思想性="6", 艺术性="6", 技术性="6",
                                                   comment="=HYPERLINK(\"http://x\")")).status == 303
    judge = logged_in(port, "judge")
    judge.post(entry + "/score", score_form(judge, ids["mail"], 思想性="9", 艺术性="9", 技术性="9"))
    page = admin.get(entry).text
    assert "作品得分：7.5（平均分），排名第" in page
    assert re.search(r"<tr><td>admin</td><td>6</td><td>6</td><td>6</td><td>6</td>", page)
    assert re.search(r"<tr><td>judge</td><td>9</td><td>9</td><td>9</td><td>9</td>", page)
    seen = judge.get(entry).text                              # a judge sees only their own scores
    assert 'id="judges"' not in seen and "（其他评委的评分不公开）" in seen and "HYPERLINK" not in seen
    assert 'data-judge="admin"' in admin.get("/").text        # an admin who scored is counted as a judge


def test_blind_review_hides_who_sent_it_on_every_route(desk):
    root, port, ids, services = desk
    admin, clerk, judge = logged_in(port, "admin"), logged_in(port, "clerk"), logged_in(port, "judge")
    # text that names the unit elsewhere: a decision note, and an edit whose old value the history keeps
    admin.post(f"/entries/{ids['mail']}/decide", {"csrf": admin.csrf(), "decision": "pending", "note": "融水的片子"})
    clerk.post(f"/entries/{ids['mail']}/edit", {"csrf": clerk.csrf(), "contact": "贾五", "phone": "13800000012"})
    clerk.post(f"/entries/{ids['mail']}/edit", {"csrf": clerk.csrf(), "contact": "贾五", "phone": "13800000002"})
    file_ids = [f.id for sid in ids.values() for f in services.db.submissions.get(sid).files]
    answers = {}
    for route in create_app(services.config, services).routes:
        if route.path.startswith(("/login", "/static")) or "GET" not in getattr(route, "methods", {"GET"}):
            continue
        if "{submission_id" in route.path:
            paths = [re.sub(r"\{[^}]+\}", str(sid), route.path) for sid in ids.values()]
        elif "{file_id" in route.path:
            paths = [re.sub(r"\{[^}]+\}", str(fid), route.path) for fid in file_ids]
        else:
            paths = [route.path, route.path + "?after=0"]
        for path in paths:
            reply = judge.get(path)
            assert reply.status in (200, 403, 404), (path, reply.status)
            readable = reply.headers["content-type"].startswith(("text/", "application/json"))
            answers[path] = unquote(str(reply.headers)) + (reply.text if readable else "")
    refused = judge.post(f"/entries/{ids['mail']}/score", score_form(judge, ids["mail"], 思想性="x"))
    answers["score refused"] = refused.text
    assert {"/", "/list", "/api/submissions", "/api/overview?after=0", f"/entries/{ids['mail']}",
            f"/files/{file_ids[1]}/download"} <= set(answers)
    for path, text in answers.items():
        for secret in HIDDEN_STRINGS:
            assert secret not in text, (path, secret)
    assert "匿名评审：各单位报送情况不向评委显示。" in answers["/"]
    assert f"作品{ids['mail']}-1.mp4" in answers[f"/files/{file_ids[1]}/download"]
    api = judge.get("/api/submissions").json()
    assert {v["unit"] for v in api} == {HIDDEN} and all(v["blind"] for v in api)
    # admins and clerks see everything
    assert admin.get("/api/submissions").json() == listing(root)
    for client in (admin, clerk):
        page = client.get(f"/entries/{ids['mail']}").text
        assert "rongshui@163.com" in page and "融水县参赛作品" in page and "融水.mp4" in page


# -- intake scores ------------------------------------------------------------------------------------
def test_scores_sheet_as_csv_and_xlsx(desk, tmp_path):
    root, port, ids, services = desk
    # Every score the sheet shows is saved here (a save replaces the judge's own), so that the test stands alone
    # whichever of this module's tests ran before it on the same desk.
    sheet = [("judge", "xss", ("8", "7", "9"), "-1+2"), ("admin", "xss", ("6", "6", "6"), "-1+2"),
             ("judge", "accepted", ("9", "7", "9"), None), ("judge", "mail", ("9", "9", "9"), None),
             ("admin", "mail", ("6", "6", "6"), "=HYPERLINK(\"http://x\")")]
    for judge, entry, marks, comment in sheet:
        client = logged_in(port, judge)
        assert client.post(f"/entries/{ids[entry]}/score", score_form(
            client, ids[entry], 思想性=marks[0], 艺术性=marks[1], 技术性=marks[2], comment=comment)).status == 303
    out = run("scores", cwd=root)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout.lstrip("\ufeff"))))
    assert rows[0] == ["名次", "作品编号", "参赛单位", "作品名", "admin·思想性", "admin·艺术性", "admin·技术性", "admin·总分",
                       "admin·评语", "judge·思想性", "judge·艺术性", "judge·技术性", "judge·总分", "judge·评语",
                       "计入的评委数", "作品得分（满分 10）", "计分方法"]
    by_id = {row[1]: row for row in rows[1:]}
    assert set(by_id) == {str(ids[k]) for k in ("accepted", "mail", "xss")}    # the rejected WebM is not listed
    assert by_id[str(ids["xss"])][3] == '<img src=x onerror="window.pwned=2">'
    assert by_id[str(ids["xss"])][4:] == ["6.0", "6.0", "6.0", "6.0", "'-1+2", "8.0", "7.0", "9.0", "8.0", "'-1+2",
                                          "2", "7.0", "平均分"]
    assert by_id[str(ids["mail"])][8] == "'=HYPERLINK(\"http://x\")"
    assert [(row[0], row[1], row[-2]) for row in rows[1:]] == \
        [("1", str(ids["accepted"]), "8.4"), ("2", str(ids["mail"]), "7.5"), ("3", str(ids["xss"]), "7.0")]
    refused = run("scores", "--format", "xlsx", cwd=root)
    assert (refused.returncode, refused.stderr) == (2, "错误：xlsx 格式不能输出到屏幕，请用 --output 指定文件。\n")
    made = run("scores", "--format", "xlsx", "--output", tmp_path / "评分表.xlsx", cwd=root)
    assert made.returncode == 0 and made.stdout.startswith("已生成评分表（3 件作品）：")
    sheet = load_workbook(tmp_path / "评分表.xlsx").active
    assert sheet["A1"].value.startswith("“寻找最美保密法治代言人”评分表：每项 0–10 分；评委总分 = Σ（权重 × 分数）÷ 权重之和")
    assert [c.value for c in sheet[2]][:5] == ["名次", "作品编号", "参赛单位", "作品名", "admin·思想性"]
    xss_row = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[1] == ids["xss"])
    assert xss_row[8] == "-1+2" and xss_row[-3:] == (2, 7.0, "平均分")
