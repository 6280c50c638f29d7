"""Config: loaded once, validated fully, with the key's path in the message and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from intake.config import Config, load_config
from tests.cli import run

REPO = Path(__file__).resolve().parents[1]


def test_repo_config_matches_built_in_defaults():
    loaded = load_config(REPO / "config.yaml")
    defaults = Config()
    assert loaded.rules == defaults.rules
    assert loaded.logging == defaults.logging
    assert loaded.mailbox == defaults.mailbox
    assert loaded.database.url == "sqlite:///" + str(REPO / "data" / "intake.db")
    assert loaded.watch.inbox == REPO / "inbox"
    assert loaded.storage.root == REPO / "data" / "store"


def test_every_default_key_is_documented_in_config_yaml():
    import yaml

    documented = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    for section, model in Config.model_fields.items():
        if section == "source":
            continue
        for key in model.annotation.model_fields:
            assert key in documented[section], f"{section}.{key} is missing from config.yaml"


def test_unknown_key_names_its_path(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rules:\n  max_duraton_seconds: 100\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert "未知的配置项 rules.max_duraton_seconds" in str(err.value)


def test_cli_reports_wrong_type_with_exit_2(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rules:\n  max_size_bytes: 三百兆\n", encoding="utf-8")
    proc = run("--config", str(cfg), "list")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"错误：配置文件 {cfg} 有误：",
        "  - 配置项 rules.max_size_bytes 的值 '三百兆' 无效（应为整数）",
        "提示：请对照项目根目录的 config.yaml 检查键名和取值。",
    ]


def test_env_var_picks_config(tmp_path, monkeypatch):
    cfg = tmp_path / "other.yaml"
    cfg.write_text("rules:\n  max_duration_seconds: 60\n", encoding="utf-8")
    monkeypatch.setenv("INTAKE_CONFIG", str(cfg))
    assert load_config().rules.max_duration_seconds == 60


def test_broken_yaml_is_a_config_error(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rules: [unclosed\n", encoding="utf-8")
    proc = run("--config", str(cfg), "list")
    assert proc.returncode == 2
    assert "不是有效的 YAML" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_section_written_twice_is_refused_not_half_read(tmp_path):
    # YAML keeps the last of two equal keys: the deadline of the first `contest:` would silently vanish.
    cfg = tmp_path / "c.yaml"
    cfg.write_text("contest:\n  deadline: 2099-12-31 23:59:59\nrules:\n  max_duration_seconds: 90\n"
                   "contest:\n  quota_per_unit: 2\n", encoding="utf-8")
    proc = run("--config", str(cfg), "list")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"错误：配置文件 {cfg} 第 5 行：键“contest”重复出现，前面的设置会被忽略。",
                                        "提示：请把同一节的设置合并到一处。"]
    nested = tmp_path / "n.yaml"
    nested.write_text("rules:\n  opening:\n    ocr: false\n    ocr: true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="第 4 行：键“ocr”重复出现"):
        load_config(nested)
