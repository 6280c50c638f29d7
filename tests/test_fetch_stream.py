"""Streaming a part from a real Dovecot (intake/mail/fetch.py): chunks fetched ahead on a helper thread,
an early stop that leaves the session usable, and a debug log that never holds the attachment."""

from __future__ import annotations

from core.errors import TooBig
import logging
import os

import pytest

from intake.config import MailboxConfig
from intake.mail.client import MailSession
from intake.mail.fetch import PartFetcher
from intake.mail.structure import leaf_parts
from tests import mails
from tests.dovecot import PASSWORD, USER
from tests.mailboxes import append

PAYLOAD = os.urandom(300_000)   # the mail's chunks (64 KiB) end mid-line and mid-group


@pytest.fixture
def session(dovecot):
    append(dovecot, mails.modern("柳南区 作品", "单位：柳南区", [("work.mp4", PAYLOAD, "video/mp4")]))
    cfg = MailboxConfig(host="127.0.0.1", port=dovecot.port, tls=False, username=USER, fetch_chunk_bytes=65536)
    session = MailSession(cfg, PASSWORD)
    session.select("INBOX")
    try:
        yield session
    finally:
        session.close()


def video_part(session: MailSession):
    uid = session.client.search(["ALL"])[0]
    body = session.client.fetch([uid], ["BODYSTRUCTURE"])[uid][b"BODYSTRUCTURE"]
    return uid, next(p for p in leaf_parts(body) if p.mime_type == "video/mp4")


def test_a_part_streams_whole_and_the_debug_log_holds_no_literal(session, caplog):
    uid, part = video_part(session)
    received = bytearray()
    with caplog.at_level(logging.DEBUG, logger="imapclient"):
        size = PartFetcher(session, session.cfg).stream_part(uid, part, received.extend)
    assert size == len(PAYLOAD) and bytes(received) == PAYLOAD
    said = [r.getMessage() for r in caplog.records if r.name.startswith("imapclient")]
    assert any("BODY.PEEK[2]<65536.65536>" in line for line in said)   # commands are still logged
    assert max(map(len, said)) < 2000                                   # the 64 KiB chunks are not


def test_too_big_stops_the_download_and_the_session_goes_on(session):
    uid, part = video_part(session)
    fetcher = PartFetcher(session, session.cfg)
    pieces: list[bytes] = []
    with pytest.raises(TooBig):
        fetcher.stream_part(uid, part, pieces.append, limit=100_000)
    assert 0 < sum(map(len, pieces)) <= 100_000
    head = fetcher.first_bytes(uid, part)   # the fetch left under way was finished, not left half-read
    assert head and PAYLOAD.startswith(head)
