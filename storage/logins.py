"""The desk's login attempts: one row per try, written before its password is checked and removed when it
succeeds, so that the rows of the last window are the failures (and the tries still being checked).

``begin_login`` inserts first and counts after, in one transaction: on SQLite the insert takes the write
lock, on PostgreSQL the table lock below does, so parallel tries are counted one after the other and no
more of them reach the (slow) password check than the limits allow. The limits are the caller's
(``intake/desk/accounts.py``); this module only counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from storage.models import LoginAttempt


@dataclass(frozen=True)
class LoginTry:
    """A try that may go on (``id`` set) or was refused (``id`` None, ``wait_seconds`` until one may);
    the counts of the window include this try."""

    id: int | None
    wait_seconds: float
    account_tries: int
    address_tries: int
    locked: str | None = None   # refused: 'account' or 'address'


def begin_login(s: Session, account: str, address: str, now: datetime, window_seconds: float,
                per_account: int, per_address: int) -> LoginTry:
    if s.bind.dialect.name == "postgresql":
        s.execute(text("LOCK TABLE login_attempts IN SHARE ROW EXCLUSIVE MODE"))
    row = LoginAttempt(account=account, address=address, at=now)
    s.add(row)
    s.flush()
    since = now - timedelta(seconds=window_seconds)
    s.execute(delete(LoginAttempt).where(LoginAttempt.at <= since))
    counts = {}
    for kind, column, value in (("account", LoginAttempt.account, account), ("address", LoginAttempt.address, address)):
        counts[kind] = s.scalar(select(func.count()).select_from(LoginAttempt).where(column == value)) or 0
    limits = {"account": per_account, "address": per_address}
    waits = {}
    for kind, column, value in (("account", LoginAttempt.account, account), ("address", LoginAttempt.address, address)):
        if counts[kind] > limits[kind]:
            oldest = s.scalar(select(func.min(LoginAttempt.at)).where(column == value, LoginAttempt.id != row.id))
            waits[kind] = ((oldest or now) + timedelta(seconds=window_seconds) - now).total_seconds()
    if waits:
        s.delete(row)
        kind = max(waits, key=waits.get)
        return LoginTry(None, max(waits[kind], 1.0), counts["account"] - 1, counts["address"] - 1, kind)
    return LoginTry(row.id, 0.0, counts["account"], counts["address"])


def clear_logins(s: Session, account: str) -> int:
    """Forget the account's tries (a success, or an admin's unlock); returns how many there were."""
    return s.execute(delete(LoginAttempt).where(LoginAttempt.account == account)).rowcount or 0
