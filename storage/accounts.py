"""The desk's accounts, sessions and login tries (``db.accounts``).

A login try is one row, written before its password is checked and removed when it succeeds, so that the
rows of the last window are the failures (and the tries still being checked). ``begin_login`` inserts first
and counts after, in one transaction: on SQLite the insert takes the write lock, on PostgreSQL the table lock
below does, so parallel tries are counted one after the other and no more of them reach the (slow) password
check than the limits allow. The limits are the caller's (``intake/desk/accounts.py``); this module only counts.

A session is known only by its token's SHA-256; a new password, or removing the account, ends its sessions.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from core.errors import UsageError
from storage.models import DeskSession, LoginAttempt, User
from storage.records import LoginTry, StoredAccount
from storage.writers import Sessions, retry_when_locked


class Accounts:
    def __init__(self, session: Sessions):
        self.session = session

    @retry_when_locked
    def add(self, name: str, role: str, password_hash: str) -> StoredAccount:
        """A new desk account; UsageError (in Chinese) when the name is taken."""
        try:
            with self.session() as s:
                user = User(name=name, role=role, password_hash=password_hash)
                s.add(user)
                s.flush()
                return _account(user)
        except IntegrityError as exc:
            raise UsageError(f"账号“{name}”已存在。", "修改密码请用 intake user passwd。") from exc

    def all(self) -> list[StoredAccount]:
        """Every account, by name."""
        with self.session() as s:
            return [_account(user) for user in s.scalars(select(User).order_by(User.name))]

    def get(self, name: str) -> StoredAccount | None:
        with self.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            return None if user is None else _account(user)

    @retry_when_locked
    def set_password(self, name: str, password_hash: str) -> bool:
        """Change the account's password and end its sessions; False for an unknown name."""
        with self.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                return False
            user.password_hash = password_hash
            s.execute(delete(DeskSession).where(DeskSession.user_id == user.id))
            return True

    @retry_when_locked
    def remove(self, name: str) -> bool:
        """Remove the account and its sessions; False for an unknown name."""
        with self.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                return False
            s.execute(delete(DeskSession).where(DeskSession.user_id == user.id))
            s.delete(user)
            return True

    # -- logins -----------------------------------------------------------------------------
    @retry_when_locked
    def begin_login(self, account: str, address: str, now: datetime, window_seconds: float, per_account: int,
                    per_address: int) -> LoginTry:
        """Count a login try before its password is checked; refused (``id`` None) past either limit."""
        with self.session() as s:
            if s.bind.dialect.name == "postgresql":
                s.execute(text("LOCK TABLE login_attempts IN SHARE ROW EXCLUSIVE MODE"))
            row = LoginAttempt(account=account, address=address, at=now)
            s.add(row)
            s.flush()
            s.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - timedelta(seconds=window_seconds)))
            counts, waits = {}, {}
            for kind, column, value, limit in (("account", LoginAttempt.account, account, per_account),
                                               ("address", LoginAttempt.address, address, per_address)):
                counts[kind] = s.scalar(select(func.count()).select_from(LoginAttempt).where(column == value)) or 0
                if counts[kind] > limit:
                    oldest = s.scalar(select(func.min(LoginAttempt.at))
                                      .where(column == value, LoginAttempt.id != row.id))
                    waits[kind] = ((oldest or now) + timedelta(seconds=window_seconds) - now).total_seconds()
            if waits:
                s.delete(row)
                kind = max(waits, key=waits.get)
                return LoginTry(None, max(waits[kind], 1.0), counts["account"] - 1, counts["address"] - 1, kind)
            return LoginTry(row.id, 0.0, counts["account"], counts["address"])

    @retry_when_locked
    def clear_logins(self, account: str) -> int:
        """Forget the account's login tries: after a success, or to lift its lockout. Returns how many."""
        with self.session() as s:
            return s.execute(delete(LoginAttempt).where(LoginAttempt.account == account)).rowcount or 0

    # -- sessions ---------------------------------------------------------------------------
    @retry_when_locked
    def start_session(self, user_id: int, token_hash: str, csrf: str, expires_at: datetime) -> None:
        now = datetime.now(timezone.utc)
        with self.session() as s:
            s.execute(delete(DeskSession).where(DeskSession.expires_at < now))
            s.add(DeskSession(token_hash=token_hash, user_id=user_id, csrf=csrf, created_at=now,
                              expires_at=expires_at))

    def session_user(self, token_hash: str) -> tuple[StoredAccount, str] | None:
        """The account of a live session and its CSRF token, or None (unknown or expired)."""
        with self.session() as s:
            # One joined query: every request of the desk asks it.
            row = s.execute(select(User, DeskSession.csrf).join(DeskSession, DeskSession.user_id == User.id)
                            .where(DeskSession.token_hash == token_hash,
                                   DeskSession.expires_at > datetime.now(timezone.utc))).first()
            return None if row is None else (_account(row[0]), row[1])

    @retry_when_locked
    def end_session(self, token_hash: str) -> None:
        with self.session() as s:
            s.execute(delete(DeskSession).where(DeskSession.token_hash == token_hash))


def _account(user: User) -> StoredAccount:
    return StoredAccount(user.id, user.name, user.role, user.password_hash, user.created_at)
