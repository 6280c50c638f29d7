"""Which ``Host`` the desk answers to: the loopback names, the address it was told to listen on and
``desk.allowed_hosts``; any other name is refused before routing.

A page on the internet can point its own name at 127.0.0.1 (DNS rebinding) and then read the loopback desk
as if it were its own site; the browser still sends that name in ``Host``, so refusing unknown names stops it.
Starlette's ``TrustedHostMiddleware`` does the same check but answers in English; a reviewer who typed the
office machine's name must be told in Chinese what to set.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")


def host_name(header: str | None) -> str | None:
    """The name in a ``Host`` header, lower case, without its port or IPv6 brackets; None when malformed."""
    text = (header or "").strip().lower()
    if not text or any(c.isspace() or c in "/\\@?#" for c in text):
        return None
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return inside
    name, colon, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if colon and not port.isdigit():
        return None
    return (name if colon else text).rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(listen_host: str | None, configured: Iterable[str]) -> frozenset[str]:
    """The names besides loopback's: the address listened on (unless it is every address) and the config's."""
    names = {host_name(name) or "" for name in configured}
    listened = host_name(listen_host) if listen_host else None
    if listened and listened not in ANY_ADDRESS:
        names.add(listened)
    return frozenset(names - {""})


class HostGuard:
    """ASGI middleware: a request whose ``Host`` is not one of the desk's names gets 400 and a Chinese hint."""

    def __init__(self, app, hosts: frozenset[str]):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        name = host_name(Headers(scope=scope).get("host"))
        if name is not None and (is_loopback_name(name) or name in self.hosts):
            return await self.app(scope, receive, send)
        refused = PlainTextResponse(
            f"工作台不接受用“{name or '（空）'}”这个名称访问。请用本机地址（如 http://127.0.0.1:端口/）打开；"
            "如需用这个名称或地址访问，请管理员把它加到 config.yaml 的 desk.allowed_hosts 中后重启工作台。",
            status_code=400)
        await refused(scope, receive, send)
