"""One row per check run of a submission, with (submission, run) unique: two writers that both worked out run
N + 1 (an edit and a recheck at the same moment) can no longer both store it. Runs already recorded are
listed once each, whatever their rows hold: a database where such a race already stored a run twice (its
checks listed twice) upgrades all the same, and the rows themselves are kept as they are, as the audit
trail's evidence.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_runs",
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), primary_key=True),
        sa.Column("run", sa.Integer, primary_key=True),
        sa.Column("stored_at", UTCDateTime),          # None: stored before this table
    )
    op.execute("INSERT INTO check_runs (submission_id, run) "
               "SELECT submission_id, run FROM check_results "
               "UNION SELECT id, check_run FROM submissions")


def downgrade() -> None:
    op.drop_table("check_runs")
