"""``intake doctor`` and ``intake migrate``."""

from __future__ import annotations

import click

from core.textsafe import for_terminal
from core.timefmt import local_text
from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo
from intake.labels import actor_label


@click.command("doctor", options_metavar="[选项]")
@click.option("--mailbox/--no-mailbox", default=None, help="是否检查邮箱登录（默认：mailbox.enabled 为 true 时检查）。")
@pass_app
def doctor(app: AppContext, mailbox: bool | None) -> int:
    """检查运行环境：ffmpeg、MediaInfo、数据库、文件夹、邮箱。发现问题时说明如何解决，并以退出码 1 结束。"""
    from intake.service.doctor import run_doctor

    findings = run_doctor(app.config, check_mailbox=mailbox)
    for f in findings:
        mark, colour = ("✗", "red") if not f.ok else ("!", "yellow") if f.warning else ("✓", "green")
        # Details quote server replies and paths, which are not ours.
        click.echo(f"{click.style(mark, fg=colour)} {for_terminal(f.what)}：{for_terminal(f.detail)}")
        if (not f.ok or f.warning) and f.hint:
            click.echo(f"    提示：{for_terminal(f.hint)}")
    bad = [f for f in findings if not f.ok]
    warned = [f for f in findings if f.ok and f.warning]
    if bad:
        click.echo(f"发现 {len(bad)} 个问题，请按提示处理。")
    elif warned:
        click.echo(f"没有发现问题，但有 {len(warned)} 条提醒（标有“!”），请留意。")
    else:
        click.echo("一切正常。")
    return 1 if bad else 0


@click.command("migrate", options_metavar="[选项]")
@pass_app
def migrate(app: AppContext) -> int:
    """创建或升级数据库结构（其他命令启动时也会自动升级）。

    说明这次做了什么（新建、从哪个版本升级到哪个版本，或无需升级）；无需升级时，还说明此前最近一次
    是何时、怎样新建或升级的（例如其他命令启动时自动完成的）。
    """
    from intake.pipeline.services import migrate_database
    from storage.database import HEAD_REVISION

    db, changed = migrate_database(app.config)
    if changed is not None:
        echo(f"已{schema_change_text(changed)}：{db.safe_url}")
        return 0
    echo(f"数据库结构已是最新版本（{HEAD_REVISION}），本次无需升级：{db.safe_url}")
    last = db.last_schema_change()
    if last is not None:
        how = "在其他命令启动时自动" if last.how == "automatic" else f"由 {last.how} "
        when = f"{local_text(last.at)} " if last.at else ""
        echo(f"此前最近一次：{when}{how}{schema_change_text(last)}（操作人：{actor_label(last.by)}）。")
    return 0


def schema_change_text(change) -> str:
    if change.before is None:
        return f"新建数据库结构（版本 {change.after}）"
    return f"把数据库结构从版本 {change.before} 升级到版本 {change.after}"
