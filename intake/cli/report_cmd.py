"""``intake report`` (the reviewer's screening report) and ``intake export`` (the package sent upward)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.errors import UsageError
from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, echo_each, terminal_block, terminal_json
from validators.results import Outcome

if TYPE_CHECKING:  # the export pulls in openpyxl
    from intake.report.export import ExportResult

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
    from intake.pipeline.views import submission_views
    from intake.report import build

    config = app.config
    db = app.database()
    views = submission_views(db, outcome=outcome, unit=unit, contest=app.config.contest)
    to_stdout = output == "-"
    if to_stdout and fmt == "xlsx":
        raise UsageError("xlsx 格式不能输出到屏幕，请用 -o 指定文件。")
    path = None if to_stdout else Path(output or f"{DEFAULT_NAME}.{fmt}")
    filters = "，".join(x for x in (f"结果={outcome}" if outcome else "", f"单位={unit}" if unit else "") if x)
    if fmt == "xlsx":
        build.write_xlsx(views, path)
    else:
        if fmt == "html":
            everything = submission_views(db) if filters else views   # the unit coverage counts every work
            text = build.html_report(views, config, path, with_videos=with_videos, filters=filters,
                                     all_views=everything, scores=build.revealed_standings(db, everything, config))
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


EXPORT_INCOMPLETE = 3


@click.command("export", options_metavar="[选项]")
@click.argument("directory", metavar="目录")
@click.option("--replace", is_flag=True,
              help="目录不是空的时，先删除上次导出到这里的文件（只删导出清单中列出且未被改动的文件），再重新导出。")
@pass_app
def export(app: AppContext, directory: str, replace: bool) -> int:
    """导出报送材料：把入围作品复制为“序号_单位_作品名.mp4”，并生成汇总表.xlsx。

    逐件列出每件入围作品导出了哪些文件，或为什么没有导出。目录须为空（或不存在），否则加 --replace。
    退出码：0 全部入围作品都已导出；3 有入围作品没能导出，或其文件在文件库中丢失、损坏（见输出）；2 用法错误（如目录不是空的、没有入围作品）。
    """
    from intake.report.export import export_shortlist, reserved_folders
    from intake.pipeline.views import submission_views
    from storage.filestore import FileStore

    config = app.config
    db = app.database()
    result = export_shortlist(submission_views(db), FileStore(config.storage.root), Path(directory),
                              contest_name=config.contest.name, replace=replace, reserved=reserved_folders(config))
    db.audit.record("exported", result.audit())
    echo_each(export_lines(result))
    return EXPORT_INCOMPLETE if result.incomplete else 0


def export_lines(result: ExportResult) -> list[str]:
    """The export as the reviewer reads it: every shortlisted work, each of its files, then the totals."""
    from intake.report.export import SKIP_TEXTS

    lines = [f"导出目录：{result.directory.resolve()}"]
    if result.removed:
        lines.append(f"已删除上次导出的 {len(result.removed)} 个文件。")
    for work in result.works:
        v = work.view
        head = f"  #{v['id']} {v['unit'] or '（未注明单位）'}《{work.title}》"
        lines.append(head if work.exported else f"{head}：未导出")
        if work.secrecy:
            lines.append(f"     ⚠ {work.secrecy}")
        if work.forced:
            lines.append(f"     ⚠ 强制入围：{work.forced}")
        for item in work.files:
            original = item.file["original_name"]
            if item.name:
                forced = "（检查不合格，评审已强制入围）" if item.forced else ""
                lines.append(f"     ✓ {original} → {item.name}{forced}")
            else:
                lines.append(f"     ✗ {original}：{SKIP_TEXTS[item.skipped]}")
        if not work.files:
            lines.append("     ✗ 这件作品没有文件")
    if result.kept and not result.had_manifest:
        lines.append("注意：目录中没有上次导出的清单（.intake-export.json），没有删除任何文件。")
    if result.kept:
        lines.append(f"注意：目录中另有 {len(result.kept)} 个文件或文件夹不是上次导出写入的（或导出后被改动过），已保留："
                     + "、".join(result.kept))
    lines.append(f"已导出 {len(result.files)} 个文件和汇总表：{result.summary.resolve()}")
    flagged = [w for w in result.works if w.view["secrecy"]["flagged"]]
    if flagged:
        lines.append(f"注意：{len(flagged)} 件入围作品有涉密提醒（"
                     + "、".join(f"#{w.view['id']}" for w in flagged) + "），报送前请再次人工核实。")
    if result.incomplete:
        ids = "、".join(f"#{w.view['id']}" for w in result.incomplete)
        lines.append(f"注意：{len(result.incomplete)} 件入围作品未能完整导出（{ids}），原因见上。")
    return lines
