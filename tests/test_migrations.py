"""Migrations: a database at the newest revision is only read; one behind it is upgraded."""

from __future__ import annotations

from storage.database import Database


def test_a_current_database_opens_without_upgrading(tmp_path, monkeypatch):
    """(Upgrades of older databases are tested from 0005 on, in tests/test_titles.py.)"""
    db = Database(f"sqlite:///{tmp_path / 'intake.db'}")
    db.migrate()                                   # empty: created by Alembic
    assert db.schema_is_current()
    import alembic.command

    def upgrade_again(*args, **kwargs):
        raise AssertionError("Alembic ran on a database already at the head")

    monkeypatch.setattr(alembic.command, "upgrade", upgrade_again)
    Database(f"sqlite:///{tmp_path / 'intake.db'}").migrate()   # current: one SELECT, no Alembic
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0007'")
    assert not db.schema_is_current()   # behind the scripts: doctor says so, and migrate would upgrade
