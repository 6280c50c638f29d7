"""Connections the desk keeps: a request's headers must arrive within a few seconds, and one address may hold
only so many connections at once.

uvicorn times out only idle connections *between* requests: a connection that sends nothing, or half a request
line, stays open for good, and two hundred of them from one machine would shut the desk for everyone. uvicorn has
no setting for either bound, so its h11 protocol is extended through the class it takes as ``http=``.

Past the cap, a new connection takes the place of its address's oldest connection still waiting for a request's
head: a machine flooding the desk with empty connections closes its own, and a real request from it still gets
through. Only when all of them are busy with requests is the new connection refused.
"""

from __future__ import annotations

import asyncio
import logging
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

WARN_EVERY_SECONDS = 60   # one line per flooding address a minute, not one per refused connection


def guarded_protocol(header_timeout: float, per_address: int) -> type[H11Protocol]:
    """An HTTP/1.1 protocol class for one server, with its own count of connections per address."""

    class GuardedH11Protocol(H11Protocol):
        # Each server counts its own connections (a class per server).
        open_per_address: dict[str, dict[GuardedH11Protocol, None]] = {}   # in the order they opened
        warned_at: dict[str, float] = {}

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.address = self.client[0] if self.client else "?"
            self.header_timer: asyncio.TimerHandle | None = None
            others = self.open_per_address.setdefault(self.address, {})
            if len(others) >= per_address:
                self._warn_flood()
                waiting = next((c for c in others if c.conn.their_state is h11.IDLE and not c.transport.is_closing()),
                               None)
                if waiting is None:
                    transport.abort()
                    return
                waiting.transport.abort()   # its connection_lost takes it off the list
            others[self] = None
            self._start_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:
                # Still waiting for the rest of a request's head. The clock started when the connection
                # opened, or for a later request on a kept-alive connection, at its first byte.
                if self.header_timer is None:
                    self._start_header_timer()
            else:
                self._stop_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_header_timer()
            others = self.open_per_address.get(self.address, {})
            others.pop(self, None)
            if not others:
                self.open_per_address.pop(self.address, None)
            super().connection_lost(exc)

        def _start_header_timer(self) -> None:
            self.header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _stop_header_timer(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _headers_too_slow(self) -> None:
            self.header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                log.debug("%s 在 %s 秒内没有发完请求头，已断开", self.address, header_timeout)
                self.transport.close()

        def _warn_flood(self) -> None:
            now = time.monotonic()
            if now - self.warned_at.get(self.address, -WARN_EVERY_SECONDS) >= WARN_EVERY_SECONDS:
                self.warned_at[self.address] = now
                log.warning("来自 %s 的连接超过 %d 个：新连接取代其中最早的空闲连接（desk.max_connections_per_address）",
                            self.address, per_address)
    return GuardedH11Protocol
