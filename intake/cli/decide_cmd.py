"""``intake decide``: a reviewer's decision on a submission, kept in the audit log."""

from __future__ import annotations

import click

from core.errors import UsageError
from intake.cli.context import AppContext, pass_app
from intake.cli.params import SUBMISSION_NUMBER, OneChoiceCommand
from intake.cli.render import echo
from intake.labels import DECISION_LABELS


@click.command("decide", cls=OneChoiceCommand, options_metavar="[选项]")
@click.argument("submission_id", type=SUBMISSION_NUMBER, metavar="作品编号")
@click.option("--shortlist", "decision", flag_value="shortlist", help="入围：择优上报。")
@click.option("--reject", "decision", flag_value="reject", help="不予推荐。")
@click.option("--pending", "decision", flag_value="pending", help="待定。")
@click.option("--note", metavar="文本", help="备注（理由）。")
@click.option("--reviewer", metavar="名字", help="评审人（默认为当前系统用户）。")
@pass_app
def decide(app: AppContext, submission_id: int, decision: str | None, note: str | None, reviewer: str | None) -> int:
    """记录评审决定（入围 / 不予推荐 / 待定）。以最后一次决定为准，历次决定都保留在审计日志中。"""
    from intake.services import open_database

    if decision is None:
        raise UsageError("请指定评审决定：--shortlist（入围）、--reject（不予推荐）或 --pending（待定）。")
    recorded = open_database(app.config).record_decision(submission_id, decision, note, reviewer)
    echo(f"作品 #{submission_id}：{DECISION_LABELS[decision]}（评审人：{recorded['reviewer']}）")
    return 0
