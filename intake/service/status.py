"""What ``intake service status`` shows: whether systemd runs the job, each source's last pass (the status
files of ``intake.service.sources``) and the log's latest errors. A missing piece means "cannot tell", never raises.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.timefmt import SHANGHAI
from intake.config import Config
from intake.service.unit import SYSTEM_UNIT_DIR, unit_file_name, user_unit_dir
from intake.service.sources import moment, read_status

SYSTEMD_RUNTIME = Path("/run/systemd/system")   # exists only where systemd is the running init (sd_booted)
LOG_TAIL_BYTES = 256 * 1024
LOG_ERRORS_SHOWN = 5
LOG_ERROR_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (ERROR|CRITICAL) ")


@dataclass(frozen=True)
class InstalledUnit:
    name: str                   # intake.service
    scope: str                  # "system" or "user"
    path: Path | None           # the unit file, None when none is installed
    active: str | None          # systemctl is-active's answer (active, inactive, failed…); None: cannot tell
    reason: str | None = None   # why it cannot tell

    @property
    def running(self) -> bool | None:
        return None if self.active is None else self.active in ("active", "reloading")


@dataclass(frozen=True)
class SourceHealth:
    source: str                 # folder, mailbox
    label: str                  # 投递文件夹接收, 邮箱接收
    last_success: datetime | None
    last_failure: datetime | None
    last_error: str | None
    failures_in_a_row: int

    @property
    def failing(self) -> bool:
        """The last pass failed (no success since the last failure)."""
        return self.last_failure is not None and (self.last_success is None or self.last_failure >= self.last_success)


@dataclass(frozen=True)
class ServiceReport:
    unit: InstalledUnit
    sources: list[SourceHealth]
    mailbox_enabled: bool
    log_file: Path
    log_errors: list[str]

    @property
    def failing(self) -> bool:
        return any(s.failing for s in self.sources)

    @property
    def healthy(self) -> bool:
        """Installed, running (where systemd cannot say: some source has a record) and no source whose last
        pass failed. A job run by hand, without the unit, is not the unattended service."""
        running = self.unit.running
        return (self.unit.path is not None and not self.failing
                and (running is True or (running is None and bool(self.sources))))


def service_report(config: Config, name: str, user_scope: bool | None) -> ServiceReport:
    log_file = config.storage.data_dir / "logs" / "intake.log"
    return ServiceReport(unit_state(unit_file_name(name), user_scope), source_health(config),
                         config.mailbox.enabled, log_file, log_errors(log_file))


def unit_state(file_name: str, user_scope: bool | None) -> InstalledUnit:
    """The installed unit (system first, unless ``user_scope`` picks one) and what systemd says of it."""
    scopes = {None: ("system", "user"), False: ("system",), True: ("user",)}[user_scope]
    dirs = {"system": SYSTEM_UNIT_DIR, "user": user_unit_dir()}
    installed = [(scope, dirs[scope] / file_name) for scope in scopes if (dirs[scope] / file_name).is_file()]
    scope, path = installed[0] if installed else (scopes[0], None)
    active, reason = is_active(file_name, scope)
    return InstalledUnit(file_name, scope, path, active, reason)


def is_active(file_name: str, scope: str) -> tuple[str | None, str | None]:
    """(systemctl is-active's word, None), or (None, why it cannot tell)."""
    exe = shutil.which("systemctl")
    if exe is None:
        return None, "本机没有 systemctl"
    if not SYSTEMD_RUNTIME.is_dir():
        return None, "本机不是由 systemd 启动的（如容器中）"
    args = [exe, *(["--user"] if scope == "user" else []), "is-active", file_name]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"无法运行 systemctl：{exc}"
    word = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    if word and word != "unknown":
        return word, None
    detail = out.stderr.strip().splitlines()[0] if out.stderr.strip() else f"退出码 {out.returncode}"
    return None, f"systemctl 没有回答（{detail}）"


def source_health(config: Config) -> list[SourceHealth]:
    """Each source's last pass, from its status file (an unreadable one says nothing)."""
    folder = config.storage.data_dir / "status"
    found = []
    for data in map(read_status, sorted(folder.glob("*.json")) if folder.is_dir() else []):
        if not data or not data.get("source") or (data["source"] == "mailbox" and not config.mailbox.enabled):
            continue   # unreadable, or left from when the mailbox was on: says nothing about now
        found.append(SourceHealth(str(data["source"]), str(data.get("label") or data["source"]),
                                  moment(data.get("last_success")), moment(data.get("last_failure")),
                                  data.get("last_error") or None, int(data.get("failures_in_a_row") or 0)))
    return found


def log_errors(log_file: Path) -> list[str]:
    """The last ERROR and CRITICAL lines of the job's log (its tail only: the file may be large)."""
    try:
        with log_file.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, 2) - LOG_TAIL_BYTES))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in tail.splitlines() if LOG_ERROR_LINE.match(line)][-LOG_ERRORS_SHOWN:]


def ago_text(when: datetime, now: datetime | None = None) -> str:
    """How long ago, as a person says it: 刚刚, 5 分钟前, 3 小时前, 2 天前."""
    seconds = ((now or datetime.now(SHANGHAI)) - when).total_seconds()
    if seconds < 60:
        return "刚刚"
    if seconds < 3600:
        return f"{int(seconds // 60)} 分钟前"
    if seconds < 86400:
        return f"{int(seconds // 3600)} 小时前"
    return f"{int(seconds // 86400)} 天前"
