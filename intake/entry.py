"""The ``intake`` program's entry point: what can start before the command's own modules load starts here.

Loading click, the config and the checks' modules keeps one core busy for about a quarter of a second
and leaves the other idle. Child processes started first use it: a MediaInfo worker for a command that
checks files (it loads libmediainfo meanwhile), and for `intake ingest` the database helper
(intake/database_process.py: SQLAlchemy loads there). Both are only started here; the command takes
them when it needs them, and a command that fails first lets them go.
"""

from __future__ import annotations

import gc
import os
import sys

YOUNG_COLLECTION_THRESHOLD = 50_000   # the collector's young generation while modules load (see main)
# Commands that check media files first thing; a MediaInfo worker waits for them in the pool.
CHECKING_COMMANDS = {"validate", "ingest", "run", "watch", "poll", "attach", "recheck", "fix"}
# Commands that open their database beside their checks (services.open_services(database_in_background=True)).
DATABASE_BESIDE_COMMANDS = {"ingest"}


def command_of(argv: list[str]) -> str | None:
    """The subcommand of an ``intake`` command line (the group's only option with a value is --config)."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def start_early(argv: list[str]) -> None:
    """Start what the command on ``argv`` will need from a child process; nothing for a help text."""
    command = command_of(argv)
    if command is None or "-h" in argv or "--help" in argv:
        return
    if command in DATABASE_BESIDE_COMMANDS:
        from intake.database_process import start_early as start_database_helper

        start_database_helper()
    if command in CHECKING_COMMANDS:
        from validators.mediainfo_pool import prestart

        prestart()


PROGRAM_UMASK = 0o027   # see intake/permissions.py: nothing we create is readable by other accounts


def main() -> int:
    os.umask(PROGRAM_UMASK)   # first: the children started below inherit it
    start_early(sys.argv[1:])
    # The collector's young-generation threshold (intake.cli.main sets it too, for in-process callers)
    # is raised before the command's modules load: loading them makes long-lived objects only.
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    from intake.cli import main as run_command

    return run_command()
