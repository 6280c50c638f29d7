"""Docs that cannot drift: every CLI command has Chinese help text and is documented in the README; the
README's command table, command headings and config-key table are what ``cog -r README.md`` makes of the
click commands and the config models; config.yaml repeats every key with its default."""

from __future__ import annotations

import re
from operator import attrgetter
from pathlib import Path

import yaml
from cogapp import Cog

from intake.cli import cli
from intake.config import Config
from scripts import docs
from tests.conftest import REPO

README_PATH = REPO / "README.md"
README = README_PATH.read_text(encoding="utf-8")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_every_command_has_help_and_readme_entry():
    assert cli.commands
    for name, command in cli.commands.items():
        assert command.help and re.search(r"[\u4e00-\u9fff]", command.help), name
        assert f"intake {name}" in README, f"README does not document `intake {name}`"
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help and re.search(r"[\u4e00-\u9fff]", param.help), f"{name} {param.name}"


def cog_check(path: Path) -> int:
    return Cog().main(["cog", "--check", str(path)])


def test_readme_generated_parts_are_current():
    assert cog_check(README_PATH) == 0, "README.md is stale: run `cog -r README.md` at the repository root"


def test_a_stale_readme_is_caught(tmp_path):
    stale = tmp_path / "README.md"
    stale.write_text(README.replace("| `watch.settle_seconds` | `5` |", "| `watch.settle_seconds` | `3` |"),
                     encoding="utf-8")
    assert stale.read_text(encoding="utf-8") != README
    assert cog_check(stale) != 0


def test_every_command_has_a_generated_heading():
    for name in cli.commands:
        assert f'<!-- [[[cog cog.out(docs.heading("{name}")) ]]] -->' in README, name


def test_a_choice_the_command_insists_on_has_no_brackets():
    assert docs.synopsis("decide") == \
        "intake decide 作品编号 --shortlist|--reject|--pending [--note 文本] [--reviewer 名字] [--force]"


def test_every_config_key_says_what_it_means_in_chinese():
    keys = [key for key, _ in docs.config_keys()]
    assert {"rules.opening.ocr", "rules.sensitive.marks", "mailbox.receipts.security", "processing.max_attempts",
            "contest.units"} <= set(keys)
    for key, field in docs.config_keys():
        assert field.description and CHINESE.search(field.description), key


def test_config_yaml_repeats_every_key_with_its_default():
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    written = Config.model_validate(data)  # refuses a key the models do not have
    defaults = Config()
    for key, _ in docs.config_keys():
        node = data
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"config.yaml does not list {key}"
            node = node[part]
        assert attrgetter(key)(written) == attrgetter(key)(defaults), f"config.yaml's {key} is not the default"


def test_help_is_chinese_to_the_marks_click_adds():
    """click's own words in every command's help ([required], Usage, Options …) come out in Chinese."""
    from tests.cli import run

    def paths(command, prefix=()):
        yield prefix
        for name, sub in getattr(command, "commands", {}).items():
            yield from paths(sub, prefix + (name,))

    for path in paths(cli):
        out = run(*path, "--help")
        assert out.returncode == 0, (path, out.output)
        for english in ("[required]", "required]", "Usage:", "Options:", "Commands:", "default:", "Show this message"):
            assert english not in out.stdout, (path, english)
    role = run("user", "add", "--help").stdout
    assert "及以上全部）。  [必填]" in role


def test_a_wrong_value_or_an_impossible_work_number_is_said_in_chinese(workdir):
    """Refusals of bad values name the choices in Chinese; a work number no database can hold is refused like
    any other bad number (exit 2), never a traceback."""
    from tests.cli import run

    for args, expected in ((("list", "--outcome", "bad"),
                            "'bad' 不是可选的值，只能是以下之一：'accepted', 'needs_review', 'rejected'。"),
                           (("user", "add", "zz", "--role", "bogus"), "'bogus' 不是可选的值，只能是以下之一："),
                           (("decide", "99999999999999999999", "--shortlist"), "没有第 99999999999999999999 号作品"),
                           (("edit", "99999999999999999999", "--unit", "x"), "作品编号最多 10 位"),
                           (("recheck", "99999999999999999999"), "作品编号最多 10 位")):
        out = run(*args)
        assert out.returncode == 2 and expected in out.stderr, (args, out.stderr)
        assert "is not" not in out.stderr and "Traceback" not in out.stderr


def test_the_compiled_catalogue_of_clicks_words_is_current():
    """messages.mo is what scripts/catalogue.py makes of messages.po (edit the .po, then run the script)."""
    from scripts.catalogue import CATALOGUE, compiled

    assert (CATALOGUE / "messages.mo").read_bytes() == compiled()


def test_every_command_is_listed_under_its_own_name_in_the_readmes_order():
    assert [name for name in cli.list_commands(None)] == [
        "run", "watch", "poll", "validate", "ingest", "attach", "list", "decide", "edit", "recheck", "fix", "report",
        "scores", "export", "doctor", "migrate", "service", "serve", "user"]
    assert all(command.name == name for name, command in cli.commands.items())
