"""The one error tree of the project: every exception we raise is an ``IntakeError``, ``FailedOnFile`` or
``NotRegularFile``.

``item_fault`` says whether an error is the item's doing (a mail or file that makes processing fail) rather
than the infrastructure's (a database or mailbox that is away): only the item's faults count towards giving up
on it. ``NotNow`` and its kinds mean nothing of the item is recorded and it comes round again.

A rejected video is *not* an error: it is a normal check result. ``FailedOnFile`` stands apart from the user's
tree for that reason: a tool that could not read one file says why, and the caller turns that into the file's
check result. ``NotRegularFile`` is an OSError, as the open that finds it raises.
"""

from __future__ import annotations


class IntakeError(Exception):
    """Base class; ``message`` and ``hint`` are shown to the user in Chinese."""

    exit_code = 1
    item_fault = False

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n提示：{self.hint}"


class ConfigError(IntakeError):
    exit_code = 2


class UsageError(IntakeError):
    exit_code = 2


class NotFound(UsageError):
    """No submission has the number asked for (exit 2)."""


class ToolError(IntakeError):
    """ffmpeg or MediaInfo is missing or misbehaves."""


class StorageError(IntakeError):
    """The database or the file store failed."""


class ChangedMeanwhile(StorageError):
    """Someone else wrote the submission after it was read: what was worked out from it is stale."""


class DatabaseError(StorageError):
    """The database is unreachable, locked or not migrated."""


class DataRejected(DatabaseError):
    item_fault = True


class DatabaseGone(DatabaseError):
    """Writing on would record into a file nobody reads again: the process must stop."""


class MailboxError(IntakeError):
    """The IMAP server refused or dropped us."""


class LoginRefused(MailboxError):
    """A wrong or revoked authorization code: reconnecting at once only repeats the refusal (and may lock the account)."""


class FailedOnFile(Exception):
    """A tool could not do its work on one file, a property of the file and not of the tool; ``reason``
    becomes that file's check result (never an error shown of its own)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class DuplicateKey(ConfigError):
    """Raised by the config loader at the second ``key`` of a section, on its ``line``."""

    def __init__(self, key: str, line: int):
        super().__init__(f"第 {line} 行：键“{key}”重复出现，前面的设置会被忽略。", "请把同一节的设置合并到一处。")
        self.key, self.line = key, line


class DuplicateSource(StorageError):
    """A submission with this source_ref is already recorded (another worker or an earlier run)."""

    def __init__(self, submission_id: int | None):
        super().__init__(f"这件作品已经登记过（#{submission_id}）。")
        self.submission_id = submission_id


class MailRefused(IntakeError):
    """The server answered NO/BAD to a command about one mail while the connection stayed fine: the mail's fault."""

    item_fault = True


class NotNow(IntakeError):
    """The item cannot be taken now: nothing of it is recorded, and it comes round again."""


class RetryLater(NotNow):
    """Processing failed (or an earlier failure is still backing off): try again after ``delay`` seconds.

    ``cause`` is None while backing off; otherwise it is the failure just counted (``attempts`` so far).
    """

    def __init__(self, delay: float, cause: BaseException | None = None, attempts: int = 0):
        super().__init__(str(cause) if cause else "等待重试")
        self.delay = delay
        self.cause = cause
        self.attempts = attempts


class SourceChanged(NotNow):
    """The source changed (or is still being written) while it was processed: the attempt is discarded."""

    def __init__(self, reason: str, retry_after: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RefusedEntry(NotNow):
    """Not a regular file inside the inbox (a link, a FIFO, a device…): it is left alone, never read."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}：{reason}")
        self.path = path
        self.reason = reason


class Stopped(NotNow):
    """A stop was asked for in the middle of a copy: the file stays in the inbox for the next run."""

    def __init__(self, message: str = "已停止"):
        super().__init__(message)


class Cancelled(NotNow):
    """A stop was asked for while a child ran: its result means nothing, and the item is left for later."""

    def __init__(self, message: str = "已停止"):
        super().__init__(message)


class ProbeFailed(FailedOnFile):
    """MediaInfo crashed, hung or returned nothing for this file (a property of the file)."""


class RemuxFailed(FailedOnFile):
    """ffmpeg could not read the file or write the MP4 (a property of the file, not of the tool)."""


class OutputTooLarge(RemuxFailed):
    """The copy reached its cap (``output_cap``): the source makes its demuxer repeat bytes."""


class ShrinkFailed(FailedOnFile):
    """ffmpeg could not re-encode the file, or not within the time allowed."""


class TooBig(FailedOnFile):
    """The decoded part passed the size limit: stop downloading."""

    def __init__(self, reason: str = "超过大小上限"):
        super().__init__(reason)


class Unreadable(FailedOnFile):
    """The header is not EBML as the Matroska format writes it."""


class NotRegularFile(OSError):
    """The path is a FIFO, device, socket or directory: nothing of it is read."""
