"""A loopback TCP proxy for tests: records what the client sends, and can cut a connection mid-stream."""

from __future__ import annotations

import socket
import threading


class Proxy:
    def __init__(self, target_port: int, cut_after: int | None = None):
        self.target_port = target_port
        self.cut_after = cut_after          # cut the first connection after this many server bytes
        self.sent: list[bytearray] = []     # per connection: what the client sent
        self.received = 0                   # server bytes passed to clients, all connections
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            record = bytearray()
            self.sent.append(record)
            cut = self.cut_after if len(self.sent) == 1 else None
            threading.Thread(target=self._pump, args=(client, server, record, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None, cut), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, record, cut: int | None) -> None:
        passed = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None:
                    record.extend(data)
                else:
                    self.received += len(data)
                if cut is not None and passed + len(data) >= cut:
                    dst.sendall(data[: max(0, cut - passed)])
                    break
                passed += len(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._stop = True
        self.listener.close()
