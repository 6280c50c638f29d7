"""A source's health on disk (``data_dir/status/<source>.json``): last success, last failure and its message,
failures in a row. Replaced atomically; a missing or unreadable file means "nothing known yet"."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from core.textsafe import one_line
from core.timefmt import SHANGHAI

log = logging.getLogger(__name__)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class SourceStatus:
    """Records the outcome of each pass of one source; never raises (a status file must not stop a source)."""

    def __init__(self, data_dir: Path, source: str, label: str):
        self.path = data_dir / "status" / f"{source}.json"
        self.data: dict[str, Any] = read_status(self.path) or {}
        self.data.update(source=source, label=label)

    def succeeded(self) -> None:
        self.data.update(last_success=_now(), failures_in_a_row=0)
        self._write()

    def failed(self, message: str) -> int:
        """Note a failed pass; return the failures in a row."""
        count = int(self.data.get("failures_in_a_row") or 0) + 1
        self.data.update(last_failure=_now(), last_error=one_line(message, 500), failures_in_a_row=count)
        self._write()
        return count

    def _write(self) -> None:
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, ensure_ascii=False, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:   # a full disk: the source goes on, only its health is not written
            log.warning("无法写入状态文件 %s：%s", self.path, exc.strerror or exc)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def moment(value: Any) -> datetime | None:
    """A time written by this module (an ISO string with its offset), or None."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _now() -> str:
    # Beijing time, like every time a person reads here; the offset keeps it unambiguous.
    return datetime.now(SHANGHAI).isoformat()
