"""Who did what, as people read it: a decision made at the command line is recorded under a reviewer (never the
bare system user), the audit log's operators read in Chinese in the terminal, the report and the notes, and
`intake migrate` says what it did, or what an automatic upgrade did before it."""

from __future__ import annotations

import re

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from intake.config import load_config
from intake.pipeline.services import open_services
from storage.database import HEAD_REVISION, MIGRATIONS
from tests.cli import listing, run
from tests.configs import add_config


def record_one(workdir, clips) -> None:
    out = run("ingest", clips["valid"], "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000")
    assert out.returncode == 0, out.output


def test_decide_without_reviewer_records_the_configured_reviewer_or_the_account(clips, workdir):
    record_one(workdir, clips)
    add_config(workdir, "desk:\n  default_reviewer: 王老师\n")
    out = run("decide", "1", "--pending")
    assert (out.returncode, out.stdout) == (0, "作品 #1：待定（评审人：王老师）\n")
    assert listing()[0]["decision"]["reviewer"] == "王老师"

    # No default: the desk account of the user behind sudo, when there is one …
    (workdir / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\n", encoding="utf-8")
    added = run("user", "add", "liu", "--role", "reviewer", "--password-stdin", input="pass-word-1\n")
    assert added.returncode == 0, added.output
    out = run("decide", "1", "--shortlist", env={"SUDO_USER": "liu"})
    assert (out.returncode, out.stdout) == (0, "作品 #1：入围（评审人：liu）\n")

    # … else nobody named: never the system user (here root), which says nothing of which judge decided.
    out = run("decide", "1", "--reject", env={"SUDO_USER": None})
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.splitlines() == [
        "作品 #1：不予推荐（评审人：（未注明））",
        "（没有写明评审人：可加 --reviewer 名字，或在 config.yaml 中设置 desk.default_reviewer。）"]
    assert [d["reviewer"] for d in listing()[0]["decisions"]] == ["王老师", "liu", "（未注明）"]
    assert "—— （未注明）" in run("list").stdout

    out = run("decide", "1", "--pending", "--reviewer", "赵六")   # given: as given
    assert out.stdout == "作品 #1：待定（评审人：赵六）\n"


def test_operators_of_old_records_read_in_chinese(clips, workdir):
    record_one(workdir, clips)
    db = open_services(load_config(workdir / "config.yaml")).db
    db.judging.record_decision(1, "shortlist", None, "root")   # as `sudo intake decide` recorded it before
    assert "评审决定：入围 —— 系统管理员（root），" in run("list").stdout
    assert run("report", "--format", "csv", "-o", "r.csv").returncode == 0
    rows = (workdir / "r.csv").read_text(encoding="utf-8-sig").splitlines()
    header = rows[0].split(",")
    assert rows[1].split(",")[header.index("决定人")] == "系统管理员（root）"
    assert run("report", "-o", "r.html").returncode == 0
    assert "系统管理员（root）" in (workdir / "r.html").read_text(encoding="utf-8")


def test_a_command_under_sudo_is_recorded_under_the_user_behind_it(clips, workdir):
    add_config(workdir, "watch:\n  settle_seconds: 0\n")
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "守护秘密.mp4").write_bytes(clips["valid"].read_bytes())
    assert run("run", "--once").returncode == 0
    out = run("edit", "1", "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000", env={"SUDO_USER": "liu"})
    assert out.returncode == 0, out.output
    db = open_services(load_config(workdir / "config.yaml")).db
    assert [(e.kind, e.actor) for e in db.audit.events(1)] == [
        ("recorded", "folder-watcher"), ("moved", "folder-watcher"), ("edited", "liu"), ("moved", "liu")]
    [note] = (workdir / "done").rglob("*.结果.txt")
    assert "（修改信息，操作人：liu），以此为准。" in note.read_text(encoding="utf-8-sig")


def test_the_head_revision_is_alembics_own():
    """A new migration must move HEAD_REVISION too, or databases would open at the older schema unnoticed."""
    from alembic.script import ScriptDirectory

    from storage.database import alembic_config

    assert HEAD_REVISION == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_migrate_says_what_it_did_and_what_an_automatic_upgrade_did(workdir, tmp_path):
    head = HEAD_REVISION
    url = f"sqlite:///{workdir / 'data' / 'intake.db'}"
    assert run("list", env={"SUDO_USER": "liu"}).returncode == 0   # opening the database creates it
    out = run("migrate")
    assert out.returncode == 0, out.output
    first, second = out.stdout.splitlines()
    assert first == f"数据库结构已是最新版本（{head}），本次无需升级：{url}"
    assert re.fullmatch(rf"此前最近一次：\d{{4}}-\d\d-\d\d \d\d:\d\d 在其他命令启动时自动新建数据库结构（版本 {head}）"
                        r"（操作人：liu）。", second), second

    other = tmp_path / "other"
    other.mkdir()
    (other / "config.yaml").write_text("{}\n", encoding="utf-8")
    out = run("migrate", cwd=other)
    assert out.stdout == f"已新建数据库结构（版本 {head}）：sqlite:///{other / 'data' / 'intake.db'}\n"

    db = open_services(load_config(other / "config.yaml")).db
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    older = ScriptDirectory.from_config(cfg).get_revision(head).down_revision
    with db.engine.begin() as conn:   # as the release before the newest migration left it
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, older)
    out = run("migrate", cwd=other, env={"SUDO_USER": "liu"})
    assert out.stdout == f"已把数据库结构从版本 {older} 升级到版本 {head}：sqlite:///{other / 'data' / 'intake.db'}\n"
    again = run("migrate", cwd=other).stdout.splitlines()
    assert again[1].endswith(f" 由 intake migrate 把数据库结构从版本 {older} 升级到版本 {head}（操作人：liu）。"), again
