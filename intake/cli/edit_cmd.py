"""``intake edit``: a reviewer's correction of a recorded submission, kept in the audit log."""

from __future__ import annotations

import click

from intake.cli.context import AppContext, pass_app
from intake.cli.params import SUBMISSION_NUMBER
from intake.cli.recheck_cmd import moved_lines, outcome_change, result_lines
from intake.cli.render import echo, echo_each
from intake.labels import FIELD_LABELS


@click.command("edit", options_metavar="[选项]")
@click.argument("submission_id", type=SUBMISSION_NUMBER, metavar="作品编号")
@click.option("--unit", metavar="单位", help="参赛单位（按应报送单位名单重新匹配）。")
@click.option("--contact", metavar="联系人", help="联系人姓名。")
@click.option("--phone", metavar="电话", help="联系电话（手机或座机）。")
@click.option("--title", metavar="作品名", help="作品名称。")
@click.option("--speaker", metavar="代言人", help="代言人。")
@click.option("--topic", metavar="主题", help="主题。")
@click.option("--note", metavar="文本", help="备注（修改理由），记入审计日志。")
@click.option("--reviewer", metavar="名字", help="修改人（默认为当前系统用户；用 sudo 运行时为 sudo 之前的用户）。")
@pass_app
def edit(app: AppContext, submission_id: int, unit, contact, phone, title, speaker, topic, note,
         reviewer) -> int:
    """修改已登记作品的信息，原值和新值都记入审计日志。

    修改单位、联系人或电话后，会重新核对报送信息、参赛单位和名额（同单位之后报送的作品的名额也随之更新）。
    给出空值（如 --contact ""）可清除该项。退出码：0 完成；2 用法错误或作品编号不存在；1 运行故障。
    """
    from intake.review.edit import edit_submission

    values = {"unit": unit, "contact": contact, "phone": phone, "title": title, "speaker": speaker, "topic": topic}
    edited = edit_submission(app.services(), submission_id, values, note=note, actor=reviewer)
    if not edited.changes:
        echo(f"作品 #{submission_id} 的信息与指定的相同，没有修改。")
        return 0
    echo(f"已修改作品 #{submission_id}：")
    for name, change in edited.changes.items():
        echo(f"  {FIELD_LABELS[name]}：{change['old'] or '（空）'} → {change['new'] or '（空）'}")
    echo(f"结果：{outcome_change(edited.before, edited.after)}")
    echo_each(result_lines(edited.changed) + moved_lines(edited.moved))
    for later in edited.later:
        echo(f"作品 #{later.submission_id} 的名额随之重新核对：{outcome_change(later.before, later.after)}")
        echo_each(result_lines(later.changed) + moved_lines(later.moved))
    return 0
