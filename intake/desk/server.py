"""Running the desk: uvicorn on one address, HTTPS when a certificate is given."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import uvicorn

from core.errors import IntakeError, UsageError
from intake.config import Config
from intake.desk.app import create_app
from intake.desk.connections import guarded_protocol
from intake.desk.hosts import ANY_ADDRESS, allowed_hosts, is_loopback_name
from intake.pipeline.services import Services

MAX_CONNECTIONS = 200     # an office's reviewers open a few each; far more is someone holding them open
KEEP_ALIVE_SECONDS = 5


@dataclass(frozen=True)
class Plan:
    """Where the desk will listen, and what to tell the operator before it does."""

    host: str
    port: int
    certfile: str | None
    keyfile: str | None
    warnings: tuple[str, ...]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.certfile else 'http'}://{host}:{self.port}/"


def plan(config: Config, services: Services, host: str | None, port: int | None, certfile: str | None,
         keyfile: str | None) -> Plan:
    """Check the options; UsageError when the desk may not start so (an open address without accounts)."""
    host = host or config.desk.host
    port = port or config.desk.port
    if bool(certfile) != bool(keyfile):
        raise UsageError("--certfile 和 --keyfile 必须同时指定（证书和私钥）。")
    accounts = services.db.accounts.all()
    warnings = []
    if not is_loopback_name(host.strip("[]")):
        if not accounts:
            raise UsageError(f"工作台要在 {host} 上对其他电脑开放，但还没有任何账号。",
                             "请先用 intake user add 名字 --role admin 创建账号。")
        warnings.append(f"警告：工作台在 {host}:{port} 上对局域网开放，能访问这台电脑的人都能打开登录页。"
                        + ("" if certfile else "未启用 HTTPS，密码以明文传输；建议用 --certfile/--keyfile 启用 HTTPS。"))
        if host.strip("[]") in ANY_ADDRESS and not config.desk.allowed_hosts:
            warnings.append("注意：工作台只接受以本机地址（127.0.0.1、localhost）打开的请求；其他电脑用哪个地址或名称打开，"
                            "请把它写进 config.yaml 的 desk.allowed_hosts。")
    elif not accounts:
        warnings.append("还没有任何账号，无法登录。请先用 intake user add 名字 --role admin 创建账号。")
    return Plan(host, port, certfile, keyfile, tuple(warnings))


def server_for(config: Config, services: Services, chosen: Plan) -> uvicorn.Server:
    desk = config.desk
    app = create_app(config, services, hosts=allowed_hosts(chosen.host, desk.allowed_hosts))
    return uvicorn.Server(uvicorn.Config(
        app, host=chosen.host, port=chosen.port, ssl_certfile=chosen.certfile, ssl_keyfile=chosen.keyfile,
        log_level="warning", access_log=False, proxy_headers=False, server_header=False, lifespan="off",
        # Bounds for an office desk: past MAX_CONNECTIONS open connections the server answers 503 instead of
        # taking more, so connections left open (or trickling) cannot use up its files; idle ones close soon,
        # a request's headers must come within desk.header_timeout_seconds, and one address may hold at most
        # desk.max_connections_per_address of them (see connections.py), so one machine cannot fill the rest.
        limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=KEEP_ALIVE_SECONDS,
        http=guarded_protocol(desk.header_timeout_seconds, desk.max_connections_per_address)))


def serve_in_thread(server: uvicorn.Server) -> threading.Thread:
    """Start ``server`` on a thread; stop it with ``server.should_exit = True``."""
    thread = threading.Thread(target=server.run, name="desk", daemon=True)
    thread.start()
    return thread


def start_desk(config: Config, services: Services, wait_seconds: float = 20) -> tuple[uvicorn.Server, Plan]:
    """The desk of ``intake run`` started on a thread; UsageError or IntakeError when it cannot start."""
    chosen = plan(config, services, None, None, None, None)
    server = server_for(config, services, chosen)
    thread = serve_in_thread(server)
    deadline = time.monotonic() + wait_seconds
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)   # uvicorn says nothing when it is listening: look at its flag
    if not server.started:
        server.should_exit = True
        raise IntakeError(f"无法在 {chosen.url} 上启动工作台（端口可能已被占用，或地址不属于这台电脑）。",
                          "请修改 config.yaml 中的 desk.host / desk.port，或设 desk.enabled: false。")
    return server, chosen
