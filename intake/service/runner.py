"""``intake run`` and ``intake watch``: the long-running job, with a clean stop on a signal."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from core.errors import DatabaseGone, IntakeError, MailboxError
from core.timefmt import SHANGHAI, local_text
from intake.config import Config
from intake.inbox.folder import Finished
from intake.service.logsetup import logging_progress
from intake.pipeline.services import open_services
from intake.service.sources import SourceStatus
from intake.inbox.watcher import InboxWatcher
from validators import children, ocr_worker

log = logging.getLogger(__name__)
STALE_WORK_SECONDS = 6 * 3600
RESTART_SECONDS = 5.0   # first wait before a source that failed starts again; doubles up to 5 minutes


@dataclass(frozen=True)
class MailboxState:
    """What the start-up summary says of the mailbox: off, receiving as ``account``, or waiting (``problem``)."""

    enabled: bool
    account: str = ""
    host: str = ""
    folder: str = ""
    problem: str | None = None   # why it does not receive yet (no authorization code); it is tried again


@dataclass(frozen=True)
class StartupSummary:
    config_file: Path | None   # None: no config file, the built-in defaults
    inbox: Path
    done: Path
    watch_mode: str
    settle_seconds: float
    database: str              # the URL with any password hidden
    store: Path
    deadline: datetime
    mailbox: MailboxState

    @property
    def deadline_passed(self) -> bool:
        return datetime.now(SHANGHAI) > self.deadline


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and the first Ctrl-C ask for a clean stop; a second Ctrl-C stops at once."""

    def ask_stop(signum, _frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.info("收到停止信号，正在退出（未处理完的文件和邮件下次再处理）……")
        stop.set()
        children.cancel_all()   # a long ffmpeg run must not hold the stop for minutes

    signal.signal(signal.SIGTERM, ask_stop)
    signal.signal(signal.SIGINT, ask_stop)


def clean_stale_work(config: Config) -> None:
    """Remove unpack folders left by a killed run (old enough that no live worker owns them)."""
    work = config.storage.data_dir / "work"
    if not work.is_dir():
        return
    now = time.time()
    for entry in work.iterdir():
        try:
            if now - entry.stat().st_mtime > STALE_WORK_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def run_main_job(config: Config, stop: threading.Event, *, with_mailbox: bool,
                 on_start: Callable[[StartupSummary], None] | None = None,
                 on_finished: Callable[[Finished], None] | None = None,
                 on_mail: Callable | None = None, once: bool = False) -> None:
    services = open_services(config, progress=logging_progress)
    clean_stale_work(config)
    poller_thread = None
    fatal: list[BaseException] = []   # what made the mailbox thread stop the whole job
    mailbox = MailboxState(False)
    if with_mailbox and config.mailbox.enabled:
        poller, mailbox = _start_mailbox(services, once, fatal)
        if poller is not None or not once:
            poller_thread = threading.Thread(target=_poll_safely, args=(services, poller, stop, on_mail, once, fatal),
                                             name="mailbox", daemon=True)
    watcher = InboxWatcher(services, config.watch, on_finished=on_finished)
    watcher.start()
    summary = StartupSummary(config.source.resolve() if config.source else None, config.watch.inbox,
                             config.watch.done, watcher.mode, config.watch.settle_seconds, services.db.safe_url,
                             config.storage.root, config.contest.deadline, mailbox)
    if summary.deadline_passed:
        log.warning("截止时间 %s 已过：此后收到的作品都会带“截止时间”提醒（延期请修改 contest.deadline）。",
                    local_text(summary.deadline))
    if on_start:
        on_start(summary)
    ocr_worker.start_service()   # one OCR process for the whole run: the models load once, not per video
    if poller_thread is not None:
        poller_thread.start()
    try:
        _watch_safely(watcher, stop, once)
        if poller_thread is not None and once:
            poller_thread.join()
    finally:
        stop.set()
        watcher.stop()
        if poller_thread is not None:
            poller_thread.join(timeout=30)
        ocr_worker.stop_service()
        log.info("已停止。")
    if fatal:
        raise fatal[0]   # the command ends with the mailbox's error and a failing exit code


def _start_mailbox(services, once: bool, fatal: list[BaseException]):
    """(the poller, or None while the authorization code is missing; the mailbox's state for the summary).
    A missing code does not stop the folder intake; ``--once`` ends with it (exit 1) after the folder's pass."""
    from intake.mail.client import MailSession

    cfg = services.config.mailbox
    account = MailSession(cfg, "").account
    poller, missing = _new_poller(services)
    if missing is not None:
        log.error("邮箱 %s 暂不接收（投递文件夹照常接收）：%s %s", account, missing.message, missing.hint or "")
        if once:
            fatal.append(missing)
    return poller, MailboxState(True, account, cfg.host, cfg.folder, problem=missing.message if missing else None)


def _new_poller(services):
    """(a poller, None), or (None, the error) while the authorization code is missing; the mailbox's status
    file notes that error, as the poller notes its own."""
    from intake.mail.poller import MailPoller

    try:
        return MailPoller(services), None   # reads the authorization code now
    except MailboxError as exc:
        SourceStatus(services.config.storage.data_dir, "mailbox", "邮箱接收").failed(exc.message)
        return None, exc


def _poll_safely(services, poller, stop: threading.Event, on_mail, once: bool,
                 fatal: list[BaseException]) -> None:
    """The mailbox thread: the last guard, so that nothing (a bug in the poller's own loop) ends it while the
    folder watcher looks healthy. Without a poller (no authorization code yet) it asks for the code again."""
    delay = RESTART_SECONDS
    while not stop.is_set():
        if poller is None:   # the code was missing: ask again after the wait
            stop.wait(delay)
            delay = min(delay * 2, 300.0)
            if stop.is_set():
                continue
            poller, missing = _new_poller(services)
            if missing is not None:
                log.warning("邮箱仍未接收（%.0f 秒后再试）：%s", delay, missing.message)
                continue
            log.info("已读到邮箱授权码，开始接收邮箱。")
            delay = RESTART_SECONDS
        try:
            poller.run(stop, on_result=on_mail, once=once)
            return
        except DatabaseGone as exc:
            fatal.append(exc)
            stop.set()   # logged by the poller; the whole job stops rather than record into a lost file
            return
        except IntakeError as exc:   # only ``once`` lets one through: it is the pass's result, logged
            log.error("邮箱接收出错：%s", exc)
        except Exception:
            log.exception("邮箱接收线程出错（%.0f 秒后重新开始接收）", delay)
        if once:
            return
        stop.wait(delay)
        delay = min(delay * 2, 300.0)


def _watch_safely(watcher, stop: threading.Event, once: bool) -> None:
    """The folder watcher, kept alive like the mailbox: whatever escapes it is logged and it starts again after
    a wait. Only a lost database file (DatabaseGone) or ``once`` ends the job with the error."""
    delay = RESTART_SECONDS
    while not stop.is_set():
        try:
            watcher.run(stop, once=once)
            return
        except DatabaseGone:
            raise
        except Exception as exc:
            if once:
                raise
            watcher.status.failed(exc.message if isinstance(exc, IntakeError) else f"{type(exc).__name__}: {exc}")
            if isinstance(exc, IntakeError):
                log.error("投递文件夹处理出错：%s（%.0f 秒后继续）", exc, delay)
            else:
                log.exception("投递文件夹处理遇到意外错误（%.0f 秒后继续）", delay)
        stop.wait(delay)
        delay = min(delay * 2, 300.0)
