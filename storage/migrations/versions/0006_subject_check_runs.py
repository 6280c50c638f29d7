"""The mail subject in a field of its own, and check runs: a recheck or an edit adds a newer set of check
results beside the earlier ones, and the submission shows its latest run.

Mail submissions recorded before this kept the subject as their title. It moves to ``subject``, and the
title becomes the first file's name (what the title rule gives when no sidecar names the work).

Revision ID: 0006
Revises: 0005
"""
import posixpath

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("subject", sa.Text))
        batch.add_column(sa.Column("check_run", sa.Integer, nullable=False, server_default="1"))
    with op.batch_alter_table("check_results") as batch:
        batch.add_column(sa.Column("run", sa.Integer, nullable=False, server_default="1"))
        batch.create_index("ix_check_results_submission_run", ["submission_id", "run"])
    _move_mail_subjects()


def _move_mail_subjects() -> None:
    bind = op.get_bind()
    submissions = sa.table("submissions", sa.column("id", sa.Integer), sa.column("source", sa.String),
                           sa.column("title", sa.Text), sa.column("subject", sa.Text))
    files = sa.table("media_files", sa.column("submission_id", sa.Integer), sa.column("position", sa.Integer),
                     sa.column("original_name", sa.Text))
    bind.execute(submissions.update().where(submissions.c.source == "mail").values(subject=submissions.c.title))
    first = (sa.select(files.c.submission_id, files.c.original_name)
             .join(submissions, submissions.c.id == files.c.submission_id)
             .where(submissions.c.source == "mail").order_by(files.c.submission_id, files.c.position))
    named: dict[int, str] = {}
    for submission_id, name in bind.execute(first):
        named.setdefault(submission_id, name)
    for submission_id, name in named.items():
        # A zip's video is named "作品.zip/文件夹/视频.mp4": the video's own name, without its extension.
        stem = posixpath.splitext(posixpath.basename(name or ""))[0].strip()
        if stem:
            bind.execute(submissions.update().where(submissions.c.id == submission_id).values(title=stem))


def downgrade() -> None:
    bind = op.get_bind()
    submissions = sa.table("submissions", sa.column("source", sa.String), sa.column("title", sa.Text),
                           sa.column("subject", sa.Text))
    bind.execute(submissions.update().where(submissions.c.source == "mail", submissions.c.subject.is_not(None))
                 .values(title=submissions.c.subject))
    # Only the latest results stay, as one run.
    bind.execute(sa.text("DELETE FROM check_results WHERE run <> (SELECT check_run FROM submissions "
                         "WHERE submissions.id = check_results.submission_id)"))
    with op.batch_alter_table("check_results") as batch:
        batch.drop_index("ix_check_results_submission_run")
        batch.drop_column("run")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("check_run")
        batch.drop_column("subject")
