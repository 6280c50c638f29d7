"""A drop folder for tests: the config that watches it, what is left in the inbox and the done folder, one
``intake run --once`` over it, and the real watcher on a thread of this process."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from intake.config import load_config
from intake.inbox.watcher import InboxWatcher
from intake.pipeline.services import open_services
from tests.cli import Result, run
from tests.conftest import OPEN_CONTEST
from tests.waiting import wait_until


def write_folder_config(folder: Path, **watch) -> None:
    """``folder/config.yaml``: the open contest, with a short settle time and the ``watch`` settings given."""
    lines = ["watch:"] + [f"  {k}: {json.dumps(v)}" for k, v in {"settle_seconds": 0.3, **watch}.items()]
    (folder / "config.yaml").write_text("\n".join(lines) + "\n" + OPEN_CONTEST, encoding="utf-8")


def run_once(cwd: Path) -> Result:
    out = run("run", "--once", cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out


def done_files(cwd: Path) -> list[str]:
    return sorted(p.relative_to(cwd / "done").as_posix() for p in (cwd / "done").rglob("*") if p.is_file())


def inbox_files(cwd: Path) -> list[str]:
    return sorted(p.relative_to(cwd / "inbox").as_posix() for p in (cwd / "inbox").rglob("*") if p.is_file())


def strip_date(paths: list[str]) -> list[str]:
    """done/<结果>/<日期>/x → <结果>/x"""
    out = []
    for p in paths:
        parts = p.split("/")
        out.append("/".join([parts[0]] + parts[2:]))
    return out


class Running:
    """An InboxWatcher on a thread of this process, like `intake watch`."""

    def __init__(self, cwd: Path):
        config = load_config(cwd / "config.yaml")
        self.finished = []
        self.watcher = InboxWatcher(open_services(config), config.watch, on_finished=self.finished.append)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watcher.run, args=(self.stop,), kwargs={"tick": 0.1})

    def __enter__(self):
        self.watcher.start()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        self.watcher.stop()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Until ``count`` items have been processed (or fail after ``timeout`` seconds)."""
        wait_until(lambda: len(self.finished) >= count, timeout, f"{count} processed items")
