"""``intake scores``: the judges' score sheet, for the record."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.errors import UsageError
from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, terminal_block


@click.command("scores", options_metavar="[选项]")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True,
              help="评分表格式：csv（UTF-8 带 BOM）或 xlsx。")
@click.option("-o", "--output", metavar="文件", help="输出文件；不指定时 csv 输出到屏幕（xlsx 必须指定）。")
@pass_app
def scores(app: AppContext, fmt: str, output: str | None) -> int:
    """导出评分表：每件作品各评委每个评分项的分数、评委总分和评语，作品得分和名次。

    评委总分 = Σ（权重 × 分数）÷ 权重之和；作品得分为各评委总分的平均分，5 位及以上评委时去掉一个最高分和一个最低分。
    退出码：0 成功；2 用法错误（如 xlsx 未指定 --output）。
    """
    if fmt == "xlsx" and not output:
        raise UsageError("xlsx 格式不能输出到屏幕，请用 --output 指定文件。")
    from intake.report.sheet import csv_text
    from intake.review.score_sheet import sheet, write_xlsx
    from intake.pipeline.views import submission_views

    contest = app.config.contest
    db = app.database()
    header, rows = sheet(submission_views(db), db.judging.scores(), contest,
                         ((u.name, u.role) for u in db.accounts.all()))
    if fmt == "xlsx":
        path = write_xlsx(header, rows, Path(output), contest)
    else:
        text = csv_text(header, rows)
        if not output:
            sys.stdout.write(terminal_block(text))
            return 0
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
    echo(f"已生成评分表（{len(rows)} 件作品）：{path.resolve()}")
    return 0
