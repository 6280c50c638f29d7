"""Login attempts of the desk, kept in the database rather than in the server's memory: an attempt is counted
before its password is checked (parallel guesses cannot outrun the limit), every desk process sees the same
counts, and ``intake user unlock`` (another process) can lift an account's lockout.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account", sa.String(200), nullable=False),   # as typed: the name may belong to no account
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_login_attempts_account", "login_attempts", ["account"])
    op.create_index("ix_login_attempts_address", "login_attempts", ["address"])
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"])


def downgrade() -> None:
    op.drop_table("login_attempts")
