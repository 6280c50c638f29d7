"""``intake recheck``: the recorded works judged again under the config now in force, on the stored files."""

from __future__ import annotations

from pathlib import Path

from core.numbers import size_text
from tests.cli import checks, ingest, listing, run
from tests.configs import services_of

RULES = "rules:\n  opening:\n    ocr: false\n  sensitive:\n    scan: false\n"


def configure(workdir: Path, text: str) -> None:
    (workdir / "config.yaml").write_text(text, encoding="utf-8")


def test_a_moved_deadline_reaches_every_earlier_work(works, workdir, backend):
    database = "" if backend == "sqlite" else f"database:\n  url: {backend}\n"
    configure(workdir, "contest:\n  deadline: 2000-01-01 00:00:00\n" + RULES + database)
    ingest(works[0], "柳南区")
    ingest(works[1], "柳北区")
    assert [s["outcome"] for s in listing()] == ["needs_review", "needs_review"]
    assert all(checks(s, "deadline")[0][1] == "late" for s in listing())

    configure(workdir, "contest:\n  deadline: 2099-12-31 23:59:59\n" + RULES + database)
    out = run("recheck", "--all", "--no-media")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "#1  待复核 → 通过\n"
        "     ✓ [截止时间] 在截止时间 2099-12-31 23:59 前收到。\n"
        "#2  待复核 → 通过\n"
        "     ✓ [截止时间] 在截止时间 2099-12-31 23:59 前收到。\n"
        "已重新检查 2 件作品，其中 2 件的结果有变化。\n")
    for sub in listing():
        assert (sub["outcome"], sub["check_run"]) == ("accepted", 2)
        assert checks(sub, "deadline") == [("pass", "ok", "在截止时间 2099-12-31 23:59 前收到。")]
        ids = [(c.get("file"), c["id"]) for c in sub["checks"]]
        assert len(ids) == len(set(ids)) == 11   # the latest run only
    event = services_of(workdir).db.audit.events(1)[-1]
    assert event.kind == "rechecked" and event.data["deadline"] == "2099-12-31T23:59:59+08:00"
    assert event.data["outcome"] == {"old": "needs_review", "new": "accepted"} and event.data["media"] is False
    assert ("deadline", "pass") in {(c["id"], c["status"]) for c in event.data["checks"]}


