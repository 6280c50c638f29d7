"""The ``intake`` command: a thin layer that parses, calls the core and presents the result."""

from __future__ import annotations

import gettext
import logging
import os
import sys
from pathlib import Path

import click

from intake import __version__
from core.errors import IntakeError
from core.textsafe import for_terminal
from intake.cli.context import AppContext
from intake.service.permissions import PROGRAM_UMASK

# click marks its own words (usage, errors, help headings) for gettext, in the default domain: ours are in
# locale/zh_CN (messages.po), whatever the language of the computer, since everything else we print is Chinese.
gettext.bindtextdomain("messages", str(Path(__file__).resolve().parent / "locale"))
os.environ["LANGUAGE"] = "zh_CN"

log = logging.getLogger("intake")

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class IntakeGroup(click.Group):
    """Maps an expected failure to its Chinese message and exit code inside click (not only in ``main``, so
    that ``CliRunner`` sees what a user sees), and keeps a command's returned code (3 for 待复核)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)   # as added: the order of `--help` and the README

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
        except IntakeError as exc:
            log.debug("expected failure", exc_info=True)
            # Messages quote names and paths from outside.
            click.echo(f"错误：{for_terminal(exc, keep_lines=True)}", err=True)
            ctx.exit(exc.exit_code)
        if isinstance(result, int) and not isinstance(result, bool):
            ctx.exit(result)
        return result


@click.group(cls=IntakeGroup, context_settings=CONTEXT, options_metavar="[选项]", subcommand_metavar="命令 [参数]...")
@click.option("--config", "config_path", metavar="路径", envvar="INTAKE_CONFIG",
              help="配置文件路径（默认：当前目录的 config.yaml；也可用环境变量 INTAKE_CONFIG）。")
@click.version_option(__version__, prog_name="intake")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """柳州市“寻找最美保密法治代言人”微视频作品接收与初步筛选工具。

    常用命令：intake run（持续接收投递文件夹中的作品）、intake validate（只检查不记录）、
    intake ingest（检查并登记作品）、intake list（查看已登记作品）。
    """
    ctx.obj = AppContext(config_path)


from intake.cli import (decide_cmd, doctor_cmd, edit_cmd, fix_cmd, ingest_cmd, list_cmd, mail_cmd,  # noqa: E402
                        recheck_cmd, report_cmd, run_cmd, scores_cmd, serve_cmd, service_cmd, user_cmd,
                        validate_cmd)

# In the order `--help` and the README list them.
for command in (run_cmd.run, run_cmd.watch, mail_cmd.poll, validate_cmd.validate, ingest_cmd.ingest, mail_cmd.attach,
                list_cmd.list_submissions, decide_cmd.decide, edit_cmd.edit, recheck_cmd.recheck, fix_cmd.fix,
                report_cmd.report, scores_cmd.scores, report_cmd.export, doctor_cmd.doctor, doctor_cmd.migrate,
                service_cmd.service, serve_cmd.serve, user_cmd.user):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """The program's entry: besides what ``IntakeGroup`` maps, stop quietly on Ctrl-C and hide a bug's traceback."""
    os.umask(PROGRAM_UMASK)   # nothing we create (the database, the store, notes) is readable by other accounts
    try:
        result = cli.main(args=argv, prog_name="intake", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code   # 2 for a click.UsageError
    except (click.Abort, KeyboardInterrupt):
        click.echo("已中止。", err=True)
        return 130
    except Exception:  # a bug: keep the traceback in the log, show a short message
        log.exception("unexpected error")
        click.echo("内部错误：程序遇到意外问题，详细信息已写入日志。请把日志发给维护人员。", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
