"""Watch the inbox: queue paths from watchdog events and rescans, process each once it has settled.

The watchdog handler only queues paths; all work happens in ``InboxWatcher.run``, one file at a time.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from core.errors import DatabaseGone, IntakeError, RefusedEntry, RetryLater, SourceChanged, Stopped
from core.textsafe import one_line
from intake.config import WatchConfig
from intake.inbox.folder import PATH_MAX_BYTES, Finished, handle_dropped, is_submission_file, scan_inbox
from intake.inbox.door import InboxFile, ignore_lease_breaks, kind_name
from intake.pipeline.services import Services
from intake.service.sources import SourceStatus

log = logging.getLogger(__name__)

NETWORK_FS = {"cifs", "smb3", "smbfs", "nfs", "nfs4", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs",
              "fuse.glusterfs", "davfs", "fuse.davfs2", "virtiofs", "vboxsf", "fuse.vmhgfs-fuse"}
MAX_RETRY_DELAY = 600.0


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    stable_since: float
    retry_at: float = 0.0
    failures: int = 0


@dataclass
class StableFiles:
    """Candidates until their size and mtime have not changed for ``settle`` seconds and ``can_open`` agrees;
    one replaced by a link, a FIFO or a device is dropped and reported to ``on_refused``."""

    settle: float
    clock: Callable[[], float] = time.monotonic
    seen: dict[Path, _Seen] = field(default_factory=dict)
    can_open: Callable[[Path], bool] = lambda path: True
    on_refused: Callable[[Path, str], None] = lambda path, reason: None

    def add(self, path: Path) -> None:
        if path not in self.seen:
            self.seen[path] = _Seen(-1, -1, self.clock())

    def discard(self, path: Path) -> None:
        self.seen.pop(path, None)

    def __len__(self) -> int:
        return len(self.seen)

    def ready(self) -> list[Path]:
        now = self.clock()
        out = []
        for path, state in list(self.seen.items()):
            try:
                st = os.lstat(path)
            except OSError:
                self.seen.pop(path)
                continue
            if not stat.S_ISREG(st.st_mode):
                self.seen.pop(path)
                self.on_refused(path, f"是{kind_name(st.st_mode)}，不是普通文件，不会读取")
                continue
            if (st.st_size, st.st_mtime_ns) != (state.size, state.mtime_ns):
                state.size, state.mtime_ns, state.stable_since = st.st_size, st.st_mtime_ns, now
                if self.settle > 0:
                    continue
            if now - state.stable_since >= self.settle and now >= state.retry_at and self.can_open(path):
                out.append(path)
        return out

    def postpone(self, path: Path, seconds: float) -> None:
        """Look again later without counting a failure (another worker is on it)."""
        state = self.seen.get(path)
        if state is not None:
            state.retry_at = self.clock() + seconds

    def failed(self, path: Path, delay: float | None = None) -> float:
        """Back off before trying ``path`` again (``delay``, or doubling from 5 s); return the delay."""
        state = self.seen.get(path)
        if state is None:
            return 0.0
        state.failures += 1
        if delay is None:
            delay = min(MAX_RETRY_DELAY, 5.0 * 2 ** (state.failures - 1))
        state.retry_at = self.clock() + delay
        return delay


def writing_finished(inbox: Path, path: Path) -> bool:
    """True once no process holds ``path`` open for writing; never blocks. Anything the inbox door refuses
    counts as ready, so that processing refuses it once, loudly."""
    try:
        with InboxFile.open(inbox, path) as source:
            return not source.writers_active()
    except RefusedEntry:
        return True
    except OSError:
        return False


class _QueueHandler(FileSystemEventHandler):
    def __init__(self, paths: "queue.Queue[Path]"):
        self.paths = paths

    def on_any_event(self, event: FileSystemEvent) -> None:
        kinds = ("created", "moved") if event.is_directory else ("created", "modified", "closed", "moved")
        if event.event_type in kinds:
            self.paths.put(Path(str(getattr(event, "dest_path", "") or event.src_path)))


def filesystem_type(path: Path) -> str | None:
    """The type of the mount holding ``path``, from /proc/mounts (Linux)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    resolved = str(path.resolve())
    best, kind = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3:
            mount = parts[1].replace("\\040", " ")
            if (resolved == mount or resolved.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                best, kind = mount, parts[2]
    return kind


class InboxWatcher:
    def __init__(self, services: Services, watch: WatchConfig,
                 on_finished: Callable[[Finished], None] | None = None,
                 on_error: Callable[[Path, IntakeError], None] | None = None):
        self.services = services
        self.watch = watch
        self.on_finished = on_finished
        self.on_error = on_error
        self.events: queue.Queue[Path] = queue.Queue()
        self.tracker = StableFiles(watch.settle_seconds, can_open=lambda p: writing_finished(watch.inbox, p),
                                   on_refused=self._refused)
        self.reported: set[Path] = set()   # links and odd files already logged (rescans find them again)
        # What ``intake doctor`` reads: a watcher that keeps failing shows there while the job looks alive.
        self.status = SourceStatus(services.config.storage.data_dir, "folder", "投递文件夹接收")
        self.stopping: threading.Event | None = None
        self.observer = None
        self.mode = ""
        self.exclude = tuple(p for p in (watch.done, services.config.storage.data_dir)
                             if _is_inside(p, watch.inbox))

    def start(self) -> None:
        ignore_lease_breaks()   # before any lease probe, while we are (usually) on the main thread
        self.watch.inbox.mkdir(parents=True, exist_ok=True)
        self.watch.done.mkdir(parents=True, exist_ok=True)
        self.observer, self.mode = self._start_observer()
        self.rescan()

    def _start_observer(self):
        def started(observer):
            observer.schedule(_QueueHandler(self.events), str(self.watch.inbox), recursive=True)
            observer.start()
            return observer

        fs = filesystem_type(self.watch.inbox)
        if not self.watch.polling and fs not in NETWORK_FS:
            try:
                return started(Observer()), "inotify"
            except OSError as exc:
                log.warning("无法使用文件系统事件（%s），改为定时轮询投递文件夹。", exc)
        return started(PollingObserver(timeout=self.watch.poll_interval_seconds)), \
            "polling" + (f"（{fs} 网络共享）" if fs in NETWORK_FS else "")

    def stop(self) -> None:
        if self.observer is not None:
            # watchdog logs a harmless error when its inotify thread is stopped mid-read
            logging.getLogger("watchdog.observers.inotify").setLevel(logging.CRITICAL)
            self.observer.stop()
            self.observer.join(timeout=10)
            self.observer = None

    def rescan(self) -> None:
        for path in scan_inbox(self.watch.inbox, self.exclude, on_skip=self._refused):
            self.tracker.add(path)
        if not any(state.failures for state in self.tracker.seen.values()):
            self.status.succeeded()   # nothing is failing: healthy, even when idle

    def _drain_events(self) -> None:
        while True:
            try:
                path = self.events.get_nowait()
            except queue.Empty:
                return
            try:
                self._take_event(path)
            except OSError as exc:   # a path too long to stat, a folder gone meanwhile: the rescan has the last word
                log.debug("忽略事件 %s：%s", one_line(str(path)), exc)

    def _take_event(self, path: Path) -> None:
        if any(_is_inside(path, e) for e in self.exclude):
            return
        if len(os.fsencode(path)) > PATH_MAX_BYTES or path.is_dir():
            for found in scan_inbox(self.watch.inbox, self.exclude, under=path, on_skip=self._refused):
                self.tracker.add(found)
        elif path.is_symlink():
            self._refused(path, "是链接，不会跟随（投递文件夹中不处理任何链接）")
        elif is_submission_file(path, self.watch.inbox):
            self.tracker.add(path)

    def _refused(self, path: Path, reason: str) -> None:
        """Log once per path: rescans meet the same link again and again."""
        if path not in self.reported:
            self.reported.add(path)
            log.warning("已跳过 %s：%s", one_line(str(path)), reason)

    def run(self, stop: threading.Event, once: bool = False, tick: float = 0.5) -> None:
        """Process files until ``stop`` is set; with ``once``, until the inbox has nothing left to do."""
        self.stopping = stop
        last_rescan = time.monotonic()
        while not stop.is_set():
            self._drain_events()
            if time.monotonic() - last_rescan >= self.watch.rescan_seconds:
                self.rescan()
                last_rescan = time.monotonic()
            for path in self.tracker.ready():
                if stop.is_set():
                    return
                self._process(path)
            if once and not any(state.failures == 0 for state in self.tracker.seen.values()):
                return   # nothing waits but files backing off after a failure
            stop.wait(tick)

    def _process(self, path: Path) -> None:
        try:
            finished = handle_dropped(path, self.services, self.watch, self.stopping)
        except (FileNotFoundError, NotADirectoryError):
            self.tracker.discard(path)   # moved away by someone else meanwhile
            return
        except RefusedEntry as exc:
            self.tracker.discard(path)
            self._refused(path, exc.reason)
            return
        except SourceChanged as exc:   # not a failure: it is looked at again once it has settled
            log.info("%s，稍后重新处理", one_line(exc.reason))
            self.tracker.postpone(path, max(exc.retry_after, self.watch.settle_seconds, 0.2))
            return
        except Stopped:
            return
        except DatabaseGone as exc:
            log.critical("%s", exc)
            raise   # recording on would lose every item: the job stops with this error
        except RetryLater as exc:
            delay = self.tracker.failed(path, exc.delay)
            if exc.cause is not None:
                self.status.failed(f"{one_line(path.name)}：{one_line(str(exc.cause), 300)}")
                log.error("处理 %s 失败：%s（%.0f 秒后重试，文件保留在投递文件夹）", one_line(str(path)),
                          one_line(str(exc.cause), 300), delay,
                          exc_info=None if isinstance(exc.cause, IntakeError) else exc.cause)
                if self.on_error and isinstance(exc.cause, IntakeError):
                    self.on_error(path, exc.cause)
            return
        except IntakeError as exc:
            delay = self.tracker.failed(path)
            self.status.failed(f"{one_line(path.name)}：{exc.message}")
            log.error("处理 %s 失败：%s（%.0f 秒后重试，文件保留在投递文件夹）", path, exc, delay)
            if self.on_error:
                self.on_error(path, exc)
            return
        except Exception as exc:  # a bug must not stop the watcher; the file stays and is retried
            delay = self.tracker.failed(path)
            self.status.failed(f"{one_line(path.name)}：{type(exc).__name__}: {one_line(str(exc), 300)}")
            log.exception("处理 %s 时出现意外错误（%.0f 秒后重试，文件保留在投递文件夹）", path, delay)
            return
        if finished is None:
            self.tracker.postpone(path, max(1.0, self.watch.settle_seconds))
            return
        self.tracker.discard(path)
        self.status.succeeded()
        if self.on_finished:
            self.on_finished(finished)


def _is_inside(path: Path, parent: Path) -> bool:
    return path.resolve().is_relative_to(parent.resolve())
