"""Empty folders left in the inbox after processing go; unit folders, outcome folders, done/ and anything not
empty stay; links are neither followed nor removed. And an oversized file is judged by its size alone: never
opened by any check, never read, not even to sniff it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from intake.config import load_config
from intake.inbox.folder import kept_folder, remove_empty_folders
from intake.inbox.door import InboxFile
from tests import media
from tests.cli import listing, run
from tests.configs import add_config
from tests.folders import done_files, strip_date, write_folder_config
import validators.examine

OVERSIZED = 330 * 1024 * 1024


def folders(inbox: Path) -> list[str]:
    return sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_dir() or p.is_symlink())


def test_empty_folders_go_after_processing_and_the_others_stay(clips, workdir, tmp_path):
    write_folder_config(workdir)
    inbox = workdir / "inbox"
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    (outside / "empty").mkdir(parents=True)
    drops = {"第一批/张伟/a.mp4": None,            # both folders go
             "柳南区委保密办/第二批/b.mp4": None,   # 第二批 goes; the folder whose name means 柳南区 stays
             "待复核/c.mp4": None,                  # an outcome's name: stays
             "还有别的/d.mp4": ".DS_Store",         # not empty (a hidden file): stays
             "鹿寨县/e.mp4": None}                  # the unit's folder stays
    for relative, extra in drops.items():
        path = inbox / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clips["valid"], path)
        if extra:
            (path.parent / extra).write_bytes(b"x")
    (inbox / "没动过").mkdir()   # nothing processed from it: left alone although empty
    (inbox / "链接").symlink_to(outside / "empty", target_is_directory=True)
    out = run("run", "--once")
    assert out.returncode == 0, out.stderr
    assert len(listing()) == 5
    assert folders(inbox) == sorted(["柳南区委保密办", "待复核", "还有别的", "鹿寨县", "没动过", "链接"])
    assert (outside / "empty").is_dir() and (inbox / "链接").is_symlink()
    log = (workdir / "data" / "logs" / "intake.log").read_text(encoding="utf-8")
    assert f"已删除投递文件夹中的空文件夹 {inbox / '第一批' / '张伟'}" in log
    assert f"已删除投递文件夹中的空文件夹 {inbox / '第一批'}" in log
    assert f"已删除投递文件夹中的空文件夹 {inbox / '柳南区委保密办' / '第二批'}" in log


def test_removal_stops_at_the_inbox_at_kept_folders_and_at_links(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "a" / "b" / "c").mkdir(parents=True)
    assert remove_empty_folders(inbox, inbox, lambda f: False) == []
    assert inbox.is_dir()
    assert remove_empty_folders(inbox, inbox / "a" / "b" / "c", lambda f: f.name == "a") == [
        inbox / "a" / "b" / "c", inbox / "a" / "b"]
    assert (inbox / "a").is_dir()
    # A folder on the way that is a link is not walked through: the empty folder behind it stays.
    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)
    (inbox / "via").symlink_to(outside, target_is_directory=True)
    assert remove_empty_folders(inbox, inbox / "via" / "inner", lambda f: False) == []
    assert (outside / "inner").is_dir() and (inbox / "via").is_symlink()
    # The folder itself a link to an empty folder: rmdir does not follow it, nothing goes.
    (inbox / "link").symlink_to(outside / "inner", target_is_directory=True)
    assert remove_empty_folders(inbox, inbox / "link", lambda f: False) == []
    assert (outside / "inner").is_dir()


def test_kept_folders_follow_the_config(workdir):
    (workdir / "config.yaml").write_text(
        "watch:\n  done: inbox/归档/done\ncontest:\n  units: [{name: 市委办, aliases: [市委办公室]}]\n", encoding="utf-8")
    config = load_config()
    inbox = config.watch.inbox

    def kept(*parts: str) -> bool:
        return kept_folder(inbox.joinpath(*parts), SimpleNamespace(config=config), config.watch)

    assert kept("归档") and kept("归档", "done") and kept("归档", "done", "通过")   # done/ and its parents
    assert kept("市委办") and kept("市委办公室") and kept("x", "市委办公室")        # units and their aliases
    assert kept("待复核") and kept("不合格") and kept("通过")
    assert not kept("柳南区")   # not on this config's list
    assert not kept("归档2") and not kept("作品")


# -- an oversized file ---------------------------------------------------------------------------


@pytest.fixture
def only_scanned(monkeypatch):
    """Fail the test if anything but the secrecy scan reads an oversized file: MediaInfo, the decode check,
    the inbox door's sniff of a zip."""

    def refuse(*args, **kwargs):
        raise AssertionError("an oversized file was read by more than the secrecy scan")

    monkeypatch.setattr(validators.examine, "probe_media", refuse)
    monkeypatch.setattr(validators.examine, "decode", refuse)
    monkeypatch.setattr(InboxFile, "head", refuse)
    monkeypatch.setattr(InboxFile, "reader", refuse)


def test_validate_judges_an_oversized_file_by_its_size_and_scans_it(clips, workdir, only_scanned):
    big = media.pad_with_free_box(clips["valid"], workdir / "大.mp4", OVERSIZED)   # sparse: a real MP4 header
    add_config(workdir, "rules:\n  sensitive:\n    scan: true\n")
    out = run("validate", "--json", big)
    assert out.returncode == 4
    [item] = json.loads(out.stdout)
    size, scan = item["checks"]
    assert (size["id"], size["status"], size["code"]) == ("size", "fail", "too_large")
    # Rejected for its size, it is still read for classification marks, and says how much of it was.
    assert (scan["id"], scan["status"], scan["code"]) == ("sensitive_content", "pass", "ok")
    assert scan["message"].startswith("未发现密级标志或敏感词（已查看：全片 10秒（共读取 ")
    assert scan["details"]["scanned_seconds"] == 10.0 and scan["details"]["frames"] >= 10
    assert item["media"] == {"container": None, "duration_seconds": None, "size_bytes": OVERSIZED,
                             "video_codec": None, "audio_codec": None, "width": None, "height": None}


def test_a_dropped_oversized_file_gets_no_other_file_check(clips, workdir, only_scanned):
    write_folder_config(workdir)
    (workdir / "inbox").mkdir()
    media.pad_with_free_box(clips["valid"], workdir / "inbox" / "柳江区-李四-13900001111-大作品.mp4", OVERSIZED)
    out = run("run", "--once")
    assert out.returncode == 0, out.stderr
    [sub] = listing()
    file_checks = [(c["id"], c["code"]) for c in sub["checks"] if c.get("file") is not None]
    # The test config switches the frame scan off: the secrecy check says the picture was not read.
    assert file_checks == [("size", "too_large"), ("sensitive_content", "not_scanned")]
    assert not {c["id"] for c in sub["checks"]} & {"container", "streams", "duration", "integrity", "opening_phrase"}
    assert sub["outcome"] == "rejected" and sub["files"][0]["sha256"] is None
    assert strip_date(done_files(workdir)) == ["不合格/柳江区-李四-13900001111-大作品.mp4",
                                               "不合格/柳江区-李四-13900001111-大作品.mp4.结果.txt"]
