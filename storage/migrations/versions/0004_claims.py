"""Claims: which worker is processing which source right now, so that several workers share one inbox.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("source_ref", sa.String(1024), primary_key=True),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("claims")
