"""``intake fix``: a reviewer's explicit repair of a recorded file (``--shrink``: re-encode it under the size limit)."""

from __future__ import annotations

import sys
import click

from core.errors import UsageError
from core.numbers import duration_text, size_text
from intake.cli.context import AppContext, pass_app, progress_bar
from intake.cli.params import SUBMISSION_NUMBER
from intake.cli.recheck_cmd import moved_lines, outcome_change
from intake.cli.render import check_lines, echo, echo_each
from intake.cli.validate_cmd import existing_files, open_checked


@click.command("fix", options_metavar="[选项]")
@click.argument("submission_id", type=SUBMISSION_NUMBER, metavar="作品编号")
@click.option("--shrink", is_flag=True, help="把超过大小上限的视频重新编码（H.264 + AAC 128k），压缩到上限的 95% 左右（画质会降低）。")
@click.option("--source", "source", metavar="文件",
              help="原文件的路径：文件收到时超过上限、没有保存时必须指定（投递文件夹的在 done/不合格/ 下，邮件附件从邮箱下载）。")
@click.option("--file", "number", type=click.IntRange(min=1), metavar="序号",
              help="压缩作品的第几个文件（作品有多个超限文件时必须指定）。")
@click.option("--reviewer", metavar="名字", help="操作人（默认为当前系统用户；用 sudo 运行时为 sudo 之前的用户）。")
@pass_app
def fix(app: AppContext, submission_id: int, shrink: bool, source: str | None, number: int | None,
        reviewer: str | None) -> int:
    """评审人员明确要求时修复已登记作品的文件：--shrink 把超过大小上限的视频压缩到上限以内。

    压缩是有损的（重新编码），只在评审人员执行本命令时进行，接收流程从不自动压缩。原文件保存在文件库中作为凭据，
    压缩后的文件重新经过全部检查，作品改以它为准，操作记入审计日志（事件 fixed）。时长超过上限的视频不压缩：
    剪辑会改变作品，应由报送单位处理。退出码：0 完成；2 用法错误、作品编号不存在或文件不能压缩；1 运行故障。
    """
    from intake.review.fix import prepare_shrink

    if not shrink:
        raise UsageError("请指定要做的修复，如 --shrink（把超过大小上限的视频压缩到上限以内）。")
    path = existing_files((source,))[0] if source else None
    opened = open_checked(path) if path else None   # the reviewer's copy, opened once (no symlink, regular file)
    services = app.services(progress=True)
    with prepare_shrink(services, submission_id, opened, path, number) as job:
        plan = job.plan
        audio = f"，音频 {plan.audio_bps // 1000} kbit/s" if plan.audio_bps else ""
        echo(f"正在压缩作品 #{submission_id} 的文件 {job.media.original_name}（{size_text(job.size_bytes)}，"
             f"{duration_text(job.seconds)}）：目标约 {size_text(plan.target_bytes)}"
             f"（视频 {plan.video_bps / 1e6:.2f} Mbit/s{audio}）")
        done = job.run(progress=progress_printer(), actor=reviewer)
    echo(f"已压缩：{size_text(done.original.size_bytes)} → {size_text(done.media.size_bytes)}，原文件已保存在文件库中。"
         f"作品 #{submission_id}：{outcome_change(done.before, done.after)}")
    echo_each(check_lines(done.media.checks))
    echo_each(line.strip() for line in moved_lines(done.moved))
    for later in done.later:
        echo(f"作品 #{later.submission_id} 的名额随之重新核对：{outcome_change(later.before, later.after)}")
        echo_each(moved_lines(later.moved))
    return 0


def progress_printer():
    """A bar on a terminal; elsewhere (a log, a pipe) a line at every tenth, so that a long run shows it lives."""
    if sys.stderr.isatty():
        move_to = progress_bar(1000, "压缩进度")
        return lambda share: move_to(int(share * 1000))
    shown = {"tenth": 0}

    def line(share: float) -> None:
        tenth = int(share * 10)
        if tenth > shown["tenth"]:
            shown["tenth"] = tenth
            click.echo(f"压缩进度：{tenth * 10}%", err=True)

    return line
