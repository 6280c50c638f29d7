"""done/ stays true: nothing there is ever overwritten, and a work's file and note follow its outcome when a
recheck, an edit, an added file or a repair changes it. Through the real `intake run --once` (the folder
watcher) and the real commands."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from intake.config import load_config
from intake.pipeline.services import open_services
from tests.cli import listing, run
from tests.configs import add_config

NAME = "柳北区-张伟-0772-2612345-守护秘密.mp4"
PAST = "contest:\n  deadline: 2024-04-07 23:59:59\n"
OPEN = "contest:\n  deadline: 2099-12-31 23:59:59\n"


def drop(workdir: Path, source: Path, name: str = NAME, mtime: float | None = None) -> None:
    inbox = workdir / "inbox"
    inbox.mkdir(exist_ok=True)
    shutil.copy(source, inbox / name)
    if mtime is not None:
        os.utime(inbox / name, (mtime, mtime))
    out = run("run", "--once", cwd=workdir)
    assert out.returncode == 0, out.output


def done_files(workdir: Path) -> list[str]:
    """done/<结果>/<日期>/x → <结果>/x"""
    out = []
    for p in sorted((workdir / "done").rglob("*")):
        if p.is_file():
            parts = p.relative_to(workdir / "done").parts
            out.append("/".join((parts[0],) + parts[2:]))
    return sorted(out)


def note_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")


def moves(workdir: Path, submission_id: int) -> list[dict]:
    db = open_services(load_config(workdir / "config.yaml")).db
    return [{**e.data, "actor": e.actor} for e in db.audit.events(submission_id) if e.kind == "moved"]


def test_the_same_video_dropped_again_under_its_name_gets_2_and_the_first_note_stays(clips, workdir):
    add_config(workdir, "watch:\n  settle_seconds: 0\n" + PAST)   # late: both works are 待复核, in one folder
    drop(workdir, clips["valid"], mtime=1_800_000_000)
    drop(workdir, clips["valid"], mtime=1_800_000_100)   # the same bytes, a later mtime: a duplicate
    first, second = listing()
    assert [c["code"] for c in second["checks"] if c["id"] == "duplicate"] == ["duplicate"]
    stem = NAME.removesuffix(".mp4")
    assert done_files(workdir) == sorted([f"待复核/{NAME}", f"待复核/{NAME}.结果.txt",
                                          f"待复核/{stem} (2).mp4", f"待复核/{stem} (2).mp4.结果.txt"])
    [folder] = {p.parent for p in (workdir / "done").rglob("*.mp4")}
    assert "登记编号：#1\n" in note_text(folder / f"{NAME}.结果.txt")
    assert "登记编号：#2\n" in note_text(folder / f"{stem} (2).mp4.结果.txt")
    assert (folder / NAME).read_bytes() == (folder / f"{stem} (2).mp4").read_bytes() == clips["valid"].read_bytes()
    assert [m["to"] for m in moves(workdir, 1)] == [str(folder / NAME)]
    assert [m["to"] for m in moves(workdir, 2)] == [str(folder / f"{stem} (2).mp4")]


def test_a_sidecar_keeps_to_its_video_under_the_numbered_name(clips, workdir):
    add_config(workdir, "watch:\n  settle_seconds: 0\n" + PAST)
    (workdir / "inbox").mkdir()
    for round_ in ("一", "二"):
        (workdir / "inbox" / "作品.txt").write_text(f"单位：柳南区\n联系人：张三\n电话：13800138000\n作品名：守护秘密{round_}\n",
                                                 encoding="utf-8")
        drop(workdir, clips["valid"], "作品.mp4")
    assert done_files(workdir) == ["待复核/作品 (2).mp4", "待复核/作品 (2).mp4.结果.txt", "待复核/作品 (2).txt",
                                   "待复核/作品.mp4", "待复核/作品.mp4.结果.txt", "待复核/作品.txt"]
    [numbered] = (workdir / "done" / "待复核").rglob("作品 (2).txt")
    assert "守护秘密二" in numbered.read_text(encoding="utf-8")


def test_a_recheck_that_changes_the_outcome_moves_the_file_and_rewrites_its_note(clips, workdir):
    add_config(workdir, "watch:\n  settle_seconds: 0\n" + PAST)
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "柳北区-张伟-0772-2612345-守护秘密.srt").write_text(
        "1\n00:00:00,000 --> 00:00:02,000\n我是保密法治代言人张伟，今天我要讲的是守护秘密\n", encoding="utf-8")
    drop(workdir, clips["valid"])
    assert done_files(workdir) == [f"待复核/{NAME}", f"待复核/{NAME}.结果.txt", f"待复核/{NAME[:-4]}.srt"]
    [old_note] = (workdir / "done").rglob("*.结果.txt")
    assert "截止时间" in note_text(old_note) and "作品名：守护秘密\n" in note_text(old_note)

    add_config(workdir, OPEN)   # the deadline corrected
    out = run("recheck", "--all", "--reviewer", "王老师")
    assert out.returncode == 0, out.output
    [new_path] = (workdir / "done" / "通过").rglob(NAME)
    lines = out.stdout.splitlines()
    assert lines[0] == "#1  待复核 → 通过" and f"     处理结果文件夹中的文件已随结果移到：{new_path}" in lines
    assert done_files(workdir) == [f"通过/{NAME}", f"通过/{NAME}.结果.txt", f"通过/{NAME[:-4]}.srt"]
    assert new_path.parent.name == old_note.parent.name   # the same date folder, under the new outcome
    note = note_text(new_path.with_name(NAME + ".结果.txt"))
    assert "处理结果：通过\n" in note and "截止时间" not in note and "作品名：守护秘密\n" in note
    assert "（重新检查，操作人：王老师），以此为准。" in note
    [moved] = moves(workdir, 1)[1:]
    assert (moved["from"], moved["to"], moved["reason"], moved["actor"]) == (
        str(old_note.with_name(NAME)), str(new_path), "重新检查", "王老师")

    # A recheck that leaves the outcome as it was moves nothing, and the note stays in step.
    out = run("recheck", "1")
    assert out.stdout.splitlines()[0] == "#1  通过（结果未变）" and "已随结果移到" not in out.stdout
    assert done_files(workdir) == [f"通过/{NAME}", f"通过/{NAME}.结果.txt", f"通过/{NAME[:-4]}.srt"]


def test_an_edit_and_an_added_file_move_the_work_along(clips, workdir):
    add_config(workdir, "watch:\n  settle_seconds: 0\n")
    drop(workdir, clips["valid"], "守护秘密.mp4")   # no unit, contact or phone: 待复核
    assert done_files(workdir) == ["待复核/守护秘密.mp4", "待复核/守护秘密.mp4.结果.txt"]

    out = run("edit", "1", "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000")
    assert out.returncode == 0, out.output
    assert done_files(workdir) == ["通过/守护秘密.mp4", "通过/守护秘密.mp4.结果.txt"]
    [note] = (workdir / "done").rglob("*.结果.txt")
    assert "参赛单位：柳南区\n" in note_text(note) and "（修改信息，操作人：" in note_text(note)
    assert "处理结果文件夹中的文件已随结果移到：" in out.stdout

    out = run("attach", "1", clips["truncated"])   # a broken file added: the work is now 不合格
    assert out.returncode == 0, out.output
    assert done_files(workdir) == ["不合格/守护秘密.mp4", "不合格/守护秘密.mp4.结果.txt"]
    [note] = (workdir / "done").rglob("*.结果.txt")
    assert "文件：守护秘密.mp4、truncated.mp4\n" in note_text(note) and "处理结果：不合格\n" in note_text(note)
    assert [m.get("reason") for m in moves(workdir, 1)] == [None, "修改信息", "补登文件"]


def test_a_file_moved_away_by_hand_is_left_alone_and_the_change_still_counts(clips, workdir):
    add_config(workdir, "watch:\n  settle_seconds: 0\n")
    drop(workdir, clips["valid"], "守护秘密.mp4")
    [kept] = (workdir / "done").rglob("守护秘密.mp4")
    elsewhere = workdir / "elsewhere.mp4"
    kept.rename(elsewhere)
    out = run("edit", "1", "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000")
    assert out.returncode == 0, out.output
    assert listing()[0]["outcome"] == "accepted"
    assert elsewhere.exists() and not (workdir / "done" / "通过").exists()
