"""``intake serve``: the screening desk in the browser."""

from __future__ import annotations

import signal

import click

from core.errors import IntakeError

from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, echo_each


@click.command("serve", options_metavar="[选项]")
@click.option("--host", metavar="地址", help="监听地址（默认 desk.host，即 127.0.0.1，只供本机使用）。")
@click.option("--port", type=click.IntRange(1, 65535), metavar="端口", help="监听端口（默认 desk.port，即 8080）。")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), metavar="文件",
              help="HTTPS 证书文件（PEM）；与 --keyfile 一起指定时启用 HTTPS。")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), metavar="文件", help="HTTPS 私钥文件（PEM）。")
@pass_app
def serve(app: AppContext, host: str | None, port: int | None, certfile: str | None, keyfile: str | None) -> int:
    """在浏览器中进行初步筛选：登录后查看概览和作品列表、播放视频、记录评审决定、修改信息。

    默认只供本机使用（127.0.0.1）；对局域网开放（--host 为其他地址）时必须已有账号，并会给出警告。
    账号用 intake user add 创建。按 Ctrl-C 停止。退出码：0 正常停止（Ctrl-C 或 SIGTERM）；2 用法错误；1 运行故障（如端口被占用）。
    """
    from intake.desk.server import plan, server_for
    from validators import children
    from intake.service.logsetup import setup_logging

    setup_logging(app.config)   # failed logins and lockouts go to data/logs/intake.log as well as stderr
    services = app.services()
    chosen = plan(app.config, services, host, port, certfile, keyfile)
    echo_each(chosen.warnings, err=True)
    echo(f"工作台地址：{chosen.url}（按 Ctrl-C 停止）")
    server = server_for(app.config, services, chosen)
    stopped: list[int] = []

    def stop(signum, _frame) -> None:
        stopped.append(signum)
        server.should_exit = True
        children.cancel_all()   # the desk's ffmpegs (pictures, a recheck) end with it

    # uvicorn stops on Ctrl-C or SIGTERM and then raises the signal again for the handlers it found: with
    # Python's own, that is a KeyboardInterrupt (已中止, exit 130) after a clean stop. Ours only note it, and
    # stop a server still starting (uvicorn's handlers are not in place yet then).
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except SystemExit:   # uvicorn exits when it cannot listen (it has logged why)
        server.started = False
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopped:
        echo("工作台已停止。", err=True)
        return 0
    if not server.started:
        raise IntakeError(f"无法在 {chosen.url} 上启动工作台（端口可能已被占用，或地址不属于这台电脑）。",
                          "请换一个端口（--port）或检查 --host。")
    return 0
