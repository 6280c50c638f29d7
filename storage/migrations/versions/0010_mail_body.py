"""The mail body, kept (bounded) so that the desk's entry page can show what the sender wrote. Mails
recorded before this have none.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("body_text", sa.Text))


def downgrade() -> None:
    # A plain DROP COLUMN (as 0008): a batch copy of the table is refused while other tables refer to it.
    op.drop_column("submissions", "body_text")
