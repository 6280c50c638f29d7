"""Load config.yaml once, validate all of it, and hand out a frozen object.

Defaults and their meaning live here, in the models (the ``rules`` section in
``validators/rules.py``, which the validators own); ``config.yaml`` at the
repository root repeats every key with its default for people to read.
Relative paths are taken relative to the folder of the config file, so that
the tool behaves the same whatever the current directory is.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError
from validators.rules import RulesConfig

CONFIG_ENV = "INTAKE_CONFIG"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(Section):
    url: str = Field("sqlite:///data/intake.db", description="SQLAlchemy URL; SQLite by default")
    busy_timeout_seconds: float = Field(30, gt=0, description="how long SQLite waits on a lock")
    claim_lease_seconds: float = Field(1800, gt=0, description="a worker's hold on an item before others may take it")


class StorageConfig(Section):
    root: Path = Field(Path("data/store"), description="content-addressed file store")
    data_dir: Path = Field(Path("data"), description="logs and working files")
    chunk_bytes: int = Field(4 * 1024 * 1024, ge=4096, description="copy/hash buffer size")


class WatchConfig(Section):
    inbox: Path = Path("inbox")
    done: Path = Path("done")
    settle_seconds: float = Field(5, ge=0)
    polling: bool = False
    poll_interval_seconds: float = Field(2, gt=0)
    rescan_seconds: float = Field(60, gt=0)
    max_zip_entries: int = Field(50, gt=0)
    max_zip_total_bytes: int = Field(2 * 314572800, gt=0)


class ReceiptsConfig(Section):
    enabled: bool = False
    host: str = "smtp.163.com"
    port: int = 465
    security: str = Field("ssl", pattern="^(ssl|starttls|none)$")
    username: str = ""
    password_env: str = "INTAKE_SMTP_PASSWORD"
    password_file: Path | None = None
    from_address: str = ""
    timeout_seconds: float = Field(30, gt=0)


class MailboxConfig(Section):
    enabled: bool = False
    host: str = "imap.163.com"
    port: int = 993
    username: str = ""
    tls: bool = True
    folder: str = "INBOX"
    password_env: str = "INTAKE_IMAP_PASSWORD"
    password_file: Path | None = None
    poll_seconds: float = Field(120, gt=0)
    idle: bool = True
    idle_renew_seconds: float = Field(25 * 60, gt=0, le=29 * 60)
    timeout_seconds: float = Field(120, gt=0)
    fetch_chunk_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    max_text_bytes: int = Field(1024 * 1024, gt=0)
    since: date | None = None
    processed_folder: str | None = None
    keyword: str = Field("$IntakeRecorded", pattern=r"^[$A-Za-z0-9_-]{1,64}$")
    reconnect_max_seconds: float = Field(300, gt=0)
    imap_id: dict[str, str] = Field(default_factory=lambda: {"name": "liuzhou-intake", "version": "0.1.0"})
    receipts: ReceiptsConfig = ReceiptsConfig()


DEFAULT_UNITS = ("城中区", "鱼峰区", "柳南区", "柳北区", "柳江区", "柳城县", "鹿寨县", "融安县",
                 "融水苗族自治县", "三江侗族自治县")


class UnitEntry(Section):
    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()


class ContestConfig(Section):
    deadline: datetime = Field(datetime(2024, 4, 7, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai")),
                               description="inclusive; a time without a zone is Asia/Shanghai")
    units: tuple[UnitEntry, ...] = tuple(UnitEntry(name=n) for n in DEFAULT_UNITS)
    quota_per_unit: int = Field(1, ge=1)
    fuzzy_threshold: float = Field(0.6, gt=0, le=1)

    @field_validator("deadline")
    @classmethod
    def _shanghai_by_default(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("Asia/Shanghai"))

    @field_validator("units", mode="before")
    @classmethod
    def _names_or_entries(cls, value):
        if isinstance(value, (list, tuple)):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


class ProcessingConfig(Section):
    max_attempts: int = Field(3, ge=1, le=20, description="tries before an item is recorded as processing_error")
    retry_seconds: float = Field(30, gt=0, description="wait after the first failed try; doubles each time")
    retry_max_seconds: float = Field(3600, gt=0, description="longest wait between tries")


class LoggingConfig(Section):
    level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    max_bytes: int = Field(5 * 1024 * 1024, gt=0)
    backups: int = Field(5, ge=0)


class Config(Section):
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    rules: RulesConfig = RulesConfig()
    watch: WatchConfig = WatchConfig()
    mailbox: MailboxConfig = MailboxConfig()
    contest: ContestConfig = ContestConfig()
    processing: ProcessingConfig = ProcessingConfig()
    logging: LoggingConfig = LoggingConfig()
    source: Path | None = Field(None, exclude=True, description="the file this came from")


def find_config_file(explicit: str | os.PathLike | None) -> Path | None:
    """Return the config file to use: --config, then $INTAKE_CONFIG, then ./config.yaml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path("config.yaml")
    return local if local.is_file() else None


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load and validate the config; raise ConfigError naming the bad key."""
    file = find_config_file(path)
    data: dict[str, Any] = {}
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"无法读取配置文件 {file}：{exc.strerror or exc}",
                              "请检查 --config 或 INTAKE_CONFIG 指向的路径。") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"配置文件 {file} 不是有效的 YAML：{exc}",
                              "请检查缩进和冒号，可对照项目根目录的 config.yaml。") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"配置文件 {file} 的顶层应为键值对。", "请对照项目根目录的 config.yaml。")
        data = loaded
    return config_from_dict(data, base_dir=(file.parent if file else Path.cwd()), source=file)


def config_from_dict(data: dict[str, Any], base_dir: Path, source: Path | None = None) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source), "请对照项目根目录的 config.yaml 检查键名和取值。") from exc
    return _resolve_paths(config, base_dir.resolve(), source)


def _describe(exc: ValidationError, source: Path | None) -> str:
    lines = [f"配置文件 {source or '（默认）'} 有误："]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  - 未知的配置项 {key}")
        else:
            got = err.get("input")
            lines.append(f"  - 配置项 {key} 的值 {got!r} 无效（{_type_hint(err['type'], err.get('msg', ''))}）")
    return "\n".join(lines)


_TYPE_HINTS = {
    "int_parsing": "应为整数", "int_from_float": "应为整数", "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false", "string_type": "应为文本", "greater_than": "应大于下限",
    "greater_than_equal": "不能小于下限", "string_pattern_mismatch": "取值不在允许范围内",
    "dict_type": "应为键值对", "model_type": "应为键值对", "path_type": "应为路径",
    "tuple_type": "应为列表", "date_from_datetime_parsing": "应为日期，如 2024-04-01",
    "date_parsing": "应为日期，如 2024-04-01", "datetime_parsing": "应为时间，如 2024-04-07 23:59:59",
    "datetime_from_date_parsing": "应为时间，如 2024-04-07 23:59:59", "less_than_equal": "超过上限",
}


def _type_hint(kind: str, msg: str) -> str:
    return _TYPE_HINTS.get(kind, msg)


def _resolve_paths(config: Config, base: Path, source: Path | None) -> Config:
    def absolute(p: Path) -> Path:
        p = Path(os.path.expanduser(p))
        return p if p.is_absolute() else base / p

    rules = config.rules
    if rules.opening.speech_model is not None:
        opening = rules.opening.model_copy(update={"speech_model": absolute(rules.opening.speech_model)})
        rules = rules.model_copy(update={"opening": opening})
    storage = config.storage.model_copy(update={
        "root": absolute(config.storage.root), "data_dir": absolute(config.storage.data_dir)})
    watch = config.watch.model_copy(update={
        "inbox": absolute(config.watch.inbox), "done": absolute(config.watch.done)})
    mailbox = config.mailbox
    if mailbox.password_file is not None:
        mailbox = mailbox.model_copy(update={"password_file": absolute(mailbox.password_file)})
    if mailbox.receipts.password_file is not None:
        receipts = mailbox.receipts.model_copy(update={"password_file": absolute(mailbox.receipts.password_file)})
        mailbox = mailbox.model_copy(update={"receipts": receipts})
    database = config.database
    prefix = "sqlite:///"
    if database.url.startswith(prefix) and not database.url.startswith(prefix + "/"):
        rest = database.url[len(prefix):]
        if rest and not rest.startswith(":memory:"):
            database = database.model_copy(update={"url": prefix + str(absolute(Path(rest)))})
    return config.model_copy(update={
        "rules": rules, "storage": storage, "watch": watch, "mailbox": mailbox, "database": database, "source": source})
