"""Scores by several judges: one scorecard per judge and entry (its comment and when it was saved), and one
score per criterion on it. A judge's new save replaces the card's scores; every save is also an audit event
(``scored``), so earlier scores stay readable in the log.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scorecards",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("judge", sa.String(100), nullable=False),        # the desk account's name, kept if it is removed
        sa.Column("comment", sa.Text),
        sa.Column("scored_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("submission_id", "judge", name="uq_scorecards_submission_judge"),
    )
    op.create_table(
        "scores",
        sa.Column("scorecard_id", sa.Integer, sa.ForeignKey("scorecards.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("criterion", sa.String(50), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_table("scorecards")
