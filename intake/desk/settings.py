"""The settings in force (admins), read-only: every key of config.yaml with its Chinese description and
effective value, section by section. Secrets never show: a password in the database address is masked,
and a key that could hold one (password, secret, token) shows only whether it is set."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from core.timefmt import local_text
from intake.desk.guard import allowed, seen

SECTION_LABELS = {
    "contest": "活动", "rules": "检查规则", "rules.opening": "开头语",
    "rules.sensitive": "敏感信息", "rules.repair": "自动修复", "watch": "投递文件夹", "mailbox": "邮箱接收",
    "mailbox.receipts": "回执", "storage": "文件存储", "database": "数据库", "processing": "出错重试",
    "logging": "日志", "desk": "浏览器工作台", "contest.scoring": "评分",
}
ORDER = ("contest", "rules", "watch", "mailbox", "storage", "database", "processing", "logging", "desk")
# Keys that name where a secret is kept (not the secret itself) are shown as they are.
SECRET_WORDS = ("password", "secret", "token", "api_key")
NOT_SECRETS = ("password_env", "password_file")
MASK = "******"


@allowed("settings")
def settings_page(request: Request) -> Response:
    desk = seen(request)
    config = desk.config
    names = [name for name in ORDER if name in type(config).model_fields]
    names += [name for name in type(config).model_fields if name not in names and name != "source"]
    sections = [section for name in names for section in sections_of(getattr(config, name), name)]
    return desk.render("settings.html.j2", request.user, sections=sections,
                       source=str(config.source) if config.source else "（没有配置文件，全部为默认值）")


def sections_of(model: BaseModel, path: str) -> list[dict[str, Any]]:
    """The section at ``path`` (its plain keys) followed by its nested sections."""
    rows, nested = [], []
    for name, field in type(model).model_fields.items():
        if field.exclude:
            continue
        key, value = f"{path}.{name}", getattr(model, name)
        if isinstance(value, BaseModel):
            nested += sections_of(value, key)
            continue
        rows.append({"key": key, "label": (field.description or "").replace("`", ""), "value": shown(key, value)})
    return [{"path": path, "label": SECTION_LABELS.get(path, path), "rows": rows}, *nested]


def shown(key: str, value: Any) -> str:
    """A value as the page shows it; a secret only as set or not."""
    name = key.rsplit(".", 1)[-1]
    if any(word in name for word in SECRET_WORDS) and name not in NOT_SECRETS:
        return MASK if value else "（未设置）"
    if key == "database.url":
        return masked_url(str(value))
    return _text(value)


def masked_url(url: str) -> str:
    """The database address with its password (if any, also as a query option) masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return MASK   # unreadable: it might hold anything
    # libpq also takes the password as a query option (?password=…, ?sslpassword=…)
    query = {key: MASK if any(word in key.lower() for word in SECRET_WORDS) else value
             for key, value in parsed.query.items()}
    shown = parsed.set(query=query).render_as_string(hide_password=True)
    if parsed.password:
        shown = shown.replace("***", MASK)
    return shown.replace(quote(MASK), MASK)


def _text(value: Any) -> str:
    if value is None:
        return "（未设置）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):   # 120, not 120.0; 0.3 stays
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, datetime):
        return local_text(value) + "（北京时间）"
    if isinstance(value, (date, Path, Enum)):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, BaseModel):   # an entry of a list, such as a unit with its aliases
        fields = value.model_dump()
        first, *rest = fields.values()
        extra = "；".join(_text(v) for v in rest if v)
        return f"{_text(first)}（{extra}）" if extra else _text(first)
    if isinstance(value, (list, tuple)):
        return "、".join(_text(v) for v in value) if value else "（无）"
    if isinstance(value, dict):
        return "；".join(f"{k}：{_text(v)}" for k, v in value.items()) if value else "（无）"
    return str(value)
