"""``intake recheck``: the recorded submissions judged again with the config now in force."""

from __future__ import annotations

from typing import Any

import click

from core.errors import UsageError
from intake.cli.context import AppContext, pass_app
from intake.cli.params import SUBMISSION_NUMBER
from intake.cli.render import MARKS, echo, echo_each
from intake.labels import OUTCOME_LABELS, check_label
from validators.results import Outcome, Status


@click.command("recheck", options_metavar="[选项]")
@click.argument("submission_ids", nargs=-1, type=SUBMISSION_NUMBER, metavar="[作品编号]...")
@click.option("--all", "everything", is_flag=True, help="重新检查全部作品。")
@click.option("--no-media", is_flag=True,
              help="不重新检查视频文件，只核对报送信息、参赛单位、截止时间和名额（很快）。")
@click.option("--content", is_flag=True,
              help="同时重新识别开头语和敏感信息（较慢；随文件报送的字幕和说明文字没有保存，只读取视频本身）。")
@click.option("--reviewer", metavar="名字", help="操作人（默认为当前系统用户；用 sudo 运行时为 sudo 之前的用户）。")
@pass_app
def recheck(app: AppContext, submission_ids: tuple[int, ...], everything: bool, no_media: bool, content: bool,
            reviewer: str | None) -> int:
    """按现行配置重新检查已登记的作品：截止时间、应报送单位名单、名额和检查规则。

    视频检查读取文件库中保存的副本。每件作品的新结果记入审计日志，list、报告和回执显示最新结果；
    开头语和敏感信息默认沿用此前的结果（见 --content）。退出码：0 完成；2 用法错误或作品编号不存在；1 运行故障。
    """
    from intake.review.recheck import recheck as recheck_submissions

    if everything == bool(submission_ids):
        raise UsageError("--all 与作品编号不能同时使用。" if everything
                         else "请指定要重新检查的作品编号（如 intake recheck 4 #7），或用 --all 重新检查全部作品。")
    if no_media and content:
        raise UsageError("--no-media 与 --content 不能同时使用。")
    services = app.services()
    asked, changed = 0, 0
    for found in recheck_submissions(services, None if everything else list(submission_ids), media=not no_media,
                                     content=content, actor=reviewer):
        cause = f"（因作品 #{found.cause} 的变化重新核对名额）" if found.cause else ""
        echo(f"#{found.submission_id}  {outcome_change(found.before, found.after)}{cause}")
        echo_each(result_lines(found.changed) + moved_lines(found.moved))
        asked += found.cause is None
        changed += found.before != found.after
    echo(f"已重新检查 {asked} 件作品，其中 {changed} 件的结果有变化。")
    return 0


def outcome_change(before: Outcome, after: Outcome) -> str:
    if before == after:
        return f"{OUTCOME_LABELS[after]}（结果未变）"
    return f"{OUTCOME_LABELS[before]} → {OUTCOME_LABELS[after]}"


def result_lines(results: list[dict[str, Any]]) -> list[str]:
    """The new or changed results, one line each (a file's with its number among the files)."""
    lines = []
    for c in results:
        where = f"文件 {c['file'] + 1}：" if c.get("file") is not None else ""
        lines.append(f"     {MARKS[Status(c['status'])]} [{check_label(c['id'])}] {where}{c['message']}")
    return lines


def moved_lines(moved) -> list[str]:
    """Where a work's file in done/ went when its outcome changed (nothing when it stayed)."""
    return [f"     处理结果文件夹中的文件已随结果移到：{moved.path}"] if moved is not None else []
