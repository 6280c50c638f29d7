"""`intake serve` as a real process: a clean stop (Ctrl-C, SIGTERM) ends with exit 0, as its help and the README
say, not with Python's KeyboardInterrupt (已中止, 130)."""

from __future__ import annotations

import signal
import socket
import subprocess

import pytest

from tests.cli import INTAKE, run
from tests.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_stopped_cleanly_exits_0(workdir, stop):
    assert run("migrate").returncode == 0
    port = free_port()
    proc = subprocess.Popen(INTAKE + ["serve", "--port", str(port)], cwd=workdir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: listening(port) or proc.poll() is not None, 60, "the desk to listen")
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == f"工作台地址：http://127.0.0.1:{port}/（按 Ctrl-C 停止）\n"
    assert err.splitlines()[-1] == "工作台已停止。" and "已中止" not in err and "Traceback" not in err


def test_help_says_a_clean_stop_is_0(workdir):
    assert "退出码：0 正常停止（Ctrl-C 或 SIGTERM）" in run("serve", "--help").stdout
