"""The newest migration, as the fast start-up path reads it, is the one Alembic upgrades to."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from storage.database import MIGRATIONS, Database, head_revision


def test_the_head_read_from_the_scripts_is_alembic_s_head():
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_a_current_database_opens_without_alembic(tmp_path, monkeypatch):
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
