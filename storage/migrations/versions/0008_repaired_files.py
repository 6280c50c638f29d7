"""A repaired file linked to the content it was made from: a QuickTime, MKV, FLV or AVI file remuxed to MP4
without re-encoding, or a file a reviewer shrank to fit the size limit. ``sha256`` stays the file judged;
``original_sha256`` is the file as it arrived, kept in the store as evidence; ``repair`` says what was done.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN with the reference inline: a batch copy of the table would have to drop it, and
        # with foreign keys enforced SQLite refuses to drop a table that check_results rows refer to.
        op.execute("ALTER TABLE media_files ADD COLUMN original_sha256 VARCHAR(64) REFERENCES blobs (sha256)")
    else:
        op.add_column("media_files", sa.Column("original_sha256", sa.String(64)))
        op.create_foreign_key("fk_media_files_original_sha256", "media_files", "blobs", ["original_sha256"],
                              ["sha256"])
    op.add_column("media_files", sa.Column("repair", sa.String(16)))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_media_files_original_sha256", "media_files", type_="foreignkey")
    op.drop_column("media_files", "repair")
    op.drop_column("media_files", "original_sha256")
