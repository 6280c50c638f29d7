"""``intake decide``: a reviewer's decision on a submission, kept in the audit log."""

from __future__ import annotations

import click

from core.errors import UsageError
from intake.cli.context import AppContext, pass_app
from intake.cli.params import SUBMISSION_NUMBER, OneChoiceCommand
from intake.cli.render import echo
from intake.labels import DECISION_LABELS, UNATTRIBUTED, actor_label


@click.command("decide", cls=OneChoiceCommand, options_metavar="[选项]")
@click.argument("submission_id", type=SUBMISSION_NUMBER, metavar="作品编号")
@click.option("--shortlist", "decision", flag_value="shortlist", help="入围：择优上报。")
@click.option("--reject", "decision", flag_value="reject", help="不予推荐。")
@click.option("--pending", "decision", flag_value="pending", help="待定。")
@click.option("--note", metavar="文本", help="备注（理由）。")
@click.option("--reviewer", metavar="名字",
              help="评审人（默认为 desk.default_reviewer；没有设置时为与当前系统用户同名的工作台账号，都没有时记为“未注明”）。")
@click.option("--force", is_flag=True, help="检查结果为不合格、或发现可能涉密内容的作品也记为入围（审计日志中注明）。")
@pass_app
def decide(app: AppContext, submission_id: int, decision: str | None, note: str | None, reviewer: str | None,
           force: bool) -> int:
    """记录评审决定（入围 / 不予推荐 / 待定）。以最后一次决定为准，历次决定都保留在审计日志中。

    检查结果为不合格、或全片扫描发现可能涉密内容的作品不能直接入围（退出码 2），确需入围时加 --force。
    """
    from intake.review.decisions import command_line_reviewer, decide as record

    if decision is None:
        raise UsageError("请指定评审决定：--shortlist（入围）、--reject（不予推荐）或 --pending（待定）。")
    db = app.database()
    who = command_line_reviewer(db, reviewer, app.config.desk.default_reviewer)
    decided = record(db, submission_id, decision, note, who, force=force)
    echo(f"作品 #{submission_id}：{DECISION_LABELS[decision]}（评审人：{actor_label(decided.reviewer)}）")
    if decided.reviewer == UNATTRIBUTED:
        echo("（没有写明评审人：可加 --reviewer 名字，或在 config.yaml 中设置 desk.default_reviewer。）")
    if decided.forced:
        echo(f"注意：作品 #{submission_id} {'；'.join(decided.reasons)}，已按 --force 记为入围。", err=True)
    return 0
