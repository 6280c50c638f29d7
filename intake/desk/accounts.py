"""The desk's accounts: roles and what each may do, password hashes (scrypt, memory-hard), logins with
throttling per account and per address, and sessions whose cookie holds a token the database only knows
by its SHA-256."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from starlette.authentication import BaseUser

from core.errors import UsageError
from core.textsafe import one_line

if TYPE_CHECKING:  # the database pulls in SQLAlchemy
    from storage.database import Database
    from storage.records import LoginTry

log = logging.getLogger("intake.desk.login")

ROLES = {"clerk": "登记员", "reviewer": "评委", "admin": "管理员"}
# Who may do what; an admin may do everything.
MAY = {
    "decide": {"reviewer", "admin"},
    "score": {"reviewer", "admin"},
    "edit": {"clerk", "admin"},
    "recheck": {"clerk", "admin"},
    "users": {"admin"},
    "export": {"admin"},
    "settings": {"admin"},
    "attach": {"clerk", "admin"},
    "receipt": {"clerk", "admin"},
    "scoring": {"admin"},   # 结束评分 / 重新开放评分
}
MIN_PASSWORD = 8
# scrypt with N=2**14, r=8: 16 MiB of memory for each try.
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **SCRYPT)
    return "$".join(["scrypt", str(SCRYPT["n"]), str(SCRYPT["r"]), str(SCRYPT["p"]), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash() -> str:
    """Checked when a name is unknown, so that a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_hex(8))


def account_name(name: str) -> str:
    """A name as it is stored: one line, 1–100 characters, no spaces; UsageError otherwise."""
    cleaned = one_line(name, 200) or ""
    if not cleaned or len(cleaned) > 100 or any(ch.isspace() for ch in cleaned) or cleaned != name:
        raise UsageError(f"账号名“{cleaned}”无效：应为 1–100 个字符，不含空格和控制字符。")
    return cleaned


def new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"密码太短：至少 {MIN_PASSWORD} 个字符。")
    if password != password.strip() or "\n" in password:
        raise UsageError("密码的开头和结尾不能是空格或换行。")
    return password


def add_account(db: Database, name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise UsageError(f"角色“{role}”无效：应为 clerk（登记员）、reviewer（评委）或 admin（管理员）。")
    db.accounts.add(account_name(name), role, hash_password(new_password(password)))


def _no_account(name: str) -> UsageError:
    return UsageError(f"没有名为“{name}”的账号。", "请用 intake user list 查看账号。")


def change_password(db: Database, name: str, password: str) -> None:
    """Set a new password; the account's open sessions end. UsageError for an unknown name."""
    if not db.accounts.set_password(name, hash_password(new_password(password))):
        raise _no_account(name)


def remove_account(db: Database, name: str) -> None:
    if not db.accounts.remove(name):
        raise _no_account(name)


@dataclass
class Throttle:
    """Login tries per account and per address within ``window`` seconds, counted in the database before the
    password is checked: forty guesses sent at once are counted one by one, and only as many as the limit reach
    the (slow) hash. Every desk process and ``intake user unlock`` see the same counts."""

    per_account: int
    per_address: int
    window: float
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def begin(self, db: Database, name: str, address: str) -> LoginTry:
        return db.accounts.begin_login(name, address, self.clock(), self.window, self.per_account, self.per_address)


class LoginForms:
    """The login form's anti-forgery token, made by this server: ``issued.nonce.mac``, where the MAC is keyed by a
    secret that lives only in this process. A value a page chose for both the cookie and the field does not
    verify; a token expires after ``lifetime`` seconds (a server restart voids it: the form is simply shown again)."""

    def __init__(self, lifetime: float = 3600, clock: Callable[[], float] = time.time):
        self._key = secrets.token_bytes(32)
        self.lifetime = lifetime
        self.clock = clock

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        body = f"{int(self.clock())}.{secrets.token_urlsafe(18)}"
        return f"{body}.{self._mac(body)}"

    def valid(self, token: str) -> bool:
        issued, _, rest = token.partition(".")
        nonce, _, mac = rest.partition(".")
        if not (issued.isdigit() and nonce and mac and token.isascii()):
            return False
        if not hmac.compare_digest(mac, self._mac(f"{issued}.{nonce}")):
            return False
        return 0 <= self.clock() - int(issued) <= self.lifetime


class Refused(Exception):
    """A login or a POST refused; ``message`` says why, in Chinese; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Account(BaseUser):
    """The logged-in person behind a request (``request.user``)."""

    name: str
    role: str
    csrf: str
    token_hash: str

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)

    def may(self, action: str) -> bool:
        return self.role in MAY[action]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def log_in(db: Database, throttle: Throttle, name: str, password: str, address: str, hours: float) -> str:
    """Check the password and open a session; returns the cookie's token. Refused when it fails; every
    failure and lockout is logged with the name as typed and the address."""
    name = one_line(name, 100) or ""
    attempt = throttle.begin(db, name, address)
    if attempt.id is None:
        log.warning("工作台登录被拒绝（%s已锁定）：账号“%s”，地址 %s",
                    "账号" if attempt.locked == "account" else "该地址", name, address)
        raise Refused(429, f"登录失败次数过多，请 {max(1, round(attempt.wait_seconds / 60))} 分钟后再试。")
    user = db.accounts.get(name) if name else None
    good = verify_password(password, user.password_hash if user else _dummy_hash()) and user is not None
    if not good:
        log.warning("工作台登录失败：账号“%s”，地址 %s", name, address)
        if attempt.account_tries >= throttle.per_account:
            log.warning("工作台账号“%s”登录失败 %d 次，锁定 %d 秒（最近一次来自 %s）；管理员可用 intake user unlock 提前解除",
                        name, attempt.account_tries, throttle.window, address)
        if attempt.address_tries >= throttle.per_address:
            log.warning("地址 %s 登录失败 %d 次，锁定 %d 秒", address, attempt.address_tries, throttle.window)
        raise Refused(401, "账号或密码不正确。")
    db.accounts.clear_logins(name)
    token = secrets.token_urlsafe(32)
    db.accounts.start_session(user.id, token_hash(token), secrets.token_urlsafe(32),
                              datetime.now(timezone.utc) + timedelta(hours=hours))
    return token


def unlock_account(db: Database, name: str, actor: str | None = None) -> int:
    """Forget the account's failed logins (audited as ``user_unlocked``); how many there were."""
    if db.accounts.get(name) is None:
        raise _no_account(name)
    cleared = db.accounts.clear_logins(name)
    db.audit.record("user_unlocked", {"name": name, "failures": cleared}, actor=actor)
    return cleared


def account_of(db: Database, token: str | None) -> Account | None:
    """The account of a session cookie, or None (no cookie, unknown, expired, or the account is gone)."""
    if not token or len(token) > 200:
        return None
    hashed = token_hash(token)
    found = db.accounts.session_user(hashed)
    if found is None:
        return None
    user, csrf = found
    return Account(user.name, user.role, csrf, hashed)
