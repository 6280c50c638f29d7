"""Initial schema: submissions, blobs, media files, check results, events.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(1024), unique=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("unit", sa.String(200)),
        sa.Column("contact", sa.String(100)),
        sa.Column("phone", sa.String(50)),
        sa.Column("title", sa.String(500)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("speaker", sa.String(100)),
        sa.Column("topic", sa.String(500)),
    )
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("stored_path", sa.String(300), nullable=False),
        sa.Column("first_submission_id", sa.Integer, sa.ForeignKey("submissions.id")),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "media_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("original_name", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("blobs.sha256"), index=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("container", sa.String(32)),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("video_codec", sa.String(64)),
        sa.Column("audio_codec", sa.String(64)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.UniqueConstraint("submission_id", "position"),
    )
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
        sa.Column("media_file_id", sa.Integer, sa.ForeignKey("media_files.id")),
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.JSON),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), index=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON),
    )


def downgrade() -> None:
    for table in ("events", "check_results", "media_files", "blobs", "submissions"):
        op.drop_table(table)
