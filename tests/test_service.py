"""`intake service install` and `intake service status`: the unit systemd gets, checked by systemd itself
(`systemd-analyze verify`), and what status reads from the running job's status files and log."""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from intake.service import status as service_status
from intake.service import unit as service
from intake.config import load_config
from intake.service.unit import UnitSpec, intake_command, render_unit
from intake.service.status import ago_text
from intake.service.sources import SourceStatus
from tests.cli import run
from tests.conftest import OPEN_CONTEST, REQUIRE_TOOLS

MAILBOX = "mailbox:\n  enabled: true\n  username: bmjfgxck@163.com\n  receipts:\n    enabled: true\n"


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    if REQUIRE_TOOLS:
        pytest.fail("systemd-analyze is required in CI but is not on PATH (apt-get install systemd)")
    pytest.skip("systemd-analyze is not installed (apt-get install systemd): the generated unit cannot be verified")


def verify(unit: Path, user_scope: bool, tmp_path: Path) -> None:
    """systemd's own check of the unit: no error, and not one warning about it."""
    env = dict(os.environ)
    if user_scope:   # a user manager needs a runtime folder; a test machine may have none
        runtime = tmp_path / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    args = [systemd_analyze(), *(["--user"] if user_scope else []), "verify", str(unit)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert unit.name not in out.stderr + out.stdout, out.stderr


@pytest.fixture
def system_dir(tmp_path, monkeypatch) -> Path:
    """/etc/systemd/system, as root sees it, moved into the test's folder."""
    folder = tmp_path / "etc-systemd-system"
    monkeypatch.setattr(service, "SYSTEM_UNIT_DIR", folder)
    monkeypatch.setattr(service_status, "SYSTEM_UNIT_DIR", folder)
    monkeypatch.setattr(service, "is_root", lambda: True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))   # and no user unit of the machine's
    return folder


def me() -> str:
    return service.current_user()


def test_install_writes_the_unit_for_the_current_config_and_systemd_accepts_it(workdir, system_dir, monkeypatch,
                                                                               tmp_path):
    (workdir / "config.yaml").write_text(OPEN_CONTEST + MAILBOX, encoding="utf-8")
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", "secret-code-1")   # set at install time: must not reach the unit
    monkeypatch.setenv("INTAKE_SMTP_PASSWORD", "secret-code-2")
    out = run("service", "install", "--run-as", me())
    assert out.returncode == 0, out.stderr
    unit = system_dir / "intake.service"
    exe = intake_command()
    assert out.stdout.splitlines() == [
        f"已写入服务文件：{unit}",
        f"  运行命令：{shlex.join([*exe, '--config', str(workdir / 'config.yaml'), 'run'])}",
        f"  工作目录：{workdir}",
        f"  运行用户：{me()}",
        *(["注意：服务将以 root 身份运行。建议用 --run-as 指定存放数据的普通用户。"] if me() == "root" else []),
        f"授权码不写在服务文件里。请先创建 {workdir / 'intake.env'}（chmod 600，只有运行服务的用户可读），每行一个：",
        "  INTAKE_IMAP_PASSWORD=客户端授权码",
        "  INTAKE_SMTP_PASSWORD=客户端授权码",
        "  （没有这个文件，服务照样启动，但邮箱暂不接收；补上后请重启服务。）",
        "接下来请运行：",
        "  systemctl daemon-reload",
        "  systemctl enable --now intake.service   # 立即启动，并且开机自动启动",
        "之后可用 intake service status 查看运行情况，或用 journalctl -u intake.service -f 查看实时日志。",
    ]
    text = unit.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert f"ExecStart={' '.join(exe)} --config {workdir / 'config.yaml'} run" in lines
    assert Path(exe[0]).is_absolute() and Path(exe[0]).exists()
    assert f"WorkingDirectory={workdir}" in lines
    assert f"EnvironmentFile=-{workdir / 'intake.env'}" in lines   # "-": a missing file does not stop the start
    assert {"Restart=on-failure", "RestartSec=10", "RestartPreventExitStatus=2", "KillMode=mixed",
            "NoNewPrivileges=yes", "ProtectSystem=full", "WantedBy=multi-user.target"} <= set(lines)
    assert ("User=" + me() in lines) == (me() != "root")
    assert "PrivateTmp=yes" not in lines   # the test's folders are under /tmp: the service must see them
    assert "secret-code" not in text
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    verify(unit, False, tmp_path)

    again = run("service", "install", "--run-as", me())   # nothing changed: the file is left as it is
    assert again.returncode == 0 and again.stdout.splitlines()[0] == f"服务文件已是最新，未改动：{unit}"


