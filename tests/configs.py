"""Adding settings to a test's config.yaml: merged into the sections already there.

Appending a second ``rules:`` section would be refused (the config loader rejects a key given twice,
because YAML would silently keep only the last one).
"""

from __future__ import annotations

from pathlib import Path

import yaml


def add_config(folder: Path, text: str) -> None:
    """Merge the YAML ``text`` into ``folder/config.yaml`` (nested sections merged, scalars replaced)."""
    path = folder / "config.yaml"
    current = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    path.write_text(yaml.safe_dump(_merged(current or {}, yaml.safe_load(text) or {}), allow_unicode=True),
                    encoding="utf-8")


def services_of(folder: Path):
    """The services (database, file store, config) of ``folder/config.yaml``, as a command in ``folder`` opens them."""
    from intake.config import load_config
    from intake.pipeline.services import open_services

    return open_services(load_config(folder / "config.yaml"))


def end_backoff(db, ref: str) -> None:
    """Move the failing item ``ref``'s stored next try into the past: its backoff is over by the database's state
    (as after the configured wait), not by how long the test's passes took."""
    from datetime import datetime, timedelta, timezone

    from storage.models import Attempt

    with db.session() as s:
        s.get(Attempt, ref).next_at = datetime.now(timezone.utc) - timedelta(seconds=1)


def _merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
