"""`intake doctor`: a healthy set-up passes; each broken part is named in Chinese with a hint, exit 1."""

from __future__ import annotations

from tests.cli import run
from tests.dovecot import PASSWORD, USER


def test_healthy_setup(workdir):
    assert run("migrate").returncode == 0
    out = run("doctor")
    assert out.returncode == 0, out.stdout
    lines = out.stdout.splitlines()
    assert lines[0].startswith("✓ ffmpeg：可用")
    assert "✓ MediaInfo：可用" in lines
    assert any(line.startswith("✓ 数据库：可以连接，结构是最新版本") for line in lines)
    assert lines[-1] == "一切正常。"


def test_unmigrated_database_and_unwritable_folder(workdir):
    (workdir / "blocker").write_text("a file where a folder should be")
    (workdir / "config.yaml").write_text("watch:\n  inbox: blocker/inbox\n", encoding="utf-8")
    out = run("doctor")
    assert out.returncode == 1
    assert "✗ 数据库：" in out.stdout and "运行 intake migrate" in out.stdout
    assert f"✗ 投递文件夹：{workdir / 'blocker' / 'inbox'} 无法写入" in out.stdout
    assert out.stdout.splitlines()[-1] == "发现 2 个问题，请按提示处理。"


def test_unreachable_database(workdir):
    (workdir / "config.yaml").write_text(
        "database:\n  url: postgresql+psycopg://intake@127.0.0.1:1/intake\n", encoding="utf-8")
    out = run("doctor")
    assert out.returncode == 1
    assert "✗ 数据库：" in out.stdout and "Traceback" not in out.stdout + out.stderr


def test_mailbox_login_and_id(workdir, dovecot):
    (workdir / "config.yaml").write_text(
        f"mailbox:\n  enabled: true\n  host: 127.0.0.1\n  port: {dovecot.port}\n  tls: false\n  username: {USER}\n",
        encoding="utf-8")
    assert run("migrate").returncode == 0
    good = run("doctor", env={"INTAKE_IMAP_PASSWORD": PASSWORD})
    assert good.returncode == 0, good.stdout
    assert f"✓ 邮箱：{USER} 登录成功，已发送 ID，可以打开文件夹 INBOX" in good.stdout
    bad = run("doctor", env={"INTAKE_IMAP_PASSWORD": "wrong"})
    assert bad.returncode == 1
    # The server's [AUTHENTICATIONFAILED] in Chinese, not Python's b'…' of its reply.
    assert "✗ 邮箱：邮箱登录失败：服务器拒绝登录，授权码不对或已失效（认证失败）。" in bad.stdout.splitlines()
    assert "b'" not in bad.stdout and "客户端授权码" in bad.stdout


def test_a_passed_deadline_is_a_warning_as_at_start_up(workdir):
    (workdir / "config.yaml").write_text("contest:\n  deadline: 2024-04-07 23:59:59\n", encoding="utf-8")
    assert run("migrate").returncode == 0
    out = run("doctor")
    assert out.returncode == 0, out.stdout   # a warning, not a problem: the contest may simply be over
    lines = out.stdout.splitlines()
    at = lines.index("! 截止时间：2024-04-07 23:59:59（北京时间）已过：此后收到的作品都会带“截止时间”提醒")
    assert lines[at + 1] == ("    提示：征集已经结束的，不必处理；要延期，请修改 config.yaml 中的 contest.deadline，"
                             "再用 intake recheck --all 重新核对已登记的作品。")
    assert lines[-1] == "没有发现问题，但有 1 条提醒（标有“!”），请留意。"

    (workdir / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\n", encoding="utf-8")
    out = run("doctor")
    assert "✓ 截止时间：2099-12-31 23:59:59（北京时间），尚未到" in out.stdout.splitlines()
    assert out.stdout.splitlines()[-1] == "一切正常。"
