"""What a command loads and when (intake/cli, intake/services.py): `validate` never imports the database or
the mail client; `ingest` opens the database on a helper thread while it stores and checks (in a real
process, in a helper process instead: tests/test_database_process.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.errors import DatabaseError
from intake.cli import COMMANDS, cli
from intake.config import load_config
from intake.services import DatabaseOpening
from tests.cli import listing, run
from tests.conftest import OPEN_CONTEST, REPO

LOADED = r"""
import json, sys
from intake.cli import main
code = main(["validate", "--no-ocr", sys.argv[1]])
heavy = ("sqlalchemy", "alembic", "imapclient", "intake.pipeline", "intake.mail", "storage.database", "jinja2",
         "pysubs2", "ffmpeg", "past")   # the last three: only for a subtitle track (ffmpeg-python loads past)
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules if m.startswith(heavy))}))
"""


def test_validate_loads_neither_the_database_nor_the_mail_client(clips, workdir):
    out = subprocess.run([sys.executable, "-c", LOADED, str(clips["valid"])], cwd=workdir, capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    said = json.loads(out.stdout.splitlines()[-1])
    assert said == {"code": 0, "loaded": []}


def test_every_command_loads_under_its_own_name():
    assert list(cli.commands) == list(COMMANDS)
    for name, command in cli.commands.items():
        assert command.name == name


def test_an_ingest_whose_database_cannot_open_stores_and_records_nothing(clips, workdir):
    (workdir / "config.yaml").write_text(OPEN_CONTEST + "database:\n  url: nosuchdriver://x/y\n", encoding="utf-8")
    out = run("ingest", str(clips["valid"]), "--unit", "柳南区", cwd=workdir)
    assert out.returncode == 1
    assert "错误：数据库地址 nosuchdriver://x/y 无效" in out.stderr
    assert [p for p in (workdir / "data" / "store").rglob("*") if p.is_file()] == []


def test_a_check_that_fails_before_the_copy_is_named_leaves_nothing_stored(clips, workdir, monkeypatch):
    from intake import pipeline

    def broken(task, services):
        assert [m.staged.temp.exists() for m in task.files] == [True]   # checked while staged
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "STAGES", [broken if s is pipeline.inspect_files else s for s in pipeline.STAGES])
    with pytest.raises(RuntimeError, match="boom"):   # the in-process runner hands a bug on as it is
        run("ingest", str(clips["valid"]), "--unit", "柳南区", cwd=workdir)
    assert listing(workdir) == []
    assert [p for p in (workdir / "data" / "store").rglob("*") if p.is_file()] == []


def test_the_opening_database_is_the_opened_one_or_its_error(workdir):
    config = load_config(workdir / "config.yaml")
    opening = DatabaseOpening(config)
    assert opening.last_submission_id() == 0   # waits for the opening, then answers as the Database
    (workdir / "config.yaml").write_text(OPEN_CONTEST + "database:\n  url: nosuchdriver://x/y\n", encoding="utf-8")
    failing = DatabaseOpening(load_config(workdir / "config.yaml"))
    with pytest.raises(DatabaseError):
        failing.last_submission_id()


def test_ingest_records_with_the_database_opened_meanwhile(clips, workdir):
    out = run("ingest", str(clips["valid"]), "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000",
              cwd=workdir)
    assert out.returncode == 0, out.stderr
    [sub] = listing(workdir)
    assert (sub["unit"], sub["outcome"]) == ("柳南区", "accepted")
