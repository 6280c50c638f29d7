"""``intake report`` (the reviewer's screening report) and ``intake export`` (the package sent upward)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.errors import UsageError
from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, terminal_block, terminal_json
from validators.results import Outcome

DEFAULT_NAME = "初步筛选报告"


@click.command("report", options_metavar="[选项]")
@click.option("--format", "fmt", type=click.Choice(["html", "csv", "xlsx", "json"]), default="html",
              show_default=True, help="报告格式：html 网页（评审用）、csv / xlsx 表格、json（供脚本使用）。")
@click.option("-o", "--output", metavar="文件", help=f"输出文件（默认：当前目录的 {DEFAULT_NAME}.<格式>；- 表示输出到屏幕）。")
@click.option("--outcome", type=click.Choice([o.value for o in Outcome]), help="只包含某种检查结果的作品。")
@click.option("--unit", metavar="单位", help="只包含某个单位的作品。")
@click.option("--with-videos", is_flag=True, help="（仅 html）把视频复制到报告旁边的文件夹，整个拷到 U 盘也能播放。")
@pass_app
def report(app: AppContext, fmt: str, output: str | None, outcome: str | None, unit: str | None,
           with_videos: bool) -> int:
    """生成初步筛选报告：各结果的数量、每件作品的信息和问题、各单位报送情况。"""
    from intake.services import open_database
    from intake.views import submission_views
    from intake.report import build

    config = app.config
    views = submission_views(open_database(config), outcome=outcome, unit=unit)
    to_stdout = output == "-"
    if to_stdout and fmt == "xlsx":
        raise UsageError("xlsx 格式不能输出到屏幕，请用 -o 指定文件。")
    path = None if to_stdout else Path(output or f"{DEFAULT_NAME}.{fmt}")
    filters = "，".join(x for x in (f"结果={outcome}" if outcome else "", f"单位={unit}" if unit else "") if x)
    if fmt == "xlsx":
        build.write_xlsx(views, path)
    else:
        if fmt == "html":
            text = build.html_report(views, config, path, with_videos=with_videos, filters=filters)
        elif fmt == "csv":
            text = build.csv_report(views)
        else:
            text = build.json_report(views)
        if to_stdout:
            sys.stdout.write(terminal_json(text) if fmt == "json" else terminal_block(text))
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="" if fmt == "csv" else None)
    echo(f"已生成报告（{len(views)} 件作品）：{path.resolve()}")
    return 0


@click.command("export", options_metavar="[选项]")
@click.argument("directory", metavar="目录")
@pass_app
def export(app: AppContext, directory: str) -> int:
    """导出报送材料：把入围作品复制为“序号_单位_作品名.mp4”，并生成汇总表.xlsx。"""
    from intake.services import open_database
    from intake.views import submission_views
    from intake.export import export_shortlist, write_summary

    config = app.config
    db = open_database(config)
    target = Path(directory)
    exported = export_shortlist(submission_views(db), config.storage.root, target)
    summary = write_summary(exported, target / "汇总表.xlsx")
    db.record_event("exported", {"directory": str(target.resolve()), "files": [e.path.name for e in exported]})
    for item in exported:
        echo(f"  {item.path.name}")
    echo(f"已导出 {len(exported)} 个文件和汇总表：{summary.resolve()}")
    return 0
