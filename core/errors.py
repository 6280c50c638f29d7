"""The one error tree of the project.

    IntakeError                 anything we expect and can explain to a user
    ├── ConfigError             config.yaml is missing, malformed or invalid (exit 2)
    ├── UsageError              the command line asks for something impossible (exit 2)
    │   └── NotFound            no submission has the number asked for (exit 2)
    ├── ToolError               ffmpeg or MediaInfo is missing or misbehaves
    ├── StorageError            the database or the file store failed
    │   ├── ChangedMeanwhile    a record changed between reading and writing it (read again)
    │   └── DatabaseError       the database is unreachable, locked or not migrated
    │       ├── DataRejected    the database refused one item's values (the item's fault)
    │       └── DatabaseGone    the SQLite file was deleted or replaced under us (stop)
    └── MailboxError            the IMAP server refused or dropped us
        └── LoginRefused        the server refused the account or its authorization code (retried slowly)

``item_fault`` says whether an error is the item's doing (a mail or file that
makes processing fail) rather than the infrastructure's (a database or
mailbox that is away): only the item's faults count towards giving up on it.

Each error carries a Chinese message for the person at the keyboard and an
optional hint saying what to do next. Third-party exceptions are wrapped at
the edge with ``raise … from exc`` so that the cause stays in the log.

A rejected video is *not* an error: it is a normal check result. ``FailedOnFile`` stands apart from
the tree for that reason: a tool that could not read one file (MediaInfo, a remux, a re-encode) says
why, and the caller turns that into the file's check result.
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
    pass


class ToolError(IntakeError):
    pass


class StorageError(IntakeError):
    pass


class ChangedMeanwhile(StorageError):
    """Someone else wrote the submission after it was read: what was worked out from it is stale."""


class DatabaseError(StorageError):
    pass


class DataRejected(DatabaseError):
    item_fault = True


class DatabaseGone(DatabaseError):
    """Writing on would record into a file nobody reads again: the process must stop."""


class MailboxError(IntakeError):
    pass


class LoginRefused(MailboxError):
    """A wrong or revoked authorization code: reconnecting at once only repeats the refusal (and may lock the account)."""


class FailedOnFile(Exception):
    """A tool could not do its work on one file, a property of the file and not of the tool; ``reason``
    becomes that file's check result (never an error shown of its own)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
