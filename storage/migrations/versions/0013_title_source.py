"""Where a work's title came from, recorded when it is recorded: ``given`` (a sidecar's or the mail's 作品名,
``intake ingest --title``, a correction), ``file_name`` (a file's or a download link's name) or ``subject`` (the
mail subject). Blind review hides a title that is only a name the sender gave a file, whatever it reads like;
works recorded before this have none, and are judged by the rule they were shown under.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("title_source", sa.String(16)))


def downgrade() -> None:
    op.drop_column("submissions", "title_source")
