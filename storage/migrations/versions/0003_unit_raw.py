"""The unit name as the sender wrote it, beside the normalised unit.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("unit_raw", sa.String(200)))
        batch.create_index("ix_submissions_unit", ["unit"])


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_index("ix_submissions_unit")
        batch.drop_column("unit_raw")
