"""A mailbox for tests: the config that points intake at the throwaway Dovecot, mails put into it and read back
from it, a poller on it, and a real SMTP server on loopback that keeps the receipts it is sent."""

from __future__ import annotations

import email
import json
import re
from datetime import datetime, timezone
from email import policy
from pathlib import Path

import imapclient

from intake.config import load_config
from intake.mail.links import find_large_attachment_links
from intake.mail.poller import MAIL_ARRIVAL, MailPoller
from intake.pipeline.services import open_services
from intake.pipeline.stages import process
from intake.pipeline.task import Source, SubmissionTask
from tests.conftest import OPEN_CONTEST
from tests.dovecot import PASSWORD, USER, Dovecot, free_port

# What a submitter must never read in a receipt: a command, an internal number, a reviewer's task.
FORBIDDEN = ("intake ", "作品编号", "登记编号", "评审")
INTERNAL_NUMBER = re.compile(r"#\s*\d|第\s*\d+\s*号作品")


def write_mail_config(folder: Path, port: int, **mailbox) -> None:
    """``folder/config.yaml``: the open contest, with the mailbox on the IMAP server at ``port`` (and ``mailbox``)."""
    lines = ["mailbox:", "  enabled: true", "  host: 127.0.0.1", f"  port: {port}", "  tls: false",
             f"  username: {USER}", "  poll_seconds: 1", "  fetch_chunk_bytes: 65536"]
    for key, value in mailbox.items():
        lines.append(f"  {key}: {json.dumps(value) if not isinstance(value, dict) else ''}")
        if isinstance(value, dict):
            lines += [f"    {k}: {json.dumps(v)}" for k, v in value.items()]
    (folder / "config.yaml").write_text("\n".join(lines) + "\n" + OPEN_CONTEST, encoding="utf-8")


def append(dovecot: Dovecot, *raw: bytes, folder: str = "INBOX") -> None:
    client = imapclient.IMAPClient("127.0.0.1", port=dovecot.port, ssl=False)
    client.login(USER, PASSWORD)
    for message in raw:
        client.append(folder, message)
    client.logout()


def poller_for(cwd: Path) -> MailPoller:
    return MailPoller(open_services(load_config(cwd / "config.yaml")))


def flags_of(dovecot: Dovecot, folder: str = "INBOX") -> dict[int, set[bytes]]:
    client = imapclient.IMAPClient("127.0.0.1", port=dovecot.port, ssl=False)
    client.login(USER, PASSWORD)
    client.select_folder(folder, readonly=True)
    data = client.fetch(client.search(["ALL"]), ["FLAGS"])
    client.logout()
    return {uid: set(item[b"FLAGS"]) for uid, item in data.items()}


def smtp_collector():
    """A real SMTP server on loopback (aiosmtpd) that keeps every message: (handler, controller), not started."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Collect(Sink):
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            self.messages.append(envelope)
            return "250 OK"

    handler = Collect()
    return handler, Controller(handler, hostname="127.0.0.1", port=free_port())


def received(handler) -> list[email.message.EmailMessage]:
    """The messages an ``smtp_collector`` handler kept, parsed."""
    return [email.message_from_bytes(e.content, policy=policy.default) for e in handler.messages]


def assert_for_submitters(text: str) -> None:
    for word in FORBIDDEN:
        assert word not in text, f"{word!r} in a receipt:\n{text}"
    assert not INTERNAL_NUMBER.search(text), f"an internal number in a receipt:\n{text}"


def record_mail(workdir: Path, unit: str | None, body: str | None = None) -> None:
    """A mail with no video (and, in ``body``, perhaps 超大附件 links), recorded as the poller would."""
    task = SubmissionTask(source=Source.MAIL, received_at=datetime.now(timezone.utc), unit=unit, contact="张三",
                          phone="13800138000", subject="作品", body_text=body)
    if body:
        task.attachment_links, task.mentions_large_attachment = find_large_attachment_links(body)
    process(task, open_services(load_config(workdir / "config.yaml")), MAIL_ARRIVAL)
