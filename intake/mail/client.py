"""One IMAP session: connect, log in, send ID before every SELECT, and wrap every failure as MailboxError."""

from __future__ import annotations

import ast
import contextlib
import imaplib
import logging
import os
import re
import ssl
from typing import Iterator

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from core.errors import LoginRefused, MailboxError
from core.textsafe import one_line
from intake.config import MailboxConfig

log = logging.getLogger(__name__)

HOW_TO_GET_CODE = ("授权码不是网页登录密码。请登录网易邮箱网页版 → 设置 → POP3/SMTP/IMAP → 开启“IMAP/SMTP 服务”，"
                   "按提示用手机验证后生成新的客户端授权码，填入环境变量 {env}（或 mailbox.password_file 指定的文件）。"
                   "同时请确认 mailbox.username 正确。")
# imaplib's abort, socket and SSL errors are among these (subclasses of IMAP4.error and OSError).
NETWORK_ERRORS = (IMAPClientError, imaplib.IMAP4.error, OSError, EOFError)


def read_password(cfg: MailboxConfig) -> str:
    """The authorization code from the environment or a file; never from config.yaml, never logged."""
    value = os.environ.get(cfg.password_env, "")
    if not value and cfg.password_file is not None:
        try:
            value = cfg.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MailboxError(f"无法读取授权码文件 {cfg.password_file}：{exc.strerror or exc}",
                               "请检查 mailbox.password_file。") from exc
    if not value:
        raise MailboxError(f"没有提供邮箱授权码：环境变量 {cfg.password_env} 为空，也没有设置 mailbox.password_file。",
                           "请在网易邮箱网页版“设置 → POP3/SMTP/IMAP”中开启 IMAP 并生成客户端授权码，"
                           f"然后设置环境变量 {cfg.password_env}。")
    return value


# What a server's response code (RFC 5530) means, for the one who reads why a login failed.
RESPONSE_CODES = {
    "AUTHENTICATIONFAILED": "认证失败", "AUTHORIZATIONFAILED": "没有权限", "EXPIRED": "授权码已过期",
    "UNAVAILABLE": "服务器暂时无法登录", "PRIVACYREQUIRED": "需要加密连接", "CONTACTADMIN": "请联系邮箱管理员",
}
BYTES_REPR = re.compile(r"""^b(['"])(.*)\1$""", re.DOTALL)
RESPONSE_CODE = re.compile(r"^\[([A-Z-]+)\]\s*")


def server_reply(exc: BaseException) -> str:
    """What the server answered, as text: imaplib hands its reply on as bytes, and ``str`` of that error
    reads b'[AUTHENTICATIONFAILED] Authentication failed.' (a Python repr, not a message)."""
    text = str(exc)
    wrapped = BYTES_REPR.match(text)
    if wrapped:
        try:
            text = ast.literal_eval(text).decode("utf-8", "replace")
        except (ValueError, SyntaxError):
            text = wrapped.group(2)
    return one_line(text, 200) or ""


def refused_login(exc: Exception, env: str) -> LoginRefused:
    reply = server_reply(exc)
    code = RESPONSE_CODE.match(reply)
    # The server said why in words of the standard: say it in ours.
    said = (RESPONSE_CODES.get(code.group(1)) if code else None) or (f"服务器回复：{reply}" if reply else "服务器没有说明原因")
    return LoginRefused(f"邮箱登录失败：服务器拒绝登录，授权码不对或已失效（{said}）。", HOW_TO_GET_CODE.format(env=env))


@contextlib.contextmanager
def imap_errors(action: str) -> Iterator[None]:
    """Turn whatever the network or the server throws into one MailboxError with a hint."""
    try:
        yield
    except MailboxError:
        raise
    except LoginError as exc:
        raise refused_login(exc, "INTAKE_IMAP_PASSWORD") from exc
    except NETWORK_ERRORS as exc:
        raise MailboxError(f"与邮箱服务器通信失败（{action}）：{exc.__class__.__name__}: {server_reply(exc)}",
                           "请检查网络和 mailbox.host / mailbox.port；程序会自动重连。") from exc


class MailSession:
    def __init__(self, cfg: MailboxConfig, password: str):
        self.cfg = cfg
        self._password = password
        self.client: IMAPClient | None = None
        self.capabilities: set[bytes] = set()

    @property
    def account(self) -> str:
        return f"{self.cfg.username}@{self.cfg.host}" if "@" not in self.cfg.username else self.cfg.username

    def connect(self) -> IMAPClient:
        if self.client is not None:
            return self.client
        cfg = self.cfg
        with imap_errors(f"连接 {cfg.host}:{cfg.port}"):
            context = ssl.create_default_context() if cfg.tls else None
            client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.tls, ssl_context=context,
                                timeout=cfg.timeout_seconds)
            client.normalise_times = False   # keep INTERNALDATE's own zone
            try:
                client.login(cfg.username, self._password)
            except LoginError as exc:
                with contextlib.suppress(Exception):
                    client.shutdown()
                raise refused_login(exc, cfg.password_env) from exc
            self.capabilities = set(client.capabilities())
            self.client = client
        log.info("已登录邮箱 %s", self.account)
        return client

    def set_password(self, password: str) -> None:
        """Used by the next connection (the current one, if any, stays logged in)."""
        self._password = password

    def has(self, capability: str) -> bool:
        return capability.upper().encode() in self.capabilities

    def send_id(self) -> None:
        """NetEase refuses SELECT ("Unsafe Login") unless ID came first on this connection."""
        if self.has("ID"):
            with imap_errors("发送 ID"):
                self.client.id_(dict(self.cfg.imap_id))

    def select(self, folder: str) -> tuple[int, set[bytes]]:
        """(UIDVALIDITY, PERMANENTFLAGS) of ``folder``; ID is sent first, every time."""
        client = self.connect()
        self.send_id()
        with imap_errors(f"选择文件夹 {folder}"):
            info = client.select_folder(folder)
        return int(info[b"UIDVALIDITY"]), set(info.get(b"PERMANENTFLAGS", ()))

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.logout()
            with contextlib.suppress(Exception):
                client.shutdown()
