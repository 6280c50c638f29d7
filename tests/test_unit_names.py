"""Unit names as people write them: two units in one name, unit folders in the inbox, and ``--unit`` filters
that understand 柳南 as 柳南区 and say which units there are when nothing matches."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from intake.config import Config, load_config
from intake.pipeline.contest_rules import UnitMatcher, check_unit
from intake.inbox.folder import kept_folder
from tests.cli import listing, run
from tests.mailboxes import record_mail

UNITS = UnitMatcher(Config().contest)


@pytest.mark.parametrize("text, how, unit, named", [
    ("柳北区、柳南区联合报送", "ambiguous", None, ("柳北区", "柳南区")),
    ("柳州市城中区柳南区", "ambiguous", None, ("城中区", "柳南区")),
    ("柳南区委保密办", "contains", "柳南区", ()),          # 柳南 inside 柳南区 is the same unit, not a second one
    ("柳北区柳北区", "contains", "柳北区", ()),
    ("融水苗族自治县保密局", "contains", "融水苗族自治县", ()),
])
def test_a_name_with_two_units_matches_neither(text, how, unit, named):
    found = UNITS.match(text)
    assert (found.how, found.unit, found.named) == (how, unit, named)


def test_two_units_warn_naming_both_with_advice():
    raw = "柳北区、柳南区联合报送"
    check = check_unit(raw, UNITS.match(raw))
    assert (check.status.value, check.code) == ("warn", "unit_ambiguous")
    assert check.message == ("单位名称“柳北区、柳南区联合报送”中有多个单位（柳北区、柳南区），未计入其中任何一个，"
                             "请核对由哪个单位报送。")
    assert check.advice == ("单位名称“柳北区、柳南区联合报送”中写了多个单位（柳北区、柳南区）。每件作品由一个单位报送，"
                            "请与主办方联系，说明由哪个单位报送。")


def test_edit_to_two_units_leaves_the_unit_unmatched(workdir):
    record_mail(workdir, "柳北区")
    out = run("edit", "1", "--unit", "柳北区、柳南区联合报送")
    assert out.returncode == 0, out.stderr
    assert ("     ! [参赛单位] 单位名称“柳北区、柳南区联合报送”中有多个单位（柳北区、柳南区），未计入其中任何一个，"
            "请核对由哪个单位报送。\n") in out.stdout
    assert "✓ [参赛单位]" not in out.stdout
    [sub] = listing()
    assert (sub["unit"], sub["unit_raw"]) == ("柳北区、柳南区联合报送", "柳北区、柳南区联合报送")
    assert [c["code"] for c in sub["checks"] if c["id"] == "unit"] == ["unit_ambiguous"]


def test_folders_that_mean_a_unit_stay(workdir):
    config = load_config()

    def kept(name: str) -> bool:
        return kept_folder(config.watch.inbox / name, SimpleNamespace(config=config), config.watch)

    assert kept("柳南") and kept("柳南区委保密办") and kept("融水县") and kept("柳南区")
    assert not kept("作品") and not kept("新建文件夹") and not kept("柳北区、柳南区")


# -- --unit filters -------------------------------------------------------------------------------

def test_list_unit_matches_through_the_unit_list(workdir):
    record_mail(workdir, "柳南区委保密办")
    record_mail(workdir, "柳北区")
    out = run("list", "--unit", "柳南")
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines() if line.startswith("#")] == ["#1"]
    assert [s["id"] for s in json.loads(run("list", "--json", "--unit", "柳南").stdout)] == [1]

    none = run("list", "--unit", "鹿寨")
    assert (none.returncode, none.stdout) == (0, "没有鹿寨县（“鹿寨”）的作品。已登记作品的单位：柳南区、柳北区。\n")
    unknown = run("list", "--unit", "柳东")
    assert unknown.returncode == 0
    assert unknown.stdout == ("应报送单位名单中没有“柳东”，也没有作品注明这个单位。名单中的单位：城中区、鱼峰区、柳南区、"
                              "柳北区、柳江区、柳城县、鹿寨县、融安县、融水苗族自治县、三江侗族自治县。"
                              "已登记作品的单位：柳南区、柳北区。\n")
    rejected = run("list", "--unit", "柳南", "--outcome", "accepted")
    assert rejected.stdout == "没有柳南区（“柳南”）的结果为“通过”的作品。已登记作品的单位：柳南区、柳北区。\n"


def test_list_units_filter_matches_through_the_unit_list(workdir):
    record_mail(workdir, "柳南区委保密办")
    out = run("list", "--units", "--unit", "柳南")
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    assert rows[1].split()[0] == "柳南区" and len(rows) == 3, out.stdout
    unknown = run("list", "--units", "--unit", "柳东")
    assert unknown.stdout == ("应报送单位名单中没有“柳东”，也没有作品注明这个单位。可查看的单位：城中区、鱼峰区、柳南区、"
                              "柳北区、柳江区、柳城县、鹿寨县、融安县、融水苗族自治县、三江侗族自治县。\n")


def test_list_prints_a_message_of_several_lines_as_indented_lines(workdir):
    body = ("从网易163邮箱发来的超大附件\n"
            "https://mail.163.com/large-attachment-download/index.html?file=A 柳南作品.mp4 (80.5M, 2099年8月17日 到期)\n"
            "https://mail.163.com/large-attachment-download/index.html?file=B 说明.docx (12K, 2099年8月17日 到期)\n")
    record_mail(workdir, "柳南区", body)
    out = run("list")
    assert out.returncode == 0, out.stderr
    assert "\\n" not in out.stdout
    lines = out.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("     ! [large_attachment_link] 邮件使用“超大附件”发送"))
    assert lines[start + 1].startswith("       1. 柳南作品.mp4（80.5 MB，2099-08-17 23:59 到期）：https://mail.163.com/")
    assert lines[start + 2].startswith("       2. 说明.docx（12 KB，2099-08-17 23:59 到期）：https://mail.163.com/")
