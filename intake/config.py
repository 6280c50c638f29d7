"""Load config.yaml once, validate all of it, and hand out a frozen object.

Defaults and their (Chinese) meaning live in the models here; the README's key table and the root
``config.yaml`` are generated from or checked against them (``tests/test_docs.py``). Relative paths are
taken relative to the config file's folder, so the tool behaves the same in any current directory.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError, DuplicateKey
from validators.rules import RulesConfig

CONFIG_ENV = "INTAKE_CONFIG"
SQLITE = "sqlite:///"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(Section):
    url: str = Field("sqlite:///data/intake.db",
                     description="数据库地址（SQLAlchemy 格式）；多台机器共用时改为 `postgresql+psycopg://用户@主机/库名`")
    busy_timeout_seconds: float = Field(30, gt=0, description="SQLite 遇锁等待秒数（之后还会退避重试数次）")
    connect_timeout_seconds: float = Field(
        10, gt=0, description="连接数据库服务器（PostgreSQL）最长等待秒数，超时即报错而不是一直等待（libpq 最少 2 秒）")
    claim_lease_seconds: float = Field(1800, gt=0,
                                       description="多进程时一个进程占用一件作品的最长时间（秒），超时后其他进程可以接手")


class StorageConfig(Section):
    root: Path = Field(Path("data/store"), description="作品文件库（按 SHA-256 内容寻址，同一内容只存一份）")
    data_dir: Path = Field(Path("data"), description="数据目录（日志在 `logs/` 下）")
    chunk_bytes: int = Field(4 * 1024 * 1024, ge=4096, description="拷贝、计算哈希时的缓冲区大小（字节）")


class WatchConfig(Section):
    inbox: Path = Field(Path("inbox"), description="投递文件夹：工作人员把作品拖到这里")
    done: Path = Field(Path("done"), description="处理结果文件夹（其下 `通过`、`待复核`、`不合格` 按日期分子目录）")
    settle_seconds: float = Field(5, ge=0, description="文件大小和修改时间多少秒不再变化才处理")
    polling: bool = Field(False, description="强制轮询（网络共享目录、inotify 不可用时自动轮询）")
    poll_interval_seconds: float = Field(2, gt=0, description="轮询间隔（秒）")
    rescan_seconds: float = Field(60, gt=0, description="定时全量扫描间隔（秒），作为事件遗漏时的兜底")
    max_zip_entries: int = Field(50, gt=0, description="ZIP 压缩包最多允许的条目数")
    max_zip_total_bytes: int = Field(2 * 314572800, gt=0, description="ZIP 解压后总大小上限（字节），防止压缩炸弹")


class ReceiptsConfig(Section):
    enabled: bool = Field(False, description="处理后给发件人（From 地址）回一封中文回执邮件，说明结果和修改办法"
                                             "（每件作品只发一次；开启前已登记的邮件不回复）")
    host: str = Field("smtp.163.com", description="回执的 SMTP 服务器")
    port: int = Field(465, description="SMTP 端口")
    security: str = Field("ssl", pattern="^(ssl|starttls|none)$", description="加密方式：`ssl`、`starttls` 或 `none`")
    username: str = Field("", description="SMTP 账号")
    password_env: str = Field("INTAKE_SMTP_PASSWORD", description="存放 SMTP 授权码的环境变量名")
    password_file: Path | None = Field(None, description="或者：存放 SMTP 授权码的文件路径")
    from_address: str = Field("", description="发件人地址（不填时同 `username`）")
    timeout_seconds: float = Field(30, gt=0, description="SMTP 网络超时（秒）")
    contact_line: str = Field("", max_length=500,
                              description="每封回执末尾的联系方式，如 `联系人：王老师，电话：0772-1234567`（不填则不写）")
    for_no_video: bool = Field(False, description="没有视频也没有下载链接的邮件（多为咨询）是否也回复“不合格”回执")


class MailboxConfig(Section):
    enabled: bool = Field(False, description="`intake run` 是否同时接收邮箱（也可单独运行 `intake poll`）")
    host: str = Field("imap.163.com", description="IMAP 服务器（126 邮箱：`imap.126.com`；企业邮：`imap.qiye.163.com`）")
    port: int = Field(993, description="IMAP 端口")
    username: str = Field("", description="邮箱账号，如 `bmjfgxck@163.com`")
    tls: bool = Field(True, description="使用 TLS 加密连接")
    folder: str = Field("INBOX", description="接收作品的文件夹")
    password_env: str = Field("INTAKE_IMAP_PASSWORD",
                              description="存放客户端授权码（不是网页登录密码）的环境变量名；授权码不写在配置文件里")
    password_file: Path | None = Field(None, description="或者：存放授权码的文件路径（换上新授权码不必重启）")
    poll_seconds: float = Field(120, gt=0, description="轮询间隔（秒）；网易邮箱不支持 IDLE，按此间隔轮询")
    idle: bool = Field(True, description="服务器支持 IDLE 时用它即时收信")
    idle_renew_seconds: float = Field(25 * 60, gt=0, le=29 * 60, description="IDLE 重新发起的间隔（秒，不超过 29 分钟）")
    timeout_seconds: float = Field(120, gt=0, description="网络操作超时（秒）")
    fetch_chunk_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024, description="分块下载附件时每块的字节数")
    max_text_bytes: int = Field(1024 * 1024, gt=0, description="读取正文（找联系人、超大附件链接）时最多读取的字节数")
    since: date | None = Field(None, description="只处理此日期及以后收到的邮件（如 `2024-04-01`；`null` 表示全部）")
    processed_folder: str | None = Field(
        None, description="处理后移到的文件夹（不存在会自动创建）；`null` 表示不移动，只标为已读并加上关键字")
    keyword: str = Field("$IntakeRecorded", pattern=r"^[$A-Za-z0-9_-]{1,64}$", description="处理后加上的 IMAP 关键字")
    reconnect_max_seconds: float = Field(300, gt=0, description="断线重连时最长等待（秒）")
    imap_id: dict[str, str] = Field(default_factory=lambda: {"name": "liuzhou-intake", "version": "0.1.0"},
                                    description="登录后发送的 IMAP ID（网易邮箱要求，否则报 Unsafe Login）")
    receipts: ReceiptsConfig = ReceiptsConfig()


DEFAULT_UNITS = ("城中区", "鱼峰区", "柳南区", "柳北区", "柳江区", "柳城县", "鹿寨县", "融安县",
                 "融水苗族自治县", "三江侗族自治县")


class UnitEntry(Section):
    name: str = Field(min_length=1, description="单位名称")
    aliases: tuple[str, ...] = Field((), description="别名")


class Criterion(Section):
    name: str = Field(min_length=1, max_length=50, description="评分项名称")
    weight: int | float = Field(gt=0, description="权重（正数）")

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("评分项名称不能为空")
        return value


DEFAULT_CRITERIA = (Criterion(name="思想性", weight=40), Criterion(name="艺术性", weight=30),
                    Criterion(name="技术性", weight=30))


class ScoringConfig(Section):
    criteria: tuple[Criterion, ...] = Field(
        DEFAULT_CRITERIA,
        description="评分项及权重，每项为 `{name: 名称, weight: 权重}`；名称不能重复，权重为正数。"
                    "评委每项打 0 到满分；一位评委的总分 = Σ（权重 × 分数）÷ 权重之和，仍在 0 到满分之间")
    scale: int = Field(10, ge=1, le=1000, description="每个评分项的满分（分数为 0 到满分，可保留一位小数）")
    blind: bool = Field(False, description="匿名评审：对评委隐去参赛单位、联系人、电话、发件人、文件名、邮件主题和正文，"
                                           "作品名等文字中出现的单位名称也遮去（管理员和登记员仍能看到）")
    reveal: str = Field("closed", pattern="^(closed|always)$",
                        description="何时向评委公开作品得分、名次和其他评委的评审决定：`closed`（默认）在管理员于工作台“结束评分”之后；"
                                    "`always` 随时公开。在此之前评委只能看到自己的评分、决定和备注（管理员始终能看到全部）")

    @field_validator("criteria")
    @classmethod
    def _unique_names(cls, value: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        if not value:
            raise ValueError("至少要有一个评分项")
        names = [c.name for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"评分项名称重复：{'、'.join(twice)}")
        return value


class ContestConfig(Section):
    name: str = Field("寻找最美保密法治代言人", min_length=1, description="活动名称，用于报告标题和汇总表标题")
    deadline: datetime = Field(datetime(2024, 4, 7, 23, 59, 59, tzinfo=ZoneInfo("Asia/Shanghai")),
                               description="截止时间（含；不写时区按北京时间），晚于此时间收到的作品给出 `deadline` 提醒")
    units: tuple[UnitEntry, ...] = Field(
        tuple(UnitEntry(name=n) for n in DEFAULT_UNITS),
        description="应报送单位，默认柳州市 5 个城区和 5 个县；每项可以是名称，或 `{name: 名称, aliases: [别名…]}`")
    quota_per_unit: int = Field(1, ge=1, description="每单位名额；超过的作品给出 `quota` 提醒")
    fuzzy_threshold: float = Field(0.6, gt=0, le=1, description="单位名称模糊匹配的相似度阈值（0–1）")
    scoring: ScoringConfig = Field(ScoringConfig(), description="多位评委按评分项打分")

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
    max_attempts: int = Field(3, ge=1, le=20,
                              description="一件作品处理出错时最多尝试的次数；仍出错时登记为“待复核”（检查项 `processing_error`）")
    retry_seconds: float = Field(30, gt=0, description="第一次出错后等待多少秒再试，之后每次加倍")
    retry_max_seconds: float = Field(3600, gt=0, description="两次尝试之间最长等待的秒数")


class LoggingConfig(Section):
    level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$",
                       description="日志级别：`DEBUG`、`INFO`、`WARNING` 或 `ERROR`")
    max_bytes: int = Field(5 * 1024 * 1024, gt=0, description="日志文件（`data/logs/intake.log`）单个文件的最大字节数")
    backups: int = Field(5, ge=0, description="日志文件保留的份数")


class DeskConfig(Section):
    enabled: bool = Field(False, description="`intake run` 是否同时开启浏览器工作台（也可单独运行 `intake serve`）")
    host: str = Field("127.0.0.1", min_length=1,
                      description="`intake serve` 默认监听的地址；`127.0.0.1` 只供本机使用，局域网共用时改为本机的局域网地址")
    port: int = Field(8080, ge=1, le=65535, description="`intake serve` 默认监听的端口")
    session_hours: float = Field(12, gt=0, le=24 * 30, description="登录后多少小时内不必再次登录")
    max_failed_logins: int = Field(5, ge=1, description="同一账号连续登录失败多少次后暂时锁定")
    max_failed_logins_per_address: int = Field(20, ge=1, description="同一台电脑（IP 地址）登录失败多少次后暂时锁定")
    lockout_seconds: float = Field(300, gt=0, description="登录失败过多时锁定的秒数；管理员可用 `intake user unlock 账号` 提前解除")
    allowed_hosts: tuple[str, ...] = Field(
        (), description="除本机名称（`localhost`、`127.0.0.1`、`::1`）和监听地址（`--host`）外，工作台还接受的访问名称或地址"
                        "（浏览器地址栏中的主机名，如 `192.168.1.20`、`bmj-pc`）；用其他名称访问的请求一律拒绝（防止 DNS 重绑定）")
    header_timeout_seconds: float = Field(5, gt=0, le=60,
                                          description="一个请求的请求头须在多少秒内收完、表单内容中途停顿不得超过多少秒，否则断开连接"
                                                      "（防止空连接或发了一半的请求占满工作台）")
    max_connections_per_address: int = Field(30, ge=6, le=190,
                                             description="同一台电脑（IP 地址）最多同时保持的连接数（浏览器通常只用 6 个左右）；"
                                                         "超过时新连接取代该地址最早的空闲连接，都在处理请求时新连接被断开")
    refresh_seconds: float = Field(5, gt=0, description="概览页刷新“最新收到”的间隔（秒）")
    default_reviewer: str | None = Field(
        None, min_length=1, max_length=100,
        description="在命令行用 `intake decide` 记录评审决定而没有加 `--reviewer` 时，记作哪位评审（如 `王老师`）；"
                    "不设置时记作与当前系统用户同名的工作台账号，没有这样的账号时记为“未注明”（不记系统用户名）")


class Config(Section):
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    rules: RulesConfig = RulesConfig()
    watch: WatchConfig = WatchConfig()
    mailbox: MailboxConfig = MailboxConfig()
    contest: ContestConfig = ContestConfig()
    processing: ProcessingConfig = ProcessingConfig()
    logging: LoggingConfig = LoggingConfig()
    desk: DeskConfig = DeskConfig()
    source: Path | None = Field(None, exclude=True, description="the file this came from")


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Load and validate --config, else $INTAKE_CONFIG, else ./config.yaml; raise ConfigError naming the bad key."""
    path = path or os.environ.get(CONFIG_ENV) or ("config.yaml" if Path("config.yaml").is_file() else None)
    if path is None:
        return config_from_dict({}, base_dir=Path.cwd())
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"无法读取配置文件 {file}：{exc.strerror or exc}",
                          "请检查 --config 或 INTAKE_CONFIG 指向的路径。") from exc
    try:
        loaded = yaml.load(text, Loader=_StrictLoader)
    except DuplicateKey as exc:
        raise ConfigError(f"配置文件 {file} 第 {exc.line} 行：键“{exc.key}”重复出现，前面的设置会被忽略。",
                          "请把同一节的设置合并到一处。") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"配置文件 {file} 不是有效的 YAML：{exc}",
                          "请检查缩进和冒号，可对照项目根目录的 config.yaml。") from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"配置文件 {file} 的顶层应为键值对。", "请对照项目根目录的 config.yaml。")
    return config_from_dict(loaded, base_dir=file.parent, source=file)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping: YAML keeps only the last, so a second
    ``contest:`` section would silently drop the deadline written in the first."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


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
            hint = err.get("msg", "")   # a validator's own message is Chinese already
            if err["type"] != "value_error":
                hint = _TYPE_HINTS.get(err["type"], hint)
            lines.append(f"  - 配置项 {key} 的值 {err.get('input')!r} 无效（{hint.removeprefix('Value error, ')}）")
    return "\n".join(lines)