def test_user_unit_has_no_system_only_settings_and_systemd_accepts_it(workdir, tmp_path):
    target = tmp_path / "units" / "intake-2024.service"
    out = run("service", "install", "--user", "--name", "intake-2024", "-o", target)
    assert out.returncode == 0, out.stderr
    lines = target.read_text(encoding="utf-8").splitlines()
    assert "WantedBy=default.target" in lines and "NoNewPrivileges=yes" in lines
    assert not [line for line in lines if line.startswith(("User=", "ProtectSystem=", "PrivateTmp=", "After="))]
    assert not [line for line in lines if line.startswith("EnvironmentFile=")]   # no password read from the environment
    steps = out.stdout.splitlines()
    assert steps[-5:] == [
        "接下来请运行：",
        "  systemctl --user daemon-reload",
        "  systemctl --user enable --now intake-2024.service",
        f"  sudo loginctl enable-linger {me()}   # 开机后不必登录，服务也会运行",
        "之后可用 intake service status 查看运行情况，或用 journalctl --user -u intake-2024.service -f 查看实时日志。",
    ]
    assert f"服务文件写在 {target}，不在 systemd 的目录中；要使用它，请先把它复制为 " in out.stdout
    verify(target, True, tmp_path)


def test_odd_paths_are_quoted_for_systemd(tmp_path):
    folder = tmp_path / "比赛 100% $HOME"
    folder.mkdir()
    (folder / "config.yaml").write_text(OPEN_CONTEST, encoding="utf-8")
    out = run("--config", folder / "config.yaml", "service", "install", "-o", folder / "intake.service")
    assert out.returncode == 0, out.stderr
    lines = (folder / "intake.service").read_text(encoding="utf-8").splitlines()
    quoted = str(folder).replace("%", "%%").replace("$", "$$")
    assert f'ExecStart={" ".join(intake_command())} --config "{quoted}/config.yaml" run' in lines
    assert f"WorkingDirectory={str(folder).replace('%', '%%')}" in lines
    verify(folder / "intake.service", False, tmp_path)


def test_a_folder_ending_in_a_backslash_keeps_exec_start_and_systemd_accepts_it(tmp_path):
    folder = tmp_path / "报送\\"
    folder.mkdir()
    (folder / "config.yaml").write_text(OPEN_CONTEST + MAILBOX, encoding="utf-8")
    unit = tmp_path / "intake.service"
    out = run("--config", folder / "config.yaml", "service", "install", "-o", unit)
    assert out.returncode == 0, out.output
    lines = unit.read_text(encoding="utf-8").splitlines()
    # The line would go on to the next one; the slash ends it, and systemd drops it from the path.
    assert f"WorkingDirectory={folder}/" in lines
    assert f'ExecStart={" ".join(intake_command())} --config "{str(folder)}\\/config.yaml" run' in lines   # a backslash doubled inside quotes
    assert f"EnvironmentFile=-{folder}/intake.env" in lines
    verify(unit, False, tmp_path)

    # A file name ending in a backslash cannot be written so: refused, nothing written.
    refused = run("--config", folder / "config.yaml", "service", "install", "-o", tmp_path / "other.service",
                  "--env-file", tmp_path / "密码\\")
    assert (refused.returncode, refused.stderr.splitlines()[0]) == (
        2, f"错误：路径以反斜杠“\\”结尾，写进服务文件会与下一行连在一起：{tmp_path}/密码\\")
    assert not (tmp_path / "other.service").exists()


