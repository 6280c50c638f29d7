"""JSON lines between a parent and a worker child on a Unix socket; open descriptors travel with a message
(SCM_RIGHTS), so a worker reads the very file the parent opened, never a path."""

from __future__ import annotations

import json
import os
import socket

MAX_MESSAGE = 4 * 1024 * 1024


def send(sock: socket.socket, message: dict, fds: tuple[int, ...] = ()) -> None:
    data = json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n"
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        data = data[sent:]
    sock.sendall(data)


def receive(sock: socket.socket) -> tuple[dict, list[int]] | None:
    """The next message and the descriptors that came with it; None when the other side has closed."""
    chunks: list[bytes] = []
    fds: list[int] = []
    while True:
        data, new_fds, _, _ = socket.recv_fds(sock, 65536, 4)
        fds += new_fds
        if not data:
            for fd in fds:
                os.close(fd)
            return None
        chunks.append(data)
        if data.endswith(b"\n"):
            return json.loads(b"".join(chunks)), fds
        if sum(map(len, chunks)) > MAX_MESSAGE:
            raise ValueError("子进程的输出过长")


def memory_mb(field: str = "VmRSS") -> float:
    """This process's resident memory, now (VmRSS) or at its peak (VmHWM), in MB; 0 where /proc has none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024
    except (OSError, StopIteration, ValueError):
        return 0.0
