"""``intake run`` and ``intake watch``: the long-running job, with a clean stop on a signal."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.errors import DatabaseGone, IntakeError
from intake.config import Config
from intake.folder import Finished
from intake.logsetup import logging_progress
from intake.services import open_services
from intake.watcher import InboxWatcher
from validators import children

log = logging.getLogger(__name__)
STALE_WORK_SECONDS = 6 * 3600
RESTART_SECONDS = 5.0   # first wait before a source that failed starts again; doubles up to 5 minutes


@dataclass(frozen=True)
class StartupSummary:
    inbox: Path
    done: Path
    watch_mode: str
    settle_seconds: float
    database: str
    store: Path
    mailbox: str | None     # None when the mailbox is off


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
                import shutil

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
    mailbox = None
    if with_mailbox and config.mailbox.enabled:
        from intake.mail.poller import MailPoller

        poller = MailPoller(services)   # reads the password now: a missing one stops the start-up
        mailbox = f"{poller.session.account} 的 {config.mailbox.folder}"
        poller_thread = threading.Thread(target=_poll_safely, args=(poller, stop, on_mail, once, fatal),
                                         name="mailbox", daemon=True)
    watcher = InboxWatcher(services, config.watch, on_finished=on_finished)
    watcher.start()
    if on_start:
        on_start(StartupSummary(config.watch.inbox, config.watch.done, watcher.mode, config.watch.settle_seconds,
                                services.db.safe_url, config.storage.root, mailbox))
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
        log.info("已停止。")
    if fatal:
        raise fatal[0]   # the command ends with the mailbox's error and a failing exit code


def _poll_safely(poller, stop: threading.Event, on_mail, once: bool, fatal: list[BaseException]) -> None:
    """The mailbox thread. poller.run() already waits out every failure and goes on; this loop is the last
    guard, so that nothing (a bug in the loop itself) ends the thread while the folder watcher looks healthy."""
    delay = RESTART_SECONDS
    while not stop.is_set():
        try:
            poller.run(stop, on_result=on_mail, once=once)
            return
        except DatabaseGone as exc:
            fatal.append(exc)
            stop.set()   # logged by the poller; the whole job stops rather than record into a lost file
            return
        except IntakeError as exc:   # only ``once`` lets one through: it is the pass's result, logged
            log.error("邮箱接收出错：%s", exc)
            if once:
                return
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