_TYPE_HINTS = {
    "int_parsing": "应为整数", "int_from_float": "应为整数", "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false", "string_type": "应为文本", "greater_than": "应大于下限",
    "greater_than_equal": "不能小于下限", "string_pattern_mismatch": "取值不在允许范围内",
    "dict_type": "应为键值对", "model_type": "应为键值对", "path_type": "应为路径",
    "tuple_type": "应为列表", "date_from_datetime_parsing": "应为日期，如 2024-04-01",
    "date_parsing": "应为日期，如 2024-04-01", "datetime_parsing": "应为时间，如 2024-04-07 23:59:59",
    "datetime_from_date_parsing": "应为时间，如 2024-04-07 23:59:59", "less_than_equal": "超过上限",
    "string_too_short": "不能为空", "missing": "缺少此项",
}


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL; None for an in-memory or a server's database."""
    if url.startswith(SQLITE) and not url.startswith(SQLITE + ":memory:"):
        return Path(url[len(SQLITE):])
    return None


def _resolve_paths(config: Config, base: Path, source: Path | None) -> Config:
    def absolute(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = Path(os.path.expanduser(p))
        return p if p.is_absolute() else base / p

    def resolved(section, *fields):
        return section.model_copy(update={name: absolute(getattr(section, name)) for name in fields})

    mailbox = resolved(config.mailbox, "password_file")
    mailbox = mailbox.model_copy(update={"receipts": resolved(mailbox.receipts, "password_file")})
    rules = config.rules.model_copy(update={"opening": resolved(config.rules.opening, "speech_model")})
    database = config.database
    file = sqlite_file(database.url)
    if file is not None and database.url != SQLITE and not database.url.startswith(SQLITE + "/"):
        database = database.model_copy(update={"url": SQLITE + str(absolute(file))})
    return config.model_copy(update={
        "rules": rules, "storage": resolved(config.storage, "root", "data_dir"),
        "watch": resolved(config.watch, "inbox", "done"), "mailbox": mailbox, "database": database, "source": source})