def test_run_as_a_user_who_cannot_write_the_data_folder_is_warned(tmp_path):
    project = Path(tempfile.mkdtemp(prefix="intake-run-as-"))   # under /tmp, which every user may pass through
    try:
        project.chmod(0o755)
        (project / "config.yaml").write_text(OPEN_CONTEST, encoding="utf-8")
        for folder in ("data", "data/store", "inbox", "done"):
            (project / folder).mkdir()
        unit = tmp_path / "intake.service"
        out = run("--config", project / "config.yaml", "service", "install", "-o", unit, "--run-as", "nobody")
        assert out.returncode == 0, out.output
        notes = [line for line in out.stdout.splitlines() if line.startswith("注意：用户 nobody")]
        owner = service._user_name(os.getuid())
        assert notes == [
            f"注意：用户 nobody 无法写入服务要写的文件夹：{project / 'data'}（数据目录；所有者 {owner}，"
            f"权限 drwxr-xr-x）、{project / 'data' / 'store'}（文件库；所有者 {owner}，权限 drwxr-xr-x）、"
            f"{project / 'inbox'}（投递文件夹；所有者 {owner}，权限 drwxr-xr-x）、{project / 'done'}（处理结果文件夹；"
            f"所有者 {owner}，权限 drwxr-xr-x），服务启动后会出错。请运行 sudo chown -R nobody {project / 'data'} "
            f"{project / 'inbox'} {project / 'done'}，或用 --run-as 指定能写入这些文件夹的用户。"]
        if os.geteuid() == 0:   # the folders given to the user: nothing to warn of
            nobody = pwd.getpwnam("nobody")
            for path in (project, *project.rglob("*")):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            out = run("--config", project / "config.yaml", "service", "install", "-o", unit, "--run-as", "nobody")
            assert out.returncode == 0 and "无法写入" not in out.stdout, out.output
    finally:
        shutil.rmtree(project)


def test_hardening_keeps_every_folder_the_job_writes_writable():
    def unit(*writable: str, involved: tuple[str, ...] = ()) -> list[str]:
        paths = tuple(Path(p) for p in writable)
        spec = UnitSpec(("/srv/intake/.venv/bin/intake", "run"), Path("/srv/intake"), False, "intake",
                        writable=paths, involved=paths + tuple(Path(p) for p in involved))
        return render_unit(spec).splitlines()

    plain = unit("/srv/intake/data", "/srv/intake/inbox")
    assert "PrivateTmp=yes" in plain and "ProtectSystem=full" in plain
    assert not [line for line in plain if line.startswith("ReadWritePaths=")]
    under_usr = unit("/usr/local/intake/data", "/srv/inbox")
    assert "ReadWritePaths=-/usr/local/intake/data" in under_usr
    assert "PrivateTmp=yes" not in unit("/srv/data", involved=("/tmp/intake/config.yaml",))


def test_system_install_without_root_is_refused_and_writes_nothing(workdir, system_dir, monkeypatch):
    monkeypatch.setattr(service, "is_root", lambda: False)
    out = run("service", "install")
    assert out.returncode == 2
    again = shlex.join([*intake_command(), "--config", str(workdir / "config.yaml"), "service", "install"])
    assert out.stderr == ("错误：安装系统服务需要 root 权限（要写入 /etc/systemd/system）。\n"
                          f"提示：请用 sudo 运行：sudo {again}；或加 --user 安装为当前用户的服务。\n")
    assert not system_dir.exists()


def test_print_writes_nothing_and_a_foreign_unit_is_kept_without_force(workdir, system_dir):
    printed = run("service", "install", "--print", "--run-as", me())
    assert printed.returncode == 0
    assert printed.stdout.startswith("# 由 intake service install 生成") and "[Service]" in printed.stdout
    assert not system_dir.exists()
    system_dir.mkdir()
    foreign = system_dir / "intake.service"
    foreign.write_text("[Service]\nExecStart=/usr/bin/true\n", encoding="utf-8")
    out = run("service", "install", "--run-as", me())
    assert out.returncode == 2
    assert out.stderr == (f"错误：{foreign} 已存在，且不是 intake service install 写的。\n"
                          "提示：请确认后加 --force 覆盖，或用 --name 换一个服务名称。\n")
    assert foreign.read_text(encoding="utf-8") == "[Service]\nExecStart=/usr/bin/true\n"
    forced = run("service", "install", "--run-as", me(), "--force")
    assert forced.returncode == 0 and foreign.read_text(encoding="utf-8") == printed.stdout


