"""作品名: a sidecar's 作品名 (beside the video or in its zip), else the video's file name; the mail subject is
kept apart as ``subject``. And migration 0006, which moves the subjects of mails recorded before it."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic import command

from intake.pipeline.views import submission_view
from storage.database import Database, alembic_config
from storage.models import UTCDateTime
from storage.records import CheckRow, CheckRun
from tests import mails, media
from tests.cli import listing, run
from tests.dovecot import PASSWORD
from tests.mailboxes import append, write_mail_config
from tests.folders import write_folder_config

RESENT = "鹿寨县报送“最美保密法治代言人”微视频作品（重新报送）"


@pytest.fixture(scope="module")
def mp4(tmp_path_factory, ffmpeg_bin) -> bytes:
    return media.clip(tmp_path_factory.mktemp("titles") / "v.mp4", 2).read_bytes()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_mail_titles_come_from_sidecars_or_file_names_never_the_subject(mp4, workdir, dovecot, monkeypatch):
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, dovecot.port)
    sidecar = "作品名称：保密在身边\n联系人：韦二\n".encode("utf-8")
    append(dovecot,
           mails.modern(RESENT, "单位：鹿寨县\n联系人：蒙一\n电话：13977200001\n",
                        [("鹿寨县保密法治代言人作品.mp4", mails.variant(mp4, "a"), "video/mp4")]),
           mails.modern("柳北区作品", "请查收。电话：13977200002",
                        [("作品.mp4", mails.variant(mp4, "b"), "video/mp4"),
                         ("报名表.txt", "作品名：网络安全人人有责\n单位：柳北区\n".encode("gbk"), "text/plain")]),
           mails.modern("城中区 作品（压缩包）", "参赛单位：城中区",
                        [("城中区.zip", zipped({"作品/视频.mp4": mails.variant(mp4, "c"), "作品/说明.txt": sidecar}),
                          "application/zip")]),
           mails.no_video())
    out = run("poll", "--once", cwd=workdir)
    assert out.returncode == 0, out.stderr
    named = [(s["title"], s["subject"], s["sender"]) for s in listing(workdir)]
    assert named == [("鹿寨县保密法治代言人作品", RESENT, mails.FROM),
                     ("网络安全人人有责", "柳北区作品", mails.FROM),
                     ("保密在身边", "城中区 作品（压缩包）", mails.FROM),
                     ("关于报送作品的咨询", "关于报送作品的咨询", mails.FROM)]   # nothing else names a question


def test_folder_zip_titles_come_from_the_sidecar_inside_or_the_video_inside(mp4, workdir):
    write_folder_config(workdir)
    inbox = workdir / "inbox"
    inbox.mkdir()
    (inbox / "柳南区作品.zip").write_bytes(zipped({"柳南区/守护秘密.mp4": mp4,
                                                  "柳南区/报名.txt": "单位：柳南区\n作品名：我身边的保密故事\n".encode()}))
    (inbox / "柳江区作品.zip").write_bytes(zipped({"柳江区/保密在心中.mp4": mails.variant(mp4, "x")}))
    (inbox / "空压缩包.zip").write_bytes(zipped({"说明.docx": b"PK not really"}))
    (inbox / "作品.mp4").write_bytes(mails.variant(mp4, "y"))
    (inbox / "作品.txt").write_text("单位：鹿寨县\n作品名：保密法在我身边\n", encoding="utf-8")
    assert run("run", "--once", cwd=workdir).returncode == 0
    titles = sorted((s["title"], s["subject"]) for s in listing(workdir))
    assert titles == [("保密在心中", None), ("保密法在我身边", None), ("我身边的保密故事", None), ("空压缩包", None)]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres").new_database()
    return f"sqlite:///{tmp_path / 'old.db'}"


def test_migration_moves_mail_subjects_and_keeps_the_results(database_url):
    db = Database(database_url)
    cfg = alembic_config()
    submissions = sa.table("submissions", *(sa.column(c) for c in ("id", "source", "title", "outcome")),
                           sa.column("received_at", UTCDateTime), sa.column("recorded_at", UTCDateTime))
    files = sa.table("media_files", *(sa.column(c) for c in ("id", "submission_id", "position", "original_name",
                                                             "size_bytes", "outcome")))
    results = sa.table("check_results", *(sa.column(c) for c in ("submission_id", "media_file_id", "check_id",
                                                                 "status", "code", "message")))
    now = datetime(2024, 4, 1, 2, 0, tzinfo=timezone.utc)
    with db.engine.begin() as conn:   # a database as release 0005 left it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
        conn.execute(submissions.insert(), [
            {"id": 1, "source": "mail", "title": RESENT, "outcome": "accepted", "received_at": now, "recorded_at": now},
            {"id": 2, "source": "mail", "title": "关于报送作品的咨询", "outcome": "rejected", "received_at": now,
             "recorded_at": now},
            {"id": 3, "source": "folder", "title": "作品一", "outcome": "accepted", "received_at": now,
             "recorded_at": now}])
        conn.execute(files.insert(), [{"id": 1, "submission_id": 1, "position": 0, "size_bytes": 10,
                                       "original_name": "鹿寨县.zip/作品/守护秘密.mp4", "outcome": "accepted"}])
        conn.execute(results.insert(), [
            {"submission_id": 1, "media_file_id": None, "check_id": "deadline", "status": "pass", "code": "ok",
             "message": "在截止时间前收到。"},
            {"submission_id": 1, "media_file_id": 1, "check_id": "size", "status": "pass", "code": "ok",
             "message": "文件大小 10 字节。"}])
    db.migrate()

    first = submission_view(db, 1)
    assert (first["title"], first["subject"], first["check_run"]) == ("守护秘密", RESENT, 1)
    assert [(c["id"], c.get("file")) for c in first["checks"]] == [("deadline", None), ("size", 0)]
    assert (submission_view(db, 2)["title"], submission_view(db, 2)["subject"]) == ("关于报送作品的咨询",) * 2
    assert (submission_view(db, 3)["title"], submission_view(db, 3)["subject"]) == ("作品一", None)

    # A newer run on the migrated rows: the file keeps its results, the latest run is what shows.
    run = CheckRun(checks=(CheckRow("deadline", "warn", "late", "晚于截止时间。"),))
    data = db.submissions.record_check_run(1, run, "rechecked")
    assert data["outcome"] == {"old": "accepted", "new": "needs_review"} and data["run"] == 2
    first = submission_view(db, 1)
    assert [(c["id"], c["status"]) for c in first["checks"]] == [("deadline", "warn"), ("size", "pass")]
    assert (first["outcome"], first["check_run"]) == ("needs_review", 2)
