"""``intake list``: the recorded submissions."""

from __future__ import annotations

import json

import click

from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, terminal_json
from intake.labels import OUTCOME_LABELS
from validators.results import Outcome

OUTCOMES = [o.value for o in Outcome]


@click.command("list", options_metavar="[选项]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）。")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="只列出某种结果：accepted 通过 / needs_review 待复核 / rejected 不合格。")
@click.option("--unit", metavar="单位", help="只列出某个单位的作品。")
@pass_app
def list_submissions(app: AppContext, as_json: bool, outcome: str | None, unit: str | None) -> int:
    """列出已登记的作品、检查结果和评审决定。"""
    from intake.services import open_database
    from intake.views import submission_views

    views = submission_views(open_database(app.config), outcome=outcome, unit=unit)
    if as_json:
        click.echo(terminal_json(json.dumps(views, ensure_ascii=False, indent=2)))
        return 0
    if not views:
        click.echo("还没有登记任何作品。")
        return 0
    for v in views:
        label = OUTCOME_LABELS[Outcome(v["outcome"])]
        names = "、".join(f["original_name"] for f in v["files"]) or "（无文件）"
        sender = f"  发件人：{v['sender']}" if v["sender"] else ""
        echo(f"#{v['id']}  {v['received_at'][:16].replace('T', ' ')}  {v['unit'] or '（未注明单位）'}  "
             f"{v['contact'] or ''} {v['phone'] or ''}{sender}  【{label}】  {names}")
        if v["decision"]:
            d = v["decision"]
            note = f"（{d['note']}）" if d["note"] else ""
            echo(f"     评审决定：{d['label']}{note} —— {d['reviewer']}，{d['at'][:16].replace('T', ' ')}")
        if v["speaker"] or v["topic"]:
            echo(f"     代言人：{v['speaker'] or '—'}  主题：{v['topic'] or '—'}")
        for check in v["checks"]:
            if check["status"] != "pass":
                mark = "✗" if check["status"] == "fail" else "!"
                echo(f"     {mark} [{check['id']}] {check['message']}")
    return 0