def test_bad_name_and_unknown_user_are_usage_errors(workdir, system_dir):
    bad = run("service", "install", "--name", "a b")
    assert (bad.returncode, bad.stderr.splitlines()[0]) == (2, "错误：服务名称“a b”无效。")
    nobody = run("service", "install", "--run-as", "no-such-user-xyz")
    assert (nobody.returncode, nobody.stderr.splitlines()[0]) == (2, "错误：没有用户“no-such-user-xyz”。")


# -- status -----------------------------------------------------------------------------------


def write_status(data_dir: Path, source: str, **fields) -> None:
    folder = data_dir / "status"
    folder.mkdir(parents=True, exist_ok=True)
    labels = {"folder": "投递文件夹接收", "mailbox": "邮箱接收"}
    (folder / f"{source}.json").write_text(json.dumps({"source": source, "label": labels[source], **fields}),
                                           encoding="utf-8")


@pytest.fixture
def no_systemd(monkeypatch, tmp_path):
    monkeypatch.setattr(service_status, "SYSTEMD_RUNTIME", tmp_path / "no-run-systemd-system")


def test_status_without_systemd_reads_the_status_files_and_log_in_beijing_time(workdir, system_dir, no_systemd):
    (workdir / "config.yaml").write_text(OPEN_CONTEST + MAILBOX, encoding="utf-8")
    data = workdir / "data"
    write_status(data, "folder", last_success="2024-04-07T02:00:00+00:00", failures_in_a_row=0)
    write_status(data, "mailbox", last_success="2024-04-07T01:00:00+00:00",
                 last_failure="2024-04-07T01:30:00+00:00", last_error="邮箱登录失败：授权码不对", failures_in_a_row=3)
    (data / "logs").mkdir()
    (data / "logs" / "intake.log").write_text(
        "2024-04-07 09:29:59 INFO intake.mail.poller: 已登录邮箱\n"
        "2024-04-07 09:30:00 ERROR intake.mail.poller: 邮箱登录失败：授权码不对\n"
        "Traceback (most recent call last):\n  ERROR in a traceback line\n", encoding="utf-8")
    out = run("service", "status")
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0] == "服务 intake.service（尚未安装）：无法判断是否在运行：本机不是由 systemd 启动的（如容器中）"
    assert lines[2].startswith("投递文件夹接收：最近一次成功 2024-04-07 10:00（") and lines[2].endswith("天前）")
    assert lines[3].startswith("邮箱接收：最近一次成功 2024-04-07 09:00（")
    assert lines[3].endswith("连续 3 次）：邮箱登录失败：授权码不对") and "最近一次失败 2024-04-07 09:30（" in lines[3]
    assert lines[4:] == [f"最近的错误（{data / 'logs' / 'intake.log'}，北京时间）：",
                         "  2024-04-07 09:30:00 ERROR intake.mail.poller: 邮箱登录失败：授权码不对",
                         "有问题，请按上面的信息处理。"]
    report = json.loads(run("service", "status", "--json").stdout)
    assert report["unit"] == {"name": "intake.service", "scope": "system", "path": None, "installed": False,
                              "active": None, "running": None, "reason": "本机不是由 systemd 启动的（如容器中）"}
    mailbox = next(s for s in report["sources"] if s["source"] == "mailbox")
    assert mailbox["last_failure"] == "2024-04-07T09:30:00+08:00" and mailbox["failing"] is True
    assert report["healthy"] is False


