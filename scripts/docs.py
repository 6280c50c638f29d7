"""What the README's generated parts say: the command table and headings, from the click commands, and the
config-key table, from the pydantic models and their ``description=``.

The README calls these from cog blocks; ``cog -r README.md`` (from the repository root) rewrites them and
``tests/test_docs.py`` fails when they are stale.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from intake.cli import cli
from intake.config import Config

# A list longer than this is shown as "见 config.yaml", which spells it out.
LONGEST_LIST_SHOWN = 4


def config_keys(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every key a config file may set, dotted (``rules.opening.ocr``), with its field, in model order."""
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from config_keys(kind, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def default_of(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True)


def as_yaml(value: Any) -> str:
    """A default written the way config.yaml writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, datetime):
        # A time in Beijing time is written without a zone, as config.yaml does.
        shown = f"{value:%Y-%m-%d %H:%M:%S}"
        return shown if str(value.tzinfo) in ("None", "Asia/Shanghai") else f"{shown}{value:%z}"
    if isinstance(value, BaseModel):
        return as_yaml(value.model_dump(exclude_defaults=True))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(as_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {as_yaml(v)}" for k, v in value.items()) + "}"
    if value == "":
        return '""'
    return str(value)


def shown_default(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) > LONGEST_LIST_SHOWN:
        return "见 config.yaml"
    return f"`{as_yaml(value)}`"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_table() -> str:
    """The 键 / 默认值 / 说明 table of every config key."""
    rows = ["| 键 | 默认值 | 说明 |", "|---|---|---|"]
    for key, field in config_keys():
        rows.append(f"| `{key}` | {cell(shown_default(default_of(field)))} | {cell(field.description or '')} |")
    return "\n".join(rows) + "\n"


def _option_usage(option: click.Option) -> str:
    names = "/".join(option.opts + option.secondary_opts)
    if option.is_flag or option.count:
        return names
    if isinstance(option.type, click.Choice):
        return f"{names} {'|'.join(map(str, option.type.choices))}"
    return f"{names} {option.metavar or option.name.upper()}"


def command_of(name: str) -> click.Command:
    """A command by its words: ``list``, or ``service install`` for a command of a group."""
    command: click.Command = cli
    for word in name.split():
        command = command.commands[word]   # type: ignore[attr-defined]
    return command


def synopsis(name: str) -> str:
    """``intake <name>`` with its arguments and options, e.g. ``intake list [--json] [--unit 单位]``.

    Flags that set one value (``--shortlist``/``--reject``/``--pending``) are joined with ``|``; such a
    choice with no default is one the command insists on, so it is written without brackets.
    A group reads ``intake service install|status``."""
    command = command_of(name)
    if isinstance(command, click.Group):
        return f"intake {name} {'|'.join(command.commands)}"
    words = [f"intake {name}"]
    options: dict[str, list[click.Option]] = {}
    for param in command.params:
        if isinstance(param, click.Argument):
            words.append(param.metavar or param.name)
        elif isinstance(param, click.Option) and not param.hidden:
            options.setdefault(param.name, []).append(param)
    for group in options.values():
        usage = "|".join(_option_usage(o) for o in group)
        chosen = len(group) > 1 and not any(o.default is True or o.default == o.flag_value for o in group)
        words.append(usage if chosen or group[0].required else f"[{usage}]")
    return " ".join(words)


def heading(name: str, level: int = 3) -> str:
    """The ``###`` heading of one command's section (``####`` and deeper for a group's commands)."""
    return f"{'#' * level} `{synopsis(name)}`\n"


def summary(command: click.Command) -> str:
    """The first paragraph of a command's help."""
    return " ".join((command.help or "").strip().split("\n\n")[0].split())


def command_table() -> str:
    """The 命令 / 作用 table of every command, in the order ``intake --help`` lists them."""
    rows = ["| 命令 | 作用 |", "|---|---|"]
    for name, command in cli.commands.items():
        if command.hidden:
            continue
        rows.append(f"| `intake {name}` | {cell(summary(command))} |")
    return "\n".join(rows) + "\n"
