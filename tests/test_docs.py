"""Every CLI command has Chinese help text and is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

from intake.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_command_has_help_and_readme_entry():
    assert cli.commands
    for name, command in cli.commands.items():
        assert command.help and re.search(r"[\u4e00-\u9fff]", command.help), name
        assert f"intake {name}" in README, f"README does not document `intake {name}`"
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help and re.search(r"[\u4e00-\u9fff]", param.help), f"{name} {param.name}"