def test_status_asks_systemctl_and_is_healthy_when_running(workdir, system_dir, monkeypatch, tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    answer = tmp_path / "answer"
    answer.write_text("active\n")
    # No systemd runs under the tests: a stand-in systemctl gives the answer is-active would give.
    (fake_bin / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/asked\ncat {answer}\n')
    (fake_bin / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    monkeypatch.setattr(service_status, "SYSTEMD_RUNTIME", tmp_path)
    assert run("service", "install", "--run-as", me()).returncode == 0
    SourceStatus(workdir / "data", "folder", "投递文件夹接收").succeeded()
    out = run("service", "status")
    assert out.returncode == 0, out.stdout
    lines = out.stdout.splitlines()
    assert lines[0] == f"服务 intake.service（系统服务，{system_dir / 'intake.service'}）：正在运行"
    assert lines[1] == "投递文件夹接收：最近一次成功 " + lines[1].split("最近一次成功 ")[1]
    assert lines[1].endswith("（刚刚）")
    assert lines[2:] == ["邮箱接收：未启用（mailbox.enabled: false）",
                         f"还没有日志文件（{workdir / 'data' / 'logs' / 'intake.log'}）。", "一切正常。"]
    assert (tmp_path / "asked").read_text() == "is-active intake.service\n"
    answer.write_text("failed\n")
    failed = run("service", "status")
    assert failed.returncode == 1 and "：已失败（" in failed.stdout.splitlines()[0]


def test_ago_text():
    from datetime import datetime, timedelta

    now = datetime(2024, 4, 7, 12, 0)
    assert [ago_text(now - timedelta(seconds=s), now) for s in (5, 61, 7200, 3 * 86400)] == [
        "刚刚", "1 分钟前", "2 小时前", "3 天前"]


def test_secret_variables_follow_the_config(workdir):
    (workdir / "config.yaml").write_text(OPEN_CONTEST + MAILBOX, encoding="utf-8")
    assert service.secret_variables(load_config()) == ("INTAKE_IMAP_PASSWORD", "INTAKE_SMTP_PASSWORD")
    (workdir / "code.txt").write_text("x")
    (workdir / "config.yaml").write_text(OPEN_CONTEST + MAILBOX + "  password_file: code.txt\n", encoding="utf-8")
    assert service.secret_variables(load_config()) == ("INTAKE_SMTP_PASSWORD",)


def test_status_with_nothing_known_says_so(workdir, system_dir, no_systemd):
    out = run("service", "status")
    assert out.returncode == 1
    assert out.stdout.splitlines()[2:] == [
        "投递文件夹接收：尚无记录（intake run 还没有运行过，或还没有完成第一轮）",
        "邮箱接收：未启用（mailbox.enabled: false）",
        f"还没有日志文件（{workdir / 'data' / 'logs' / 'intake.log'}）。",
        "服务尚未安装：intake run 不会开机自动启动，出错后也不会自动重启。"]


def test_status_without_a_unit_is_not_healthy_even_when_the_job_runs(workdir, system_dir, no_systemd):
    SourceStatus(workdir / "data", "folder", "投递文件夹接收").succeeded()   # intake run started by hand
    out = run("service", "status")
    assert out.returncode == 1, out.stdout
    lines = out.stdout.splitlines()
    assert lines[0] == "服务 intake.service（尚未安装）：无法判断是否在运行：本机不是由 systemd 启动的（如容器中）"
    assert lines[-1] == "服务尚未安装：intake run 不会开机自动启动，出错后也不会自动重启。"
    assert json.loads(run("service", "status", "--json").stdout)["healthy"] is False


def test_a_path_that_is_not_utf8_is_refused_and_leaves_no_file(tmp_path):
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/\xb1\xc8\xc8\xfc"))   # 比赛 in GBK: not UTF-8
    folder.mkdir()
    (folder / "config.yaml").write_text(OPEN_CONTEST, encoding="utf-8")
    units = tmp_path / "units"
    out = run("--config", folder / "config.yaml", "service", "install", "--user", "-o", units / "intake.service")
    assert out.returncode == 2, out.output
    assert out.stderr.splitlines() == [
        f"错误：路径中有不是 UTF-8 编码的字符，无法写入服务文件：{tmp_path}/\\xb1\\xc8\\xc8\\xfc",
        "提示：请把项目文件夹改成只含正常中英文字符的名称后再安装。"]
    assert not units.exists() or list(units.iterdir()) == []


def test_a_failed_write_leaves_no_temporary_file(workdir, tmp_path, monkeypatch):
    from intake.config import load_config

    plan = service.plan_unit(load_config(), user_scope=True, output=tmp_path / "units" / "intake.service")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(service.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        service.write_unit(plan)
    assert list((tmp_path / "units").iterdir()) == []
