"""Named pause points for crash and race tests. Inert unless INTAKE_FAILPOINT is set.

At INTAKE_FAILPOINT=<name> the process creates INTAKE_FAILPOINT_MARKER=<file> and waits to be killed, or, with
INTAKE_FAILPOINT_RELEASE=<file>, until that file appears, and then goes on.
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
    release = os.environ.get("INTAKE_FAILPOINT_RELEASE")
    while not (release and Path(release).exists()):  # the test kills us here, or lets us go on
        time.sleep(0.05 if release else 1)
