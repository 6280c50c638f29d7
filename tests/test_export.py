"""报送: every shortlisted work accounted for, 汇总表.xlsx read back, and a folder that only ever loses the files an
earlier export wrote (its manifest read as hostile input)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.errors import StorageError
from core.numbers import size_mb
from intake.config import load_config
from intake.pipeline.contact_info import normalise_phone
from intake.report.export import export_shortlist
from intake.pipeline.stages import process
from intake.pipeline.services import open_database, open_services
from intake.pipeline.task import MediaTask, Source, SubmissionTask
from intake.pipeline.views import submission_views
from storage.filestore import FileStore
from storage.records import CheckRow, FileRecord, SubmissionRecord
from tests import media
from tests.cli import listing, run
from tests.conftest import NO_REMUX
from tests.desks import distinct

MANIFEST = ".intake-export.json"


def record(services, paths: list[Path], unit: str, phone: str, title: str) -> str:
    task = SubmissionTask(source=Source.CLI, received_at=datetime.now(timezone.utc), unit=unit, contact="联系人",
                          phone=normalise_phone(phone), title=title,
                          files=[MediaTask(source_path=p, original_name=p.name) for p in paths])
    process(task, services)
    return task.outcome.value


@pytest.fixture(scope="module")
def template(clips, tmp_path_factory) -> Path:
    """Seven works, recorded once: three that passed (one portrait, one of 1分59秒), a rejected .mov, a work whose
    only file was never stored, a work with a good video beside a text file, and one with no file at all."""
    root = tmp_path_factory.mktemp("export")
    (root / "config.yaml").write_text(NO_REMUX, encoding="utf-8")
    files = root / "files"
    files.mkdir()
    portrait = media.clip(files / "竖屏.mp4", 3, size="120x160", rate=10)
    with contextlib.chdir(root):
        services = open_services(load_config(root / "config.yaml"))
        outcomes = [
            record(services, [distinct(clips, files, "柳南.mp4", "e1")], "柳南区", "0772-2612345", "守护秘密"),
            record(services, [portrait], "融水县", "13800000002", "竖着拍"),
            record(services, [clips["s119"]], "鹿寨县", "13800000003", "一分五十九秒"),
            record(services, [clips["mov"]], "柳江区", "13800000004", "格式不对"),
        ]
        services.db.submissions.add(SubmissionRecord(
            source="cli", received_at=datetime.now(timezone.utc), outcome="rejected", unit="柳城县", title="太大了",
            checks=(CheckRow("size", "fail", "too_large", "文件超过 300 MB。"),),
            files=(FileRecord(original_name="大文件.mp4", size_bytes=400 * 1024 * 1024, outcome="rejected"),)))
        outcomes.append(record(services, [distinct(clips, files, "城中.mp4", "e6"), clips["text"]], "城中区",
                               "13800000006", "带说明"))
        services.db.submissions.add(SubmissionRecord(
            source="cli", received_at=datetime.now(timezone.utc), outcome="rejected", unit="柳北区", title="咨询邮件",
            checks=(CheckRow("files", "fail", "no_video", "没有视频文件。"),)))
    assert outcomes == ["accepted", "accepted", "accepted", "rejected", "rejected"], outcomes
    return root


@pytest.fixture
def desk(template, workdir) -> Path:
    shutil.copytree(template, workdir, dirs_exist_ok=True)
    return workdir


def shortlist(*numbers: str, force: bool = False) -> None:
    for number in numbers:
        out = run("decide", number, "--shortlist", *(["--force"] if force else []))
        assert out.returncode == 0, out.stderr


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored(desk: Path, submission_id: int, position: int = 0) -> Path:
    sha = next(s for s in listing(desk) if s["id"] == submission_id)["files"][position]["sha256"]
    return desk / "data" / "store" / FileStore.relative_path_for(sha)


def test_export_accounts_for_every_shortlisted_work(desk):
    from openpyxl import load_workbook

    shortlist("1", "2", "3")
    shortlist("4", "5", "6", "7", force=True)
    out = run("export", "报送")
    folder = (desk / "报送").resolve()
    assert out.returncode == 3, out.stderr
    assert out.stdout == (
        f"导出目录：{folder}\n"
        "  #1 柳南区《守护秘密》\n"
        "     ✓ 柳南.mp4 → 01_柳南区_守护秘密.mp4\n"
        "  #2 融水苗族自治县《竖着拍》\n"
        "     ✓ 竖屏.mp4 → 02_融水苗族自治县_竖着拍.mp4\n"
        "  #3 鹿寨县《一分五十九秒》\n"
        "     ✓ s119.mp4 → 03_鹿寨县_一分五十九秒.mp4\n"
        "  #4 柳江区《格式不对》\n"
        "     ⚠ 强制入围：检查结果是不合格（文件格式）\n"
        "     ✓ mov.mp4 → 04_柳江区_格式不对.mov（检查不合格，评审已强制入围）\n"
        "  #5 柳城县《太大了》：未导出\n"
        "     ⚠ 强制入围：检查结果是不合格（文件大小）\n"
        "     ✗ 大文件.mp4：没有保存文件（超过大小上限或未能下载）\n"
        "  #6 城中区《带说明》\n"
        "     ⚠ 全片扫描未完成：有画面未能查看，请人工观看\n"   # text.mp4 is no video: its picture is unseen
        "     ⚠ 强制入围：检查结果是不合格（文件格式）\n"
        "     ✓ 城中.mp4 → 05_城中区_带说明.mp4\n"
        "     ✗ text.mp4：文件检查不合格\n"
        "  #7 柳北区《咨询邮件》：未导出\n"
        "     ⚠ 强制入围：检查结果是不合格（视频文件）\n"
        "     ✗ 这件作品没有文件\n"
        f"已导出 5 个文件和汇总表：{folder / '汇总表.xlsx'}\n"
        "注意：2 件入围作品未能完整导出（#5、#7），原因见上。\n")
    videos = sorted(p.name for p in folder.glob("0*"))
    assert videos == ["01_柳南区_守护秘密.mp4", "02_融水苗族自治县_竖着拍.mp4", "03_鹿寨县_一分五十九秒.mp4",
                      "04_柳江区_格式不对.mov", "05_城中区_带说明.mp4"]

    book = load_workbook(folder / "汇总表.xlsx")
    sheet = book.active
    title = sheet["A1"].value
    assert re.fullmatch(r"“寻找最美保密法治代言人”微视频报送作品汇总表（导出时间：\d{4}-\d\d-\d\d \d\d:\d\d，北京时间）", title)
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:N1"]
    header = [c.value for c in sheet[2]]
    assert header == ["序号", "单位", "作品名", "代言人", "主题", "联系人", "联系电话", "时长", "大小（MB）", "分辨率",
                      "文件名", "SHA-256", "涉密提醒", "备注"]
    rows = {row[10].value: row for row in sheet.iter_rows(min_row=3)}
    assert list(rows) == videos
    first = rows["01_柳南区_守护秘密.mp4"]
    assert [c.value for c in first[:8]] == [1, "柳南区", "守护秘密", "小测", "保密法", "联系人", "0772-2612345", "10秒"]
    phone, size = first[6], first[8]
    assert (phone.data_type, phone.number_format) == ("s", "@")
    assert isinstance(size.value, float) and size.number_format == "0.0"
    assert size.value == size_mb((folder / videos[0]).stat().st_size)
    assert first[9].value == "160×120" and first[11].value == sha256(folder / videos[0])
    assert rows["02_融水苗族自治县_竖着拍.mp4"][9].value == "120×160 竖屏"
    assert rows["03_鹿寨县_一分五十九秒.mp4"][7].value == "1分59秒"
    assert rows["05_城中区_带说明.mp4"][0].value == 5
    assert first[12].value is None and first[13].value is None   # nothing flagged, nothing forced
    assert rows["04_柳江区_格式不对.mov"][13].value == "强制入围：检查结果是不合格（文件格式）"
    assert rows["05_城中区_带说明.mp4"][12].value == "全片扫描未完成：有画面未能查看，请人工观看"

    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == \
        {p.name: sha256(p) for p in folder.iterdir() if p.name != MANIFEST}
    from intake.config import load_config as config_of

    [event] = [e for e in open_database(config_of(None)).audit.events() if e.kind == "exported"]
    assert event.data["files"] == videos
    assert event.data["not_exported"] == [{"id": 5, "files": [{"name": "大文件.mp4", "reason": "not_stored"}]},
                                          {"id": 6, "files": [{"name": "text.mp4", "reason": "rejected"}]},
                                          {"id": 7, "files": []}]
    assert event.data["forced"] == ["04_柳江区_格式不对.mov"]


def test_a_shortlist_of_a_rejected_work_without_force_is_reported_not_dropped(desk):
    from intake.config import load_config as config_of

    # An older version took this decision silently; the export must still say what became of the work.
    open_database(config_of(None)).judging.record_decision(4, "shortlist", None, "旧版本")
    shortlist("1")
    out = run("export", "报送")
    assert out.returncode == 3
    assert "  #4 柳江区《格式不对》：未导出\n     ✗ mov.mp4：文件检查不合格\n" in out.stdout
    assert sorted(p.name for p in (desk / "报送").glob("*.mp4")) == ["01_柳南区_守护秘密.mp4"]


def test_title_row_names_the_contest_and_the_time_in_beijing(desk):
    from openpyxl import load_workbook

    shortlist("1")
    views = submission_views(open_database(load_config(None)))
    result = export_shortlist(views, FileStore(desk / "data" / "store"), desk / "out", contest_name="柳州市保密微视频征集",
                              now=datetime(2024, 4, 10, 7, 30, tzinfo=timezone.utc))
    assert load_workbook(result.summary).active["A1"].value == \
        "“柳州市保密微视频征集”微视频报送作品汇总表（导出时间：2024-04-10 15:30，北京时间）"
    assert json.loads(result.manifest.read_text(encoding="utf-8"))["exported_at"] == "2024-04-10T15:30:00+08:00"


def test_contest_name_comes_from_the_config(desk):
    from openpyxl import load_workbook

    config = desk / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("contest:\n", "contest:\n  name: 2024年柳州市保密宣传\n"),
                      encoding="utf-8")
    shortlist("1")
    assert run("export", "out").returncode == 0
    assert load_workbook(desk / "out" / "汇总表.xlsx").active["A1"].value.startswith("“2024年柳州市保密宣传”")
    assert run("report", "-o", "r.html").returncode == 0
    assert "<h1>“2024年柳州市保密宣传”微视频作品初步筛选报告</h1>" in (desk / "r.html").read_text(encoding="utf-8")


def test_files_missing_or_damaged_in_the_store_are_named(desk):
    shortlist("1", "2", "3")
    stored(desk, 1).unlink()
    damaged = stored(desk, 2)
    damaged.write_bytes(b"\0" * damaged.stat().st_size)          # same size: found while copying
    with stored(desk, 3).open("ab") as fh:                        # another size: found before
        fh.write(b"x")
    out = run("export", "报送")
    assert out.returncode == 3
    assert out.stdout.splitlines()[1:8] == [
        "  #1 柳南区《守护秘密》：未导出",
        "     ✗ 柳南.mp4：文件库中找不到这个文件",
        "  #2 融水苗族自治县《竖着拍》：未导出",
        "     ✗ 竖屏.mp4：文件库中的文件与登记时不一致（SHA-256 不符），可能已损坏",
        "  #3 鹿寨县《一分五十九秒》：未导出",
        "     ✗ s119.mp4：文件库中的文件与登记时不一致（SHA-256 不符），可能已损坏",
        f"已导出 0 个文件和汇总表：{(desk / '报送' / '汇总表.xlsx').resolve()}",
    ]
    assert out.stdout.endswith("注意：3 件入围作品未能完整导出（#1、#2、#3），原因见上。\n")
    assert sorted(p.name for p in (desk / "报送").iterdir()) == [MANIFEST, "汇总表.xlsx"]   # no .part left


def test_a_folder_with_files_in_it_is_refused(desk):
    shortlist("1")
    folder = desk / "报送"
    folder.mkdir()
    (folder / "旧.mp4").write_bytes(b"old")
    out = run("export", "报送")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == ("错误：导出目录 报送 不是空的（有 1 个文件或文件夹），为免把旧文件混进报送材料，没有导出。\n"
                          "提示：请换一个空目录；要替换上次导出到这里的文件，请加 --replace"
                          "（只删除上次导出清单中列出且未被改动的文件，其他文件保留）。\n")
    assert [p.name for p in folder.iterdir()] == ["旧.mp4"]
    not_a_folder = run("export", "报送/旧.mp4")
    assert (not_a_folder.returncode, not_a_folder.stderr) == (
        2, "错误：报送/旧.mp4 不是目录，不能导出到这里。\n提示：请指定一个空目录（不存在时会自动创建）。\n")


def test_replace_removes_only_what_the_earlier_export_wrote(desk):
    shortlist("1", "2")
    assert run("export", "报送").returncode == 0
    folder = desk / "报送"
    assert run("decide", "2", "--reject").returncode == 0          # taken off the shortlist
    (folder / "说明.docx").write_bytes(b"a note someone added")
    out = run("export", "报送", "--replace")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1] == "已删除上次导出的 3 个文件。"
    assert "注意：目录中另有 1 个文件或文件夹不是上次导出写入的（或导出后被改动过），已保留：说明.docx\n" in out.stdout
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "01_柳南区_守护秘密.mp4", "汇总表.xlsx", "说明.docx"]
    listed = [f["name"] for f in json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]]
    assert listed == ["01_柳南区_守护秘密.mp4", "汇总表.xlsx"]

    # A file changed since the export is not the export's any more: kept, and the export refuses to overwrite it.
    changed = folder / "01_柳南区_守护秘密.mp4"
    with changed.open("ab") as fh:
        fh.write(b"edited")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    clash = run("export", "报送", "--replace")
    assert (clash.returncode, clash.stdout) == (2, "")
    assert clash.stderr == ("错误：导出目录中已有同名的 01_柳南区_守护秘密.mp4，它们不是上次导出写入的（或导出后被改动过），"
                            "为免误删没有导出。\n提示：请把它们移走，或换一个空目录。\n")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_replace_without_a_manifest_deletes_nothing(desk):
    shortlist("1")
    folder = desk / "报送"
    folder.mkdir()
    (folder / "上次的.mp4").write_bytes(b"from an older version")
    out = run("export", "报送", "--replace")
    assert out.returncode == 0
    assert "注意：目录中没有上次导出的清单（.intake-export.json），没有删除任何文件。\n" in out.stdout
    assert (folder / "上次的.mp4").read_bytes() == b"from an older version"


def test_a_hostile_manifest_cannot_reach_outside_the_folder_or_through_a_link(desk):
    shortlist("1")
    folder = desk / "报送"
    (folder / "sub").mkdir(parents=True)
    outside = desk / "outside.mp4"
    outside.write_bytes(b"precious")
    (folder / "sub" / "inner.mp4").write_bytes(b"precious")
    (folder / "link.mp4").symlink_to(outside)
    (folder / "目录").mkdir()
    digest = hashlib.sha256(b"precious").hexdigest()
    names = ["../outside.mp4", str(outside), "sub/inner.mp4", "sub\\inner.mp4", "..", ".", "", "link.mp4", "目录",
             "sub", MANIFEST, 42, None]
    (folder / MANIFEST).write_text(json.dumps({"files": [{"name": n, "sha256": digest} for n in names]
                                              + ["junk", {"name": "x"}]}), encoding="utf-8")
    out = run("export", "报送", "--replace")
    assert out.returncode == 0, out.stderr
    assert "已保留：link.mp4、sub、目录\n" in out.stdout and "已删除" not in out.stdout
    assert outside.read_bytes() == b"precious" and (folder / "sub" / "inner.mp4").read_bytes() == b"precious"
    assert (folder / "link.mp4").is_symlink() and (folder / "目录").is_dir()


def test_a_manifest_that_is_a_symlink_is_not_followed(desk):
    shortlist("1")
    folder = desk / "报送"
    folder.mkdir()
    victim = folder / "别人的.mp4"
    victim.write_bytes(b"keep me")
    elsewhere = desk / "forged.json"
    elsewhere.write_text(json.dumps({"files": [{"name": victim.name, "sha256": sha256(victim)}]}), encoding="utf-8")
    (folder / MANIFEST).symlink_to(elsewhere)
    out = run("export", "报送", "--replace")
    assert out.returncode == 2
    assert out.stderr.startswith(f"错误：导出目录中已有同名的 {MANIFEST}，")
    assert victim.read_bytes() == b"keep me" and (folder / MANIFEST).is_symlink()
    assert elsewhere.read_text(encoding="utf-8").startswith('{"files"')
    assert sorted(os.listdir(folder)) == sorted([victim.name, MANIFEST])


def test_the_intake_s_own_folders_are_never_an_export_target(desk):
    """Exported into the inbox, the package would be recorded as new works and moved away; into the store,
    mixed with the evidence."""
    shortlist("1")
    (desk / "inbox").mkdir(exist_ok=True)
    (desk / "U盘").symlink_to(desk / "data" / "store")
    for target, what in (("inbox", "投递文件夹"), ("inbox/报送", "投递文件夹"), ("U盘", "文件库"), ("data", "数据目录")):
        out = run("export", target, "--replace")
        assert (out.returncode, out.stdout) == (2, ""), target
        assert out.stderr.startswith(f"错误：{target} 位于{what}（"), out.stderr
        assert "导出的文件会被当作新作品登记或混入存档" in out.stderr
    assert list((desk / "inbox").iterdir()) == []


def test_a_manifest_nested_without_end_is_unreadable_not_a_crash(desk):
    shortlist("1")
    folder = desk / "报送"
    folder.mkdir()
    (folder / MANIFEST).write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    out = run("export", "报送", "--replace")
    assert out.returncode == 0, out.stderr
    assert "已导出 1 个文件和汇总表" in out.stdout and "已删除" not in out.stdout
    assert len(json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]) == 2   # a fresh, sound one


def test_an_export_that_fails_midway_can_be_replaced_next_time(desk, monkeypatch):
    import intake.report.export as export_module

    shortlist("1", "2")
    real_copy = export_module._copy_verified
    copies = []

    def disk_full_on_the_second(store, item, folder):
        copies.append(item.name)
        if len(copies) == 2:
            raise StorageError(f"导出 {item.name} 时出错：No space left on device", "请检查导出目录的剩余空间和写入权限。")
        return real_copy(store, item, folder)

    monkeypatch.setattr(export_module, "_copy_verified", disk_full_on_the_second)
    failed = run("export", "报送")
    assert failed.returncode == 1 and "No space left on device" in failed.stderr
    folder = desk / "报送"
    assert [f["name"] for f in json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]] == [copies[0]]
    monkeypatch.setattr(export_module, "_copy_verified", real_copy)
    again = run("export", "报送", "--replace")
    assert again.returncode == 0, again.stderr
    assert "已删除上次导出的 1 个文件。" in again.stdout and "已保留" not in again.stdout
