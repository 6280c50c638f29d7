"""The ``intake`` command: a thin layer that parses, calls the core and presents the result."""

from __future__ import annotations

import gc
import importlib
import logging
import sys
from collections.abc import MutableMapping

import click

from intake import __version__
from core.errors import IntakeError
from core.textsafe import for_terminal
from intake.cli import zh
from intake.cli.context import AppContext
from intake.entry import YOUNG_COLLECTION_THRESHOLD

zh.install()

log = logging.getLogger("intake")

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class IntakeGroup(click.Group):
    """Maps an expected failure to its Chinese message and exit code inside click.

    Done here rather than only in ``main`` so that ``CliRunner`` sees the same exit codes and
    messages as a user does, and a command's returned code (3 for 待复核) is not dropped.
    """

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


# Each command's module loads only when the command is run or listed (help, docs): `intake validate` then
# never imports SQLAlchemy, the mail client or the pipeline. The order is the one `--help` and the README use.
COMMANDS = {
    "run": "run_cmd:run", "watch": "run_cmd:watch", "poll": "mail_cmd:poll", "validate": "validate_cmd:validate",
    "ingest": "ingest_cmd:ingest", "attach": "mail_cmd:attach", "list": "list_cmd:list_submissions",
    "decide": "decide_cmd:decide", "edit": "edit_cmd:edit", "recheck": "recheck_cmd:recheck", "fix": "fix_cmd:fix",
    "report": "report_cmd:report", "scores": "scores_cmd:scores", "export": "report_cmd:export",
    "doctor": "doctor_cmd:doctor", "migrate": "doctor_cmd:migrate", "service": "service_cmd:service",
    "serve": "serve_cmd:serve", "user": "user_cmd:user",
}


class LazyCommands(MutableMapping):
    """Command name → click command, importing ``intake.cli.<module>`` on first access to a command."""

    def __init__(self, specs: dict[str, str]):
        self._specs = dict(specs)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, attr = self._specs[name].split(":")
            self._loaded[name] = getattr(importlib.import_module(f"intake.cli.{module}"), attr)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._specs.setdefault(name, "")
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._specs[name]
        self._loaded.pop(name, None)

    def __iter__(self):
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


cli.commands = LazyCommands(COMMANDS)


def main(argv: list[str] | None = None) -> int:
    """Entry point: besides what ``IntakeGroup`` maps, stop quietly on Ctrl-C and hide a bug's traceback."""
    # Starting up (imports, pydantic models, SQLAlchemy's) makes long-lived objects only: at the default
    # threshold of 700 the collector walked them over and over, some 10% of `intake ingest`'s imports.
    # The program's entry (intake.entry) has set it already, before this module loaded.
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    try:
        return _run(argv)
    finally:
        # The process ends here: its last collections would walk every object once more for nothing
        # (0.1 s of CPU with SQLAlchemy loaded). Files and the log are closed by then, not by the collector.
        gc.freeze()


def _run(argv: list[str] | None) -> int:
    try:
        result = cli.main(args=argv, prog_name="intake", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError) else exc.exit_code
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
