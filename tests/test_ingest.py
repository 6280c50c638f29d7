"""`intake ingest` and `intake list`: the pipeline records submissions and stores each content once."""

from __future__ import annotations

import json
from pathlib import Path

from intake.config import load_config
from intake.pipeline.services import open_database
from tests.configs import add_config
from tests.cli import listing, run
from tests.conftest import OPEN_CONTEST


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "data" / "store").rglob("*") if p.is_file())


def test_ingest_twice_stores_once_and_warns_duplicate(clips, workdir, backend):
    first = run("ingest", str(clips["valid"]), "--unit", "柳南区", "--contact", "张三", "--phone", "0772-2801234")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "已登记作品 #1：通过"
    second = run("ingest", str(clips["valid"]), "--unit", "鱼峰区", "--contact", "李四", "--phone", "13800001111")
    assert second.returncode == 3, second.stderr   # needs_review, like validate
    assert second.stdout.splitlines()[0] == "已登记作品 #2：待复核"
    assert "与第 1 号作品（柳南区" in second.stdout

    files = stored_files(workdir)
    assert len(files) == 1
    assert files[0].read_bytes() == clips["valid"].read_bytes()

    one, two = listing()
    assert [one["id"], two["id"]] == [1, 2]
    assert one["files"][0]["sha256"] == two["files"][0]["sha256"] == files[0].stem
    assert one["files"][0]["original_name"] == "valid.mp4"
    assert one["files"][0]["size_bytes"] == clips["valid"].stat().st_size
    assert 9.5 < one["files"][0]["duration_seconds"] < 10.5
    assert (one["unit"], one["contact"], one["phone"], one["source"]) == ("柳南区", "张三", "0772-2801234", "cli")
    assert one["received_at"].endswith("+08:00")
    dup = [c for c in two["checks"] if c["id"] == "duplicate"]
    assert dup and dup[0]["status"] == "warn" and dup[0]["code"] == "duplicate" and dup[0]["file"] == 0
    assert two["outcome"] == "needs_review"


def test_ingest_without_contact_warns(clips, workdir, backend):
    out = run("ingest", str(clips["valid"]))
    assert out.returncode == 3
    assert "待复核" in out.stdout
    assert "缺少参赛单位名称、联系人、联系电话" in out.stdout


def test_oversized_file_is_recorded_but_never_stored(clips, workdir, backend):
    out = run("ingest", str(clips["over_limit"]), "--unit", "柳北区", "--contact", "王五", "--phone", "13900002222")
    assert out.returncode == 4, out.stderr
    assert "不合格" in out.stdout
    assert stored_files(workdir) == []
    [sub] = listing()
    assert sub["outcome"] == "rejected"
    assert sub["files"][0]["sha256"] is None
    assert sub["files"][0]["size_bytes"] == clips["over_limit"].stat().st_size


def test_rejected_file_is_still_recorded_and_kept(clips, workdir, backend):
    add_config(workdir, "rules:\n  repair:\n    remux: false\n")   # today's rejection stands
    out = run("ingest", str(clips["mov"]), "--unit", "柳江区", "--contact", "赵六", "--phone", "13900003333")
    assert out.returncode == 4
    assert "文件实际是 QuickTime（.mov）视频，不是 MP4（只是扩展名写成了 .mp4）。" in out.stdout
    assert len(stored_files(workdir)) == 1
    shown = run("list")
    assert "【不合格】" in shown.stdout and "mov.mp4" in shown.stdout


def test_list_filters_by_outcome(clips, workdir, backend):
    assert run("ingest", clips["valid"], "--unit", "柳城县", "--contact", "甲", "--phone", "13900004444").returncode == 0
    assert run("ingest", clips["s126"], "--unit", "鹿寨县", "--contact", "乙", "--phone", "13900005555").returncode == 4
    rejected = json.loads(run("list", "--json", "--outcome", "rejected").stdout)
    assert [s["unit"] for s in rejected] == ["鹿寨县"]
    bad = run("list", "--outcome", "maybe")
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1] == ("错误：'--outcome' 的取值无效："
                                          "'maybe' 不是可选的值，只能是以下之一：'accepted', 'needs_review', 'rejected'。")


def test_audit_trail_records_each_submission(clips, workdir, backend):
    assert run("ingest", clips["valid"], "--unit", "融安县", "--contact", "丙", "--phone", "13900006666").returncode == 0
    db = open_database(load_config())
    events = db.audit.events()
    # The command made the database first: the audit trail keeps that too (intake migrate tells of it).
    assert [(e.kind, e.submission_id) for e in events] == [("schema_migrated", None), ("recorded", 1)]
    assert events[1].data["outcome"] == "accepted"
    assert db.schema_is_current()


def test_empty_list(workdir, backend):
    out = run("list")
    assert (out.returncode, out.stdout.strip()) == (0, "还没有登记任何作品。")


def test_an_ingest_whose_database_cannot_open_stores_and_records_nothing(clips, workdir):
    (workdir / "config.yaml").write_text(OPEN_CONTEST + "database:\n  url: nosuchdriver://x/y\n", encoding="utf-8")
    out = run("ingest", str(clips["valid"]), "--unit", "柳南区", cwd=workdir)
    assert out.returncode == 1
    assert "错误：数据库地址 nosuchdriver://x/y 无效" in out.stderr
    assert [p for p in (workdir / "data" / "store").rglob("*") if p.is_file()] == []
