"""``intake edit``: a reviewer's correction, audited, with the unit matched again and the quota asked again."""

from __future__ import annotations

from pathlib import Path

from tests.cli import checks, ingest, listing, run
from tests.configs import services_of
from tests.mailboxes import record_mail


def events_of(workdir: Path, submission_id: int):
    return services_of(workdir).db.audit.events(submission_id)


def test_a_new_unit_is_matched_audited_and_frees_the_quota_it_took(works, workdir, backend):
    ingest(works[0], "柳南区", codes=(0, 3))
    ingest(works[1], "柳南区委保密办", contact="李四", codes=(0, 3))
    assert [c[1] for c in checks(listing()[1], "quota")] == ["over_quota"]

    out = run("edit", "#1", "--unit", "柳北区委保密办", "--phone", "138 0013 8001", "--note", "单位填错了",
              "--reviewer", "王审")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "已修改作品 #1：\n"
        "  联系电话：13800138000 → 13800138001\n"
        "  参赛单位：柳南区 → 柳北区\n"
        "  参赛单位（原文）：柳南区 → 柳北区委保密办\n"
        "结果：通过（结果未变）\n"
        "     ✓ [报送信息] 参赛单位：柳北区委保密办，联系人：张三，电话：13800138001。\n"
        "     ✓ [参赛单位] 参赛单位：柳北区（报送时写作“柳北区委保密办”）。\n"
        "     ✓ [名额] 柳北区的第 1 件作品，未超过名额。\n"
        "作品 #2 的名额随之重新核对：待复核 → 通过\n"
        "     ✓ [名额] 柳南区的第 1 件作品，未超过名额。\n")

    first, second = listing()
    assert (first["unit"], first["unit_raw"], first["phone"]) == ("柳北区", "柳北区委保密办", "13800138001")
    assert first["check_run"] == 2 and first["outcome"] == "accepted"
    assert checks(first, "unit") == [("pass", "ok", "参赛单位：柳北区（报送时写作“柳北区委保密办”）。")]
    assert len(checks(first, "quota")) == 1 and len(checks(first, "size")) == 1   # the latest run only
    assert checks(second, "quota") == [("pass", "ok", "柳南区的第 1 件作品，未超过名额。")]
    assert (second["outcome"], second["check_run"]) == ("accepted", 2)

    edited = events_of(workdir, 1)[-1]
    assert (edited.kind, edited.actor) == ("edited", "王审")
    assert edited.data["note"] == "单位填错了"
    assert edited.data["changes"] == {"phone": {"old": "13800138000", "new": "13800138001"},
                                      "unit": {"old": "柳南区", "new": "柳北区"},
                                      "unit_raw": {"old": "柳南区", "new": "柳北区委保密办"}}
    assert edited.data["outcome"] == {"old": "accepted", "new": "accepted"} and edited.data["run"] == 2
    followed = events_of(workdir, 2)[-1]
    assert (followed.kind, followed.data["cause"], followed.data["asked"]) == ("rechecked", 1, ["quota"])
    assert followed.data["outcome"] == {"old": "needs_review", "new": "accepted"}


def test_values_are_cleaned_a_cleared_contact_is_checked_and_the_title_needs_no_new_run(works, workdir):
    ingest(works[0], "柳江区", codes=(0, 3))
    out = run("edit", "1", "--title", "守护\x1b[31m秘密\n下集", "--speaker", " 小测 ")
    assert out.returncode == 0, out.stderr
    [sub] = listing()
    assert (sub["title"], sub["speaker"], sub["check_run"]) == ("守护[31m秘密 下集", "小测", 1)
    assert events_of(workdir, 1)[-1].data["changes"]["title"] == {"old": "一", "new": "守护[31m秘密 下集"}

    again = run("edit", "1", "--title", "守护[31m秘密 下集")
    assert (again.returncode, again.stdout) == (0, "作品 #1 的信息与指定的相同，没有修改。\n")
    assert [e.kind for e in events_of(workdir, 1)] == ["recorded", "edited"]

    cleared = run("edit", "1", "--contact", "")
    assert cleared.returncode == 0, cleared.stderr
    assert "  联系人：张三 → （空）\n结果：通过 → 待复核\n" in cleared.stdout
    [sub] = listing()
    assert sub["contact"] is None and sub["outcome"] == "needs_review"
    assert checks(sub, "contact_info") == [("warn", "missing", "缺少联系人。请联系报送单位补充，或在投递时一并注明。")]


def test_an_edit_needs_a_field_and_a_known_number(workdir):
    for args in (["edit", "1"], ["edit", "1", "--note", "只有备注"]):
        out = run(*args)
        assert (out.returncode, out.stderr) == (
            2, "错误：请至少指定一项要修改的内容：--unit、--contact、--phone、--title、--speaker 或 --topic。\n")
    missing = run("edit", "#9", "--title", "新名字")
    assert (missing.returncode, missing.stderr) == (2, "错误：找不到编号为 9 的作品。\n提示：请用 intake list 查看作品编号。\n")
    bad = run("edit", "九", "--title", "新名字")
    assert bad.returncode == 2 and "“九”不是作品编号" in bad.stderr


def test_values_are_bounded_a_phone_must_be_one_and_bidi_controls_go(workdir):
    record_mail(workdir, "柳江区")   # a mail without a video: no media needed
    long_phone = run("edit", "1", "--phone", "1" * 10_000)
    assert (long_phone.returncode, long_phone.stderr) == (2, "错误：联系电话太长：10000 个字，最多 50 个字。\n")
    not_phone = run("edit", "1", "--phone", "请打办公室电话")
    assert (not_phone.returncode, not_phone.stderr) == (
        2, "错误：“请打办公室电话”不是电话号码。\n"
           "提示：请填写手机号（如 13800138000）或座机号（如 0772-2612345）；要清除电话，请用 --phone \"\"。\n")
    long_title = run("edit", "1", "--title", "长" * 501)
    assert (long_title.returncode, long_title.stderr) == (2, "错误：作品名太长：501 个字，最多 500 个字。\n")
    assert run("edit", "1", "--unit", "柳" * 201).returncode == 2
    assert run("edit", "1", "--contact", "张" * 101).returncode == 2
    assert [e.kind for e in events_of(workdir, 1)] == ["recorded"]   # nothing refused was stored

    out = run("edit", "1", "--title", "守护\u202e4pm.exe", "--contact", "\u2067李四\u2069", "--phone", "0772 2612345")
    assert out.returncode == 0, out.stderr
    [sub] = listing()
    assert (sub["title"], sub["contact"], sub["phone"]) == ("守护4pm.exe", "李四", "0772-2612345")
    assert run("edit", "1", "--phone", "").returncode == 0 and listing()[0]["phone"] is None
