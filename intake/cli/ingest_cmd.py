"""``intake ingest``: run the pipeline on files and record one submission."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from core.names import stem_of
from intake.cli.context import AppContext, pass_app
from intake.cli.render import check_lines, echo_each, outcome_text
from intake.cli.validate_cmd import EXIT_CODES, existing_files
from intake.pipeline.contact_info import field_text, normalise_phone
from intake.inbox.archives import unpack_archives
from intake.pipeline.stages import process
from intake.pipeline.task import MediaTask, Source, SubmissionTask, TitleSource


@click.command("ingest", options_metavar="[选项]")
@click.argument("files", nargs=-1, required=True, metavar="文件...")
@click.option("--unit", metavar="单位", help="参赛单位名称。")
@click.option("--contact", metavar="联系人", help="联系人姓名。")
@click.option("--phone", metavar="电话", help="联系电话（手机或座机）。")
@click.option("--title", metavar="作品名", help="作品名称（默认取第一个文件名）。")
@click.option("--deep", is_flag=True, help="完整解码整个视频（较慢）。")
@pass_app
def ingest(app: AppContext, files: tuple[str, ...], unit, contact, phone, title, deep: bool) -> int:
    """检查视频并登记为一件作品（多个文件算同一件作品），文件存入文件库。

    退出码（与 validate 相同，作品在各种结果下都会登记）：0 通过；3 待复核；4 不合格；2 用法错误；1 运行故障。
    """
    paths = existing_files(files)
    services = app.services(deep=deep, progress=True)
    task = SubmissionTask(
        source=Source.CLI, received_at=datetime.now(timezone.utc),
        unit=field_text(unit), contact=field_text(contact, 100), phone=normalise_phone(phone),
        title=field_text(title, 500) or stem_of(paths[0].name),
        title_source=TitleSource.GIVEN if field_text(title, 500) else TitleSource.FILE_NAME,
        files=[MediaTask(source_path=p, original_name=p.name) for p in paths])
    process(task, services, (unpack_archives,))   # a zip given here is unpacked as a dropped one
    click.echo(f"已登记作品 #{task.submission_id}：{outcome_text(task.outcome)}")
    echo_each(check_lines(task.all_checks))
    # Scripts tell a rejected entry from an accepted one by the exit code, as with validate.
    return EXIT_CODES[task.outcome]
