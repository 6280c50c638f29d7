"""``intake poll`` (the mailbox alone) and ``intake attach`` (add a downloaded file to a submission)."""

from __future__ import annotations

import threading

import click

from core.textsafe import for_terminal
from core.terminal_log import terminal_safe_logging
from intake.cli.context import AppContext, pass_app
from intake.cli.params import SUBMISSION_NUMBER
from intake.cli.recheck_cmd import moved_lines
from intake.cli.render import check_lines, echo, echo_each, outcome_text
from intake.cli.validate_cmd import existing_files
from intake.labels import FIELD_LABELS, OUTCOME_LABELS
from validators.results import Outcome

def print_mail_result(result) -> None:
    if result.already_recorded:
        echo(f"[已登记] 邮件 UID {result.uid}「{result.subject}」此前已登记为作品 #{result.submission_id}，已标记为处理完毕。")
    else:
        echo(f"[{OUTCOME_LABELS[result.outcome]}] 作品 #{result.submission_id}：邮件「{result.subject}」")


@click.command("poll", options_metavar="[选项]")
@click.option("--once", is_flag=True, help="只检查一次邮箱，处理完现有邮件后退出。")
@pass_app
def poll(app: AppContext, once: bool) -> int:
    """接收邮箱中的作品：每封未登记的邮件登记为一件作品，处理后标记（或移到 mailbox.processed_folder）。"""
    from intake.service.logsetup import setup_logging
    from intake.mail.poller import MailPoller
    from intake.service.runner import install_stop_signals

    config = app.config
    setup_logging(config)
    terminal_safe_logging()
    services = app.services(progress=False)
    poller = MailPoller(services)
    stop = threading.Event()
    install_stop_signals(stop)
    echo(f"正在接收邮箱 {poller.session.account} 的文件夹 {config.mailbox.folder}"
               + ("（检查一次）" if once else "，按 Ctrl-C 停止"))
    poller.run(stop, on_result=print_mail_result, once=once)
    return 0


@click.command("attach", options_metavar="[选项]")
@click.argument("submission_id", type=SUBMISSION_NUMBER, metavar="作品编号")
@click.argument("file", metavar="文件")
@click.option("--reviewer", metavar="名字", help="操作人（默认为当前系统用户；用 sudo 运行时为 sudo 之前的用户）。")
@pass_app
def attach(app: AppContext, submission_id: int, file: str, reviewer: str | None) -> int:
    """把下载好的文件（如“超大附件”）补登到已登记的作品中，并对它进行检查。"""
    from intake.review.attach import attach_file

    [path] = existing_files((file,))
    done = attach_file(app.services(progress=True), submission_id, path, actor=reviewer)
    click.echo(f"已把 {for_terminal(path.name)} 补登到作品 #{submission_id}，该文件：{outcome_text(done.media.outcome)}；"
               f"作品现在：{outcome_text(Outcome(done.outcome))}")
    echo_each(check_lines(done.media.checks))
    if "large_attachment_link" in done.settled:
        click.echo("“超大附件”提醒已解除。")
    if done.filled:
        echo("按视频开头语补充了" + "，".join(f"{FIELD_LABELS[k]}：{v}" for k, v in done.filled.items()) + "。")
    echo_each(line.strip() for line in moved_lines(done.moved))
    return 0
