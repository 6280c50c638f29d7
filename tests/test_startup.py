"""What `intake run` says when it starts, what any command says without a config file, and the log's clock."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time

from intake.cli.context import database_text
from intake.service.logsetup import BeijingFormatter
from tests.cli import run
from tests.conftest import OPEN_CONTEST
from tests.dovecot import USER

SETTLE = "watch:\n  settle_seconds: 0.2\n"


def summary_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = lines.index("微视频作品接收已启动：")
    return lines[start + 1:lines.index("按 Ctrl-C 停止。")]


def test_summary_names_config_database_inbox_deadline_and_mailbox(workdir):
    out = run("run", "--once")
    assert out.returncode == 0, out.stderr
    assert "未找到 config.yaml" not in out.stderr   # a config file was found: no notice
    lines = summary_lines(out.stdout)
    assert lines[0] == f"  配置文件：  {workdir / 'config.yaml'}"
    assert lines[1].startswith(f"  投递文件夹：{workdir / 'inbox'}（")
    assert f"  数据库：    sqlite:///{workdir / 'data' / 'intake.db'}" in lines
    assert "  截止时间：  2099-12-31 23:59:59（北京时间）" in lines
    assert "  邮箱：      未启用（mailbox.enabled: false）" in lines
    assert lines[-1] == f"  日志文件：  {workdir / 'data' / 'logs' / 'intake.log'}"


def test_a_passed_deadline_is_warned_on_screen_and_in_the_log(workdir):
    (workdir / "config.yaml").write_text("contest:\n  deadline: 2024-04-07 23:59:59\n", encoding="utf-8")
    out = run("run", "--once")
    assert out.returncode == 0, out.stderr
    assert ("  截止时间：  2024-04-07 23:59:59（北京时间）——警告：截止时间已过，此后收到的作品都会带“截止时间”提醒"
            "（延期请修改 contest.deadline）") in summary_lines(out.stdout)
    log = (workdir / "data" / "logs" / "intake.log").read_text(encoding="utf-8")
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING intake.service.runner: 截止时间 2024-04-07 23:59 已过", log, re.M)


def test_a_missing_authorization_code_keeps_the_folder_going(workdir, clips, monkeypatch):
    monkeypatch.delenv("INTAKE_IMAP_PASSWORD", raising=False)
    (workdir / "config.yaml").write_text(
        OPEN_CONTEST + SETTLE + f"mailbox:\n  enabled: true\n  username: {USER}\n", encoding="utf-8")
    (workdir / "inbox").mkdir()
    shutil.copy(clips["valid"], workdir / "inbox" / "柳北区-张伟-13977200001-守护.mp4")
    out = run("run", "--once")
    assert out.returncode == 1   # --once ends with the mailbox's error, after the folder's pass
    assert (f"  邮箱：      {USER} 的 INBOX（服务器 imap.163.com）——暂不接收，程序会定时重试："
            "没有提供邮箱授权码：环境变量 INTAKE_IMAP_PASSWORD 为空，也没有设置 mailbox.password_file。") \
        in summary_lines(out.stdout)
    assert "[通过] 作品 #1：柳北区-张伟-13977200001-守护.mp4 → " in out.stdout
    assert "错误：没有提供邮箱授权码" in out.stderr
    status = json.loads((workdir / "data" / "status" / "mailbox.json").read_text(encoding="utf-8"))
    assert status["failures_in_a_row"] == 1 and "没有提供邮箱授权码" in status["last_error"]
    assert status["last_failure"].endswith("+08:00")


def test_mailbox_on_names_account_host_and_folder(mailbox, dovecot):
    out = run("run", "--once", cwd=mailbox)
    assert out.returncode == 0, out.stderr
    assert f"  邮箱：      {USER} 的 INBOX（服务器 127.0.0.1）" in summary_lines(out.stdout)


def test_without_config_every_command_says_which_config_and_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INTAKE_CONFIG", raising=False)
    database = tmp_path / "data" / "intake.db"
    first = run("list")
    assert first.returncode == 0
    assert first.stderr == ("未找到 config.yaml（也未设置 INTAKE_CONFIG），使用内置默认配置；"
                            f"数据库：{database}（尚不存在，需要时会新建一个空数据库）\n")
    assert first.stdout == "还没有登记任何作品。\n"
    second = run("list")
    assert second.stderr == f"未找到 config.yaml（也未设置 INTAKE_CONFIG），使用内置默认配置；数据库：{database}\n"
    (tmp_path / "elsewhere.yaml").write_text(OPEN_CONTEST, encoding="utf-8")
    chosen = run("list", env={"INTAKE_CONFIG": str(tmp_path / "elsewhere.yaml")})
    assert chosen.returncode == 0 and chosen.stderr == ""


def test_database_text_hides_a_password():
    assert database_text("postgresql+psycopg://intake:geheim@db.local/intake") == \
        "postgresql+psycopg://intake:***@db.local/intake"
    assert database_text("postgresql+psycopg://intake@db.local/intake") == "postgresql+psycopg://intake@db.local/intake"


def test_log_times_are_beijing_time_whatever_the_machine_zone():
    original = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        record = logging.makeLogRecord({"msg": "x", "levelname": "INFO", "name": "t", "created": 0})
        assert BeijingFormatter("%(asctime)s %(message)s").format(record) == "1970-01-01 08:00:00 x"
    finally:
        if original is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = original
        time.tzset()


def test_the_mailbox_starts_once_its_code_file_is_filled_in(workdir, dovecot, monkeypatch):
    from intake.service import runner
    from intake.config import load_config
    from intake.service.sources import read_status
    from tests.dovecot import PASSWORD
    from tests.mailboxes import write_mail_config
    from tests.waiting import wait_until

    monkeypatch.setattr(runner, "RESTART_SECONDS", 0.1)
    monkeypatch.delenv("INTAKE_IMAP_PASSWORD", raising=False)
    write_mail_config(workdir, dovecot.port, password_file="code.txt")
    status_file = workdir / "data" / "status" / "mailbox.json"
    stop, started = threading.Event(), []
    thread = threading.Thread(target=runner.run_main_job, args=(load_config(workdir / "config.yaml"), stop),
                              kwargs={"with_mailbox": True, "on_start": started.append})
    thread.start()
    try:
        [summary] = wait_until(lambda: started, 60, "the start-up summary")
        assert summary.mailbox.problem.startswith(f"无法读取授权码文件 {workdir / 'code.txt'}")
        (workdir / "code.txt").write_text(PASSWORD, encoding="utf-8")
        wait_until(lambda: (read_status(status_file) or {}).get("last_success"), 60, "a good mailbox pass")
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert read_status(status_file)["failures_in_a_row"] == 0
