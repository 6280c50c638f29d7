"""Log lines on a terminal: quoted names and subjects are shown, their control characters never obeyed."""

from __future__ import annotations

import logging

from core.textsafe import for_terminal


class _TerminalFormatter(logging.Formatter):
    """Log lines quote file names and subjects as sent; on a terminal their controls are shown, not obeyed."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        # The message is one line whatever it quotes; a traceback below it keeps its lines.
        safe = logging.makeLogRecord(record.__dict__)
        safe.msg, safe.args = for_terminal(record.getMessage()), None
        return for_terminal(self.inner.format(safe), keep_lines=True)


def terminal_safe_logging() -> None:
    """Make the root logger's stderr handlers print through ``for_terminal`` (the log file stays verbatim)."""
    for handler in logging.getLogger().handlers:
        if (isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
                and not isinstance(handler.formatter, _TerminalFormatter)):
            handler.setFormatter(_TerminalFormatter(handler.formatter))
