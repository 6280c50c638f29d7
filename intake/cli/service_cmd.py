"""``intake service install`` and ``intake service status``."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path

import click

from core.errors import UsageError
from core.timefmt import local_iso, local_text
from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, echo_each, terminal_json

ACTIVE_LABELS = {"active": "正在运行", "reloading": "正在运行", "inactive": "未运行", "activating": "正在启动",
                 "deactivating": "正在停止",
                 "failed": "已失败（启动或运行出错，且不再自动重启；请查看日志后修正，再 systemctl restart）"}
KNOWN_SOURCES = {"folder": "投递文件夹接收", "mailbox": "邮箱接收"}


@click.group("service", options_metavar="[选项]", subcommand_metavar="命令 [参数]...")
def service() -> None:
    """把主任务 intake run 安装为 systemd 服务（开机自动启动、出错自动重启），并查看它的运行情况。

    intake service install 写入服务文件；intake service status 显示服务是否在运行、
    最近一次成功接收邮箱和扫描投递文件夹的时间，以及最近的错误。
    """


@service.command("install", options_metavar="[选项]")
@click.option("--user", "user_scope", is_flag=True,
              help="安装为当前用户的服务（写到 ~/.config/systemd/user，不需要 root）；默认安装为系统服务（需要 root）。")
@click.option("--print", "print_only", is_flag=True, help="只打印服务文件的内容，不写入。")
@click.option("-o", "--output", metavar="文件", type=click.Path(dir_okay=False),
              help="写到这个文件，而不是 systemd 的目录（用于检查或测试；不需要 root）。")
@click.option("--name", default="intake", show_default=True, metavar="名称", help="服务名称（默认 intake，即 intake.service）。")
@click.option("--run-as", metavar="用户", help="系统服务以哪个用户运行（默认：sudo 之前的用户，或配置文件所在文件夹的所有者）。")
@click.option("--env-file", metavar="文件", type=click.Path(dir_okay=False),
              help="存放授权码的环境变量文件（默认：配置文件旁的 intake.env；只在配置从环境变量读授权码时使用）。")
@click.option("--force", is_flag=True, help="覆盖一个不是由本命令写的同名服务文件。")
@pass_app
def install(app: AppContext, user_scope: bool, print_only: bool, output: str | None, name: str, run_as: str | None,
            env_file: str | None, force: bool) -> int:
    """写入运行 intake run 的 systemd 服务文件（使用当前配置），并说明接下来要运行的命令。

    退出码：0 成功；2 用法错误（如没有 root 权限却要安装系统服务）；1 无法写入。
    """
    from intake.service.unit import env_file_too_open, intake_command, is_root, plan_unit, secret_files, write_unit

    plan = plan_unit(app.config, user_scope=user_scope, name=name, output=Path(output) if output else None,
                     env_file=Path(env_file) if env_file else None, run_as=run_as)
    if print_only:
        click.echo(plan.text, nl=False)
        return 0
    if not user_scope and output is None and not is_root():
        again = shlex.join([*intake_command(), *(["--config", str(plan.config_file)] if plan.config_file else []),
                            "service", "install"])
        raise UsageError("安装系统服务需要 root 权限（要写入 /etc/systemd/system）。",
                         f"请用 sudo 运行：sudo {again}；或加 --user 安装为当前用户的服务。")
    changed = write_unit(plan, force=force)
    spec = plan.spec
    echo(f"{'已写入服务文件：' if changed else '服务文件已是最新，未改动：'}{plan.path}")
    echo(f"  运行命令：{shlex.join(spec.command)}")
    echo(f"  工作目录：{spec.working_dir}")
    if not user_scope:
        echo(f"  运行用户：{spec.run_as or 'root'}")
    echo_each(f"注意：{note}" for note in plan.notes)
    if spec.env_file:
        _explain_env_file(plan, env_file_too_open(spec.env_file))
    for secret in secret_files(app.config):
        if env_file_too_open(secret):
            echo(f"警告：存放授权码的 {secret} 其他用户也能读取。请运行：chmod 600 {shlex.quote(str(secret))}")
    _next_steps(plan, user_scope, custom_place=output is not None)
    return 0


def _explain_env_file(plan, too_open: bool) -> None:
    spec = plan.spec
    names = "、".join(spec.secrets) or "环境变量"
    if plan.env_file_exists:
        echo(f"授权码从 {spec.env_file} 读取（{names}），不写在服务文件里。")
        if too_open:
            echo(f"警告：{spec.env_file} 其他用户也能读取。请运行：chmod 600 {shlex.quote(str(spec.env_file))}")
        return
    echo(f"授权码不写在服务文件里。请先创建 {spec.env_file}（chmod 600，只有运行服务的用户可读），每行一个：")
    echo_each(f"  {variable}=客户端授权码" for variable in spec.secrets)
    echo("  （没有这个文件，服务照样启动，但邮箱暂不接收；补上后请重启服务。）")


def _next_steps(plan, user_scope: bool, custom_place: bool) -> None:
    from intake.service.unit import SYSTEM_UNIT_DIR, current_user, is_root, user_unit_dir

    unit = plan.name
    if custom_place:
        target = user_unit_dir() if user_scope else SYSTEM_UNIT_DIR
        echo(f"服务文件写在 {plan.path}，不在 systemd 的目录中；要使用它，请先把它复制为 {target / unit}。")
    click.echo("接下来请运行：")
    if user_scope:
        steps = ["systemctl --user daemon-reload", f"systemctl --user enable --now {unit}",
                 f"sudo loginctl enable-linger {shlex.quote(current_user())}   # 开机后不必登录，服务也会运行"]
        logs = f"journalctl --user -u {unit} -f"
    else:
        sudo = "" if is_root() else "sudo "
        steps = [f"{sudo}systemctl daemon-reload", f"{sudo}systemctl enable --now {unit}   # 立即启动，并且开机自动启动"]
        logs = f"{sudo}journalctl -u {unit} -f"
    echo_each(f"  {step}" for step in steps)
    echo(f"之后可用 intake service status 查看运行情况，或用 {logs} 查看实时日志。")


@service.command("status", options_metavar="[选项]")
@click.option("--user/--system", "user_scope", default=None,
              help="查看当前用户的服务或系统服务（默认：先找系统服务，再找用户服务）。")
@click.option("--name", default="intake", show_default=True, metavar="名称", help="服务名称（默认 intake）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）。")
@pass_app
def status(app: AppContext, user_scope: bool | None, name: str, as_json: bool) -> int:
    """显示服务是否在运行、最近一次成功接收邮箱和扫描投递文件夹的时间（北京时间），以及最近的错误。

    退出码：0 已安装、正在运行（无法判断时：已有运行记录）且各来源最近一次都成功；1 其他情况（未运行、未安装、尚无记录或出错）。
    """
    from intake.service.status import service_report

    report = service_report(app.config, name, user_scope)
    if as_json:
        click.echo(terminal_json(json.dumps(_as_json(report), ensure_ascii=False, indent=2)))
    else:
        _print_report(report)
    return 0 if report.healthy else 1


def _print_report(report) -> None:
    from intake.service.status import ago_text

    unit = report.unit
    where = f"{'用户服务' if unit.scope == 'user' else '系统服务'}，{unit.path}" if unit.path else "尚未安装"
    state = (f"无法判断是否在运行：{unit.reason}" if unit.active is None
             else ACTIVE_LABELS.get(unit.active, unit.active))
    echo(f"服务 {unit.name}（{where}）：{state}")
    if unit.path is None:
        echo("  可用 intake service install 安装（加 --user 安装为当前用户的服务）。")
    health = {s.source: s for s in report.sources}
    for source, label in {**KNOWN_SOURCES, **{s.source: s.label for s in report.sources}}.items():
        if source == "mailbox" and not report.mailbox_enabled:
            echo(f"{label}：未启用（mailbox.enabled: false）")
            continue
        known = health.get(source)
        if known is None:
            echo(f"{label}：尚无记录（intake run 还没有运行过，或还没有完成第一轮）")
            continue
        parts = [f"最近一次成功 {local_text(known.last_success)}（{ago_text(known.last_success)}）"
                 if known.last_success else "从未成功"]
        if known.failing:
            parts.append(f"最近一次失败 {local_text(known.last_failure)}（{ago_text(known.last_failure)}，"
                         f"连续 {known.failures_in_a_row or 1} 次）：{known.last_error or '原因不详'}")
        elif known.last_failure:
            parts.append(f"上次出错 {local_text(known.last_failure)}，此后已恢复")
        echo(f"{label}：{'；'.join(parts)}")
    if report.log_errors:
        echo(f"最近的错误（{report.log_file}，北京时间）：")
        echo_each(f"  {line}" for line in report.log_errors)
    elif report.log_file.exists():
        echo(f"日志中最近没有错误（{report.log_file}）。")
    else:
        echo(f"还没有日志文件（{report.log_file}）。")
    if report.healthy:
        click.echo("一切正常。")
    elif report.unit.path is None and not report.failing:
        click.echo("服务尚未安装：intake run 不会开机自动启动，出错后也不会自动重启。")
    elif report.unit.running is None and not report.failing:
        click.echo("还不能确定服务在工作：尚无运行记录。")
    else:
        click.echo("有问题，请按上面的信息处理。")


def _as_json(report) -> dict:
    unit = report.unit

    def when(moment):
        return local_iso(moment) if moment else None

    return {
        "unit": {"name": unit.name, "scope": unit.scope, "path": str(unit.path) if unit.path else None,
                 "installed": unit.path is not None, "active": unit.active, "running": unit.running,
                 "reason": unit.reason},
        "sources": [{**asdict(s), "last_success": when(s.last_success), "last_failure": when(s.last_failure),
                     "failing": s.failing} for s in report.sources],
        "mailbox_enabled": report.mailbox_enabled,
        "log_file": str(report.log_file),
        "log_errors": report.log_errors,
        "healthy": report.healthy,
    }
