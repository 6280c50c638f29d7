"""Mail intake: the sender's address and a Message-ID key for de-duplication across UIDVALIDITY changes.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("message_key", sa.String(1000)))
        batch.add_column(sa.Column("sender", sa.String(320)))
        batch.create_index("ix_submissions_message_key", ["message_key"])


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_message_key")
        batch.drop_column("sender")
        batch.drop_column("message_key")
