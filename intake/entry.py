"""The ``intake`` program's entry point: what can start before the command's own modules load starts here."""

from __future__ import annotations

import sys


def main() -> int:
    from intake.database_process import start_early

    start_early(sys.argv[1:])   # `intake ingest`: the database's modules load beside the command's
    from intake.cli import main as run_command

    return run_command()