def test_new_rules_on_the_stored_file_and_the_quota_that_follows(works, workdir):
    ingest(works[0], "柳南区")
    ingest(works[1], "柳南区")
    first, second = listing()
    assert first["outcome"] == "accepted" and second["outcome"] == "needs_review"
    opening, sensitive = checks(first, "opening_phrase"), checks(first, "sensitive_content")
    assert opening[0][0] == "pass" and sensitive[0][0] == "pass" and first["speaker"] == "小测"

    # A keyword in the file's name: the media checks run again, the content results stay unless asked.
    configure(workdir, "contest:\n  deadline: 2099-12-31 23:59:59\n"
                       "rules:\n  sensitive:\n    keywords: [一]\n    scan: false\n  opening:\n    ocr: false\n")
    same = run("recheck", "1")
    assert (same.returncode, same.stdout) == (0, "#1  通过（结果未变）\n已重新检查 1 件作品，其中 0 件的结果有变化。\n")
    assert checks(listing()[0], "opening_phrase") == opening and checks(listing()[0], "sensitive_content") == sensitive
    read = run("recheck", "1", "--content")
    assert read.returncode == 0, read.stderr
    assert read.stdout.startswith("#1  通过 → 待复核\n     ! [敏感信息] 文件 1：")
    assert checks(listing()[0], "sensitive_content")[0][:2] == ("warn", "flagged")

    configure(workdir, "contest:\n  deadline: 2099-12-31 23:59:59\n"
                       "rules:\n  max_duration_seconds: 2\n  duration_grace_seconds: 0\n  opening:\n    ocr: false\n  sensitive:\n    scan: false\n")
    out = run("recheck", "#1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "#1  待复核 → 不合格"
    assert lines[1].startswith("     ✗ [时长] 文件 1：") and "超过" in lines[1]
    assert lines[2:] == ["#2  待复核 → 通过（因作品 #1 的变化重新核对名额）",
                         "     ✓ [名额] 柳南区的第 1 件作品，未超过名额。",
                         "已重新检查 1 件作品，其中 2 件的结果有变化。"]
    first, second = listing()
    assert (first["outcome"], first["files"][0]["outcome"], first["check_run"]) == ("rejected", "rejected", 4)
    assert checks(first, "duration")[0][:2] == ("fail", "too_long")
    assert checks(first, "opening_phrase") == opening   # a rejected file keeps its content results, as at intake
    assert checks(first, "quota") == []            # a rejected work takes no place
    assert (second["outcome"], second["check_run"]) == ("accepted", 2)


def test_a_file_that_was_never_stored_or_is_gone(works, workdir):
    configure(workdir, "contest:\n  deadline: 2099-12-31 23:59:59\nrules:\n  max_size_bytes: 1000\n"
                       "  opening:\n    ocr: false\n  sensitive:\n    scan: false\n")
    ingest(works[0], "柳南区")
    assert checks(listing()[0], "size")[0][:2] == ("fail", "too_large")
    configure(workdir, "contest:\n  deadline: 2099-12-31 23:59:59\n" + RULES)
    ingest(works[1], "柳北区")
    store = services_of(workdir)
    store.store.path_of(store.db.submissions.stored_paths(2)[0]).unlink()

    out = run("recheck", "1", "2")
    assert out.returncode == 0, out.stderr
    never, gone = listing()
    [size] = checks(never, "size")
    assert size[:2] == ("warn", "not_stored") and never["outcome"] == "needs_review"
    assert "收到时超过当时的大小上限，没有保存，无法检查其内容" in size[2]
    missing = [c for c in checks(gone, "integrity") if c[1] == "stored_file_missing"]
    assert len(missing) == 1 and "文件库中找不到这个文件的存档" in missing[0][2]
    assert gone["outcome"] == "needs_review"


def test_a_unit_added_to_the_list_is_matched_on_recheck(works, workdir):
    ingest(works[0], "柳州市保密局")
    [sub] = listing()
    assert checks(sub, "unit")[0][1] == "unit_unknown" and sub["unit"] == "柳州市保密局"
    configure(workdir, "contest:\n  deadline: 2099-12-31 23:59:59\n  units:\n    - 柳南区\n"
                       "    - {name: 市直单位, aliases: [柳州市保密局]}\n" + RULES)
    assert run("recheck", "1", "--no-media").returncode == 0
    [sub] = listing()
    assert (sub["unit"], sub["unit_raw"], sub["outcome"]) == ("市直单位", "柳州市保密局", "accepted")
    assert checks(sub, "unit") == [("pass", "ok", "参赛单位：市直单位（报送时写作“柳州市保密局”）。")]


def test_recheck_needs_numbers_or_all(workdir):
    expected = {
        (): "错误：请指定要重新检查的作品编号（如 intake recheck 4 #7），或用 --all 重新检查全部作品。\n",
        ("--all", "1"): "错误：--all 与作品编号不能同时使用。\n",
        ("--all", "--no-media", "--content"): "错误：--no-media 与 --content 不能同时使用。\n",
        ("#9",): "错误：找不到编号为 9 的作品。\n提示：请用 intake list 查看作品编号。\n",
    }
    for args, message in expected.items():
        out = run("recheck", *args)
        assert (out.returncode, out.stderr) == (2, message), args


def test_an_edit_made_while_a_recheck_looks_at_the_files_survives_it(works, workdir, monkeypatch):
    """A recheck is slow (it reads every stored file); an edit that lands meanwhile is not undone by it."""
    import intake.review.recheck as recheck_module
    from intake.review.edit import edit_submission

    ingest(works[0], "柳南区")
    real_examine = recheck_module.examine_file
    edits = []

    def examine_while_a_clerk_edits(*args, **kwargs):
        if not edits:   # the clerk's correction arrives while the recheck is reading the file
            edits.append(edit_submission(services_of(workdir), 1, {"unit": "鹿寨县", "contact": "李四"}, actor="clerk"))
        return real_examine(*args, **kwargs)

    monkeypatch.setattr(recheck_module, "examine_file", examine_while_a_clerk_edits)
    [done] = list(recheck_module.recheck(services_of(workdir), [1], actor="reviewer"))
    assert edits and done.changes == {}
    [sub] = listing()
    assert (sub["unit"], sub["unit_raw"], sub["contact"], sub["check_run"]) == ("鹿寨县", "鹿寨县", "李四", 3)
    assert "参赛单位：鹿寨县" in checks(sub, "contact_info")[0][2] + checks(sub, "unit")[0][2]
    kinds = [e.kind for e in services_of(workdir).db.audit.events(1)]
    assert kinds[-2:] == ["edited", "rechecked"]


def test_a_damaged_stored_copy_is_the_store_s_fault_not_the_submitter_s(works, workdir):
    ingest(works[0], "柳南区")
    [before] = listing()
    store = services_of(workdir)
    path = store.store.path_of(store.db.submissions.stored_paths(1)[0])
    recorded = before["files"][0]["size_bytes"]
    path.write_bytes(path.read_bytes()[:recorded // 2])   # cut short under the store's feet
    assert run("recheck", "1").returncode == 0
    [after] = listing()
    assert after["outcome"] != "rejected", after["checks"]
    [damaged] = [c for c in checks(after, "integrity") if c[1] == "stored_file_damaged"]
    assert damaged[0] == "warn"
    assert damaged[2].startswith(f"文件库中这个文件的存档与登记时不一致（现为 {size_text(recorded // 2)}，登记时为 "
                                 f"{size_text(recorded)}），无法重新检查")
    assert all(c[1] != "truncated" for c in checks(after, "integrity"))
    with path.open("r+b") as fh:   # same size, other content
        fh.truncate(0)
    path.write_bytes(b"\0" * recorded)
    assert run("recheck", "1").returncode == 0
    [again] = listing()
    assert [c[2] for c in checks(again, "integrity") if c[1] == "stored_file_damaged"] == [
        "文件库中这个文件的存档内容与登记时不一致（SHA-256 不符），无法重新检查，保留此前的检查结果。请检查文件库（storage.root）。"]
