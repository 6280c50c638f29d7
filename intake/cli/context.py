"""What every command shares: the config, loaded once on first use."""

from __future__ import annotations

import re
import sys

import click

from core.textsafe import for_terminal
from intake.config import CONFIG_ENV, Config, load_config, sqlite_file


class AppContext:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
            if self._config.source is None:
                # Run in the wrong folder, a command would quietly use (and create) a database of its own.
                click.echo(for_terminal(f"未找到 config.yaml（也未设置 {CONFIG_ENV}），使用内置默认配置；"
                                        f"数据库：{database_text(self._config.database.url)}"), err=True)
        return self._config

    def services(self, deep: bool = False, progress: bool = False):
        from intake.pipeline.services import open_services  # SQLAlchemy loads only for commands that record

        return open_services(self.config, progress=terminal_progress if progress else None, deep=deep)

    def database(self):
        from intake.pipeline.services import open_database

        return open_database(self.config)


def database_text(url: str) -> str:
    """A SQLite database as its file, saying whether it exists yet; any other URL with its password hidden."""
    path = sqlite_file(url)
    if path is not None:
        return f"{path}" if path.exists() else f"{path}（尚不存在，需要时会新建一个空数据库）"
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def terminal_progress(label: str, total: int):
    """A progress bar on stderr for long copies; nothing for small files or non-terminals."""
    if total < 32 * 1024 * 1024 or not sys.stderr.isatty():
        return None
    move_to = progress_bar(total, f"正在存档 {for_terminal(label)}")
    return lambda done, _total: move_to(done)


def progress_bar(length: int, label: str):
    """A bar on stderr; the function it returns moves it to ``done`` of ``length``."""
    bar = click.progressbar(length=length, label=label, file=sys.stderr)
    state = {"done": 0}

    def move_to(done: int) -> None:
        if done > state["done"]:
            bar.update(done - state["done"])
            state["done"] = done
        if done >= length:
            bar.render_finish()

    return move_to


pass_app = click.make_pass_decorator(AppContext)
