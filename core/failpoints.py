"""Named pause points for crash tests (kill -9 at a known moment). Inert unless INTAKE_FAILPOINT is set.

A test sets INTAKE_FAILPOINT=<name> and INTAKE_FAILPOINT_MARKER=<file>; when the
process reaches that point it creates the marker and waits to be killed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def reached(name: str) -> None:
    if os.environ.get("INTAKE_FAILPOINT") != name:
        return
    marker = os.environ.get("INTAKE_FAILPOINT_MARKER")
    if marker:
        Path(marker).write_text(name)
    while True:  # the test kills us here
        time.sleep(1)
