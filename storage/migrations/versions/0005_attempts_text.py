"""Failed attempts per item (so that one bad mail or file is retried with backoff, then recorded),
and TEXT for every column that holds text from outside (a 600-character subject must not abort a pass).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OUTSIDE_TEXT = {
    "submissions": ("unit", "unit_raw", "contact", "phone", "title", "speaker", "topic", "message_key", "sender"),
    "media_files": ("original_name", "video_codec", "audio_codec"),
    "events": ("actor",),
}


def upgrade() -> None:
    op.create_table(
        "attempts",
        sa.Column("source_ref", sa.String(1024), primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("last_at", UTCDateTime, nullable=False),
        sa.Column("next_at", UTCDateTime, nullable=False),
    )
    # SQLite never enforces a VARCHAR length; rebuilding its tables would only cost time.
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in OUTSIDE_TEXT.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.Text)


def downgrade() -> None:
    op.drop_table("attempts")
