"""``intake run`` (the main job) and ``intake watch`` (the folder alone)."""

from __future__ import annotations

import threading

import click

from core.timefmt import SHANGHAI
from core.terminal_log import terminal_safe_logging
from intake.cli.context import AppContext, pass_app
from intake.cli.mail_cmd import print_mail_result
from intake.cli.render import echo, echo_each
from intake.labels import OUTCOME_LABELS


def _print_summary(summary, log_file) -> None:
    deadline = summary.deadline.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"
    if summary.deadline_passed:
        deadline += "——警告：截止时间已过，此后收到的作品都会带“截止时间”提醒（延期请修改 contest.deadline）"
    mailbox, state = "未启用（mailbox.enabled: false）", summary.mailbox
    if state.enabled:
        mailbox = f"{state.account} 的 {state.folder}（服务器 {state.host}）"
        if state.problem:
            mailbox += f"——暂不接收，程序会定时重试：{state.problem}"
    click.echo("微视频作品接收已启动：")
    echo(f"  配置文件：  {summary.config_file or '未找到 config.yaml，使用内置默认配置'}")
    echo(f"  投递文件夹：{summary.inbox}（{summary.watch_mode}，文件稳定 {summary.settle_seconds:g} 秒后处理）")
    echo(f"  处理结果：  {summary.done}（通过 / 待复核 / 不合格，按日期分目录）")
    echo(f"  数据库：    {summary.database}")
    echo(f"  文件库：    {summary.store}")
    echo(f"  截止时间：  {deadline}")
    echo(f"  邮箱：      {mailbox}")
    echo(f"  日志文件：  {log_file}")
    click.echo("按 Ctrl-C 停止。")


def _print_finished(item) -> None:
    again = "（此前已登记，本次完成移动）" if item.resumed else ""
    echo(f"[{OUTCOME_LABELS[item.outcome]}] 作品 #{item.submission_id}：{item.source.name} → {item.moved_to}{again}")


def _start(app: AppContext, once: bool, with_mailbox: bool) -> int:
    from intake.service.logsetup import setup_logging
    from intake.service.runner import install_stop_signals, run_main_job

    config = app.config
    log_file = setup_logging(config)
    terminal_safe_logging()
    stop = threading.Event()
    install_stop_signals(stop)
    desk = None
    if with_mailbox and not once and config.desk.enabled:   # the browser desk beside the main job
        from intake.desk.server import start_desk

        desk, chosen = start_desk(config, app.services())
        echo_each(chosen.warnings, err=True)
        echo(f"浏览器工作台：{chosen.url}")
    try:
        run_main_job(config, stop, with_mailbox=with_mailbox, on_start=lambda s: _print_summary(s, log_file),
                     on_mail=print_mail_result, on_finished=_print_finished, once=once)
    finally:
        if desk is not None:
            desk.should_exit = True
    return 0


@click.command("run", options_metavar="[选项]")
@click.option("--once", is_flag=True, help="处理完投递文件夹中现有的文件后退出（适合定时任务）。")
@pass_app
def run(app: AppContext, once: bool) -> int:
    """主任务：持续接收投递文件夹中的作品，mailbox.enabled 为 true 时同时接收邮箱，直到 Ctrl-C 或 SIGTERM。

    desk.enabled 为 true 时同时开启浏览器工作台（地址和端口见 desk.host、desk.port）。
    """
    return _start(app, once, with_mailbox=True)


@click.command("watch", options_metavar="[选项]")
@click.option("--once", is_flag=True, help="处理完投递文件夹中现有的文件后退出。")
@pass_app
def watch(app: AppContext, once: bool) -> int:
    """只监视投递文件夹：文件拷贝完成后自动检查、登记，并移到 done/ 下对应结果的目录。"""
    return _start(app, once, with_mailbox=False)
