"""``intake validate``: run the checks only; write nothing."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import click

from core.errors import NotRegularFile, UsageError
from core.textsafe import for_terminal
from intake.cli.context import AppContext, pass_app
from intake.cli.render import check_lines, echo_each, outcome_text, terminal_json
from intake.inbox.metadata import transcripts_beside
from intake.pipeline.repair import examine_as_intake
from validators.examine import FileReport, examine_file
from validators.opened import OpenedFile
from validators.results import CheckResult, Outcome, worst

EXIT_CODES = {Outcome.ACCEPTED: 0, Outcome.NEEDS_REVIEW: 3, Outcome.REJECTED: 4}


def existing_files(paths: tuple[str, ...]) -> list[Path]:
    out = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"文件不存在：{raw}", "请检查文件路径是否正确。")
        if path.is_dir():
            raise UsageError(f"不是文件：{raw}", "请给出视频文件的路径，而不是文件夹。")
        if not path.is_file():
            raise UsageError(f"不是普通文件：{raw}", "请给出视频文件的路径（命名管道、设备文件等不能检查）。")
        out.append(path)
    return out


def open_checked(path: Path) -> OpenedFile:
    """The one open of a file to validate: no symlink, regular files only (bad usage otherwise)."""
    try:
        return OpenedFile.open(path)
    except NotRegularFile as exc:
        raise UsageError(f"不是普通文件：{path}", "请给出视频文件本身的路径（不能是设备、管道或文件夹）。") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"是符号链接：{path}", "请给出链接所指的实际文件的路径。") from exc
        raise UsageError(f"无法打开文件：{path}（{exc.strerror}）", "请检查文件是否存在、是否有读取权限。") from exc


def check_json(check: CheckResult) -> dict[str, Any]:
    """A check for --json: id, status, code, message, advice and details, where ``details.codes`` lists every code."""
    details = dict(check.details)
    details.setdefault("codes", [check.code])
    return {**check.as_json(), "details": details}


@click.command("validate", options_metavar="[选项]")
@click.argument("files", nargs=-1, required=True, metavar="文件...")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）。")
@click.option("--deep", is_flag=True, help="完整解码整个视频（较慢），默认只快速检查开头和结尾。")
@click.option("--no-ocr", "no_ocr", is_flag=True, help="不识别画面文字（快速查看：不做全片扫描，开头语只查文件信息和字幕）。")
@click.option("--no-repair", "no_repair", is_flag=True,
              help="只按文件本身判断：.mov、.mkv、.avi 等格式不对但可以无损转换的文件也判为不合格（不预演登记时的无损转换）。")
@click.option("-v", "--verbose", is_flag=True, help="同时列出通过的检查项。")
@pass_app
def validate(app: AppContext, files: tuple[str, ...], as_json: bool, deep: bool, no_ocr: bool, no_repair: bool,
             verbose: bool) -> int:
    """检查视频文件是否符合征集要求，不登记、不保存。

    结果与登记时相同：格式不是 MP4、但可以无损转换的 .mov、.mkv、.avi 等文件，登记时会无损转换为 MP4，
    这里也在临时文件夹中转换并检查（用完即删），结果为待复核（--no-repair 只看文件本身）。

    退出码：0 全部通过；3 有待复核；4 有不合格；2 用法错误；1 运行故障。
    """
    paths = existing_files(files)
    rules = app.config.rules
    reports: list[FileReport] = []
    for path in paths:
        # Opened once here; the checks and every tool they run read this descriptor, never the path again.
        # A file over the size limit is judged by its size; only the secrecy scan reads it.
        with open_checked(path) as opened:
            transcripts, ocr = transcripts_beside(path), False if no_ocr else None
            if no_repair:
                report = examine_file(path, rules, deep=deep, transcripts=transcripts, ocr=ocr, opened=opened)
            else:   # what intake will judge: for a .mov, .mkv, .avi…, the lossless MP4 it makes
                report = examine_as_intake(path, opened, rules, deep=deep, transcripts=transcripts, ocr=ocr)
        reports.append(report)
    if as_json:
        payload = [
            {"path": str(r.path), "outcome": r.outcome.value, "checks": [check_json(c) for c in r.checks],
             "media": r.media()}
            for r in reports
        ]
        click.echo(terminal_json(json.dumps(payload, ensure_ascii=False, indent=2, default=str)))
    else:
        for r in reports:
            click.echo(f"{for_terminal(r.path)}：{outcome_text(r.outcome)}")
            echo_each(check_lines(r.checks, verbose))
    return EXIT_CODES[worst(r.outcome for r in reports)]
