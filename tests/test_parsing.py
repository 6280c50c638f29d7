"""Reading what senders write: phones and units in file names, zip entry names, 超大附件 links."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest

from intake.inbox.archives import member_name, unpack_zip
from intake.config import Config
from intake.pipeline.contact_info import find_phone
from intake.pipeline.contest_rules import UnitMatcher
from intake.mail.findings import warn_large_attachment_links
from intake.mail.links import find_large_attachment_links
from intake.mail.text import html_to_text
from intake.inbox.metadata import Metadata, from_file_name
from intake.pipeline.task import Source, SubmissionTask
from tests.configs import add_config
from tests import mails

UNITS = UnitMatcher(Config().contest)


# -- file names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("stem, unit, contact, phone, title", [
    ("柳北区-张伟-0772-2612345-网络安全", "柳北区", "张伟", "0772-2612345", "网络安全"),
    ("柳北区-张伟-07722612345-网络安全", "柳北区", "张伟", "07722612345", "网络安全"),
    ("柳北区-张伟-2612345-网络安全", "柳北区", "张伟", "2612345", "网络安全"),
    ("柳北区_张伟_（0772）2612345_网络安全", "柳北区", "张伟", "0772-2612345", "网络安全"),
    ("柳南区-李四-13800138000-守护秘密", "柳南区", "李四", "13800138000", "守护秘密"),
    ("守护秘密-李四-13800138000-柳南区委保密办", "柳南区委保密办", "李四", "13800138000", "守护秘密"),
    ("柳北区-0772-2612345-张伟-网络安全", "柳北区", "张伟", "0772-2612345", "网络安全"),
    ("张伟 13800138000 融水县 保密宣传(终版)", "融水县", "张伟", "13800138000", "保密宣传(终版)"),
    ("市公安局-甲-13977200009-夹", "市公安局", "甲", "13977200009", "夹"),
])
def test_file_name_phone_first_then_unit_then_contact(stem, unit, contact, phone, title):
    assert from_file_name(stem, UNITS) == Metadata(unit=unit, contact=contact, phone=phone, title=title)


def test_file_name_without_a_phone_gives_only_a_listed_unit():
    assert from_file_name("柳北区-张伟-网络安全", UNITS) == Metadata(unit="柳北区")
    assert from_file_name("柳北区-张伟-20240405-网络安全", UNITS) == Metadata(unit="柳北区")   # a date, not a number
    assert find_phone("作品20240405") is None
    assert from_file_name("融水县作品", UNITS) == Metadata(unit="融水县")       # a short form with its ending
    assert from_file_name("柳南-守护秘密", UNITS) == Metadata(unit="柳南")      # a bare short form as a part
    # Free-form names still need the phone: a part merely named like a unit, a unit only inside a word, two units.
    for stem in ("市公安局-守护秘密", "城中村的保密课", "柳南风光", "柳北区柳南区联合作品", "守护秘密"):
        assert from_file_name(stem, UNITS) == Metadata(), stem
    assert from_file_name("柳北区-张伟-网络安全") == Metadata()   # no unit list: nothing to go by


def test_a_county_named_in_a_dropped_file_name_without_a_phone_is_its_unit(clips, workdir):
    from tests.cli import listing, run

    add_config(workdir, "watch:\n  settle_seconds: 0\n")
    (workdir / "inbox").mkdir()
    for index, name in enumerate(("融水县作品.mp4", "柳城县作品.mp4", "城中村的保密课.mp4")):
        (workdir / "inbox" / name).write_bytes(mails.variant(clips["valid"].read_bytes(), str(index)))
    assert run("run", "--once").returncode == 0
    subs = listing(workdir)
    units = {s["files"][0]["original_name"]: (s["unit"], s["unit_raw"]) for s in subs}
    [free_form] = [s["id"] for s in subs if s["unit"] is None]
    assert units == {"融水县作品.mp4": ("融水苗族自治县", "融水县"), "柳城县作品.mp4": ("柳城县", "柳城县"),
                     "城中村的保密课.mp4": (None, None)}
    table = run("list", "--units").stdout.splitlines()
    assert [line.split()[:2] for line in table if line.startswith(("柳城县", "融水", "城中区"))] == [
        ["城中区", "未报送"], ["柳城县", "已报送"], ["融水苗族自治县", "已报送"]]
    assert table[-1] == f"每单位名额 1 件。另有 1 件作品未注明单位：#{free_form}。"


def test_unit_list_decides_which_part_is_the_unit():
    """Without the list a part named like a unit is taken; with it, the list wins."""
    stem = "走出保密误区-13800138000-张伟-柳城县委保密办"
    assert from_file_name(stem).unit == "走出保密误区"
    assert from_file_name(stem, UNITS) == Metadata(unit="柳城县委保密办", contact="张伟", phone="13800138000",
                                                   title="走出保密误区")


def test_dropped_file_name_fills_unit_contact_and_phone(clips, workdir):
    from tests.cli import listing, run

    add_config(workdir, "watch:\n  settle_seconds: 0\n")
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "柳北区-张伟-0772-2612345-网络安全.mp4").write_bytes(clips["valid"].read_bytes())
    assert run("run", "--once").returncode == 0
    [sub] = listing(workdir)
    assert (sub["unit"], sub["contact"], sub["phone"]) == ("柳北区", "张伟", "0772-2612345")
    contact = next(c for c in sub["checks"] if c["id"] == "contact_info")
    assert contact["status"] == "pass"


def test_dropped_file_name_is_read_against_the_unit_list(clips, workdir):
    """The folder source passes the configured units: a part named like a unit loses to one on the list."""
    from tests.cli import listing, run

    (workdir / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\n  units: [柳城县委保密办]\n"
                                         "rules:\n  opening:\n    ocr: false\n  sensitive:\n    scan: false\nwatch:\n  settle_seconds: 0\n",
                                         encoding="utf-8")
    (workdir / "inbox").mkdir()
    (workdir / "inbox" / "走出保密误区-13800138000-张伟-柳城县委保密办.mp4").write_bytes(clips["valid"].read_bytes())
    assert run("run", "--once").returncode == 0
    [sub] = listing(workdir)
    assert (sub["unit"], sub["contact"], sub["phone"], sub["title"]) == (
        "柳城县委保密办", "张伟", "13800138000", "走出保密误区")
    assert sub["outcome"] == "accepted", sub["checks"]


# -- zip entry names --------------------------------------------------------------------------------

def zip_with(entries: list[tuple[bytes, bool]]) -> bytes:
    """A zip whose entries carry exactly these raw name bytes, with or without the UTF-8 flag (bit 11)."""

    class RawName(zipfile.ZipInfo):
        raw: bytes
        utf8: bool

        def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own hook for the bytes it writes
            return self.raw, (self.flag_bits | 0x800) if self.utf8 else (self.flag_bits & ~0x800)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for index, (raw, utf8) in enumerate(entries):
            info = RawName(f"entry{index}.mp4")
            info.raw, info.utf8 = raw, utf8
            zf.writestr(info, b"\x00\x00\x00\x18ftypisom" + bytes(index))
    return buffer.getvalue()


def test_zip_names_from_linux_macos_and_windows(tmp_path):
    linux = "柳北区作品/守护秘密（终版）.mp4"
    windows = "城中区作品/保密法治.mp4"
    flagged = "鱼峰区/网络安全.mp4"
    data = zip_with([(linux.encode("utf-8"), False), (windows.encode("gbk"), False), (flagged.encode("utf-8"), True)])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        assert [i.flag_bits & 0x800 for i in infos] == [0, 0, 0x800]   # really written without the flag
        assert [member_name(i) for i in infos] == [linux, windows, flagged]
    out = unpack_zip(io.BytesIO(data), tmp_path, max_entries=10, max_total_bytes=10 ** 6)
    assert out.check.status.value == "pass", out.check
    assert [member for _, member in out.videos] == [linux, windows, flagged]
    assert (tmp_path / "柳北区作品" / "守护秘密（终版）.mp4").is_file()


# -- 超大附件 links ---------------------------------------------------------------------------------

def body_of(raw: bytes) -> str:
    """The body as the mail reader hands it on: each text part, HTML made readable."""
    msg = message_from_bytes(raw, policy=policy.default)
    parts = []
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            parts.append(html_to_text(part.get_content()))
        elif part.get_content_type() == "text/plain":
            parts.append(part.get_content())
    return "\n".join(parts)


LONG_NAME = "柳南区 “最美保密法治代言人” 微视频（终版）(1).mp4"


def test_163_links_keep_whole_names_and_stated_sizes():
    body = body_of(mails.netease_large([(LONG_NAME, "330.5M"), ("说明.docx", "12K")]))
    links, marked = find_large_attachment_links(body)
    assert marked
    assert [(link.name, link.size, link.size_bytes) for link in links] == [
        (LONG_NAME, "330.5M", round(330.5 * 2 ** 20)), ("说明.docx", "12K", 12 * 1024)]
    assert [link.url for link in links] == [
        "https://mail.163.com/large-attachment-download/index.html?file=djAyZG1meTh2S0V0&p=1",
        "https://mail.163.com/large-attachment-download/index.html?file=djAyZG1meTh2S0V1&p=1"]
    assert links[0].expires.isoformat() == "2099-08-17T00:49:00+08:00"


def test_qq_and_older_163_text_shapes():
    qq = ("从QQ邮箱发来的超大附件\n\n融水 作品(定稿).mp4 (128.03M, 2024年4月27日 21:59 到期)进入下载页面："
          "https://wx.mail.qq.com/ftn/download?func=3&key=abc&code=def\n")
    [link], _ = find_large_attachment_links(qq)
    assert (link.name, link.size_bytes) == ("融水 作品(定稿).mp4", round(128.03 * 2 ** 20))
    older = ("超大附件\n三江作品.mp4 (5.6 MB, 2015-12-26 11:43 到期)\n"
             "下载：https://mail.163.com/large-attachment-download/index.html?file=X\n")
    [link], _ = find_large_attachment_links(older)
    assert (link.name, link.size_bytes, link.expires.isoformat()) == (
        "三江作品.mp4", round(5.6 * 2 ** 20), "2015-12-26T11:43:00+08:00")


def findings_for(raw: bytes) -> SubmissionTask:
    task = SubmissionTask(source=Source.MAIL, received_at=datetime.now(timezone.utc))
    task.attachment_links, task.mentions_large_attachment = find_large_attachment_links(body_of(raw))
    warn_large_attachment_links(task, SimpleNamespace(config=Config()))
    return task


def test_a_link_over_the_size_limit_is_rejected_before_download():
    task = findings_for(mails.netease_large([(LONG_NAME, "330.5M"), ("说明.docx", "12K")]))
    size = next(c for c in task.checks if c.check_id == "size")
    assert (size.status.value, size.code) == ("fail", "link_too_large")
    assert size.message == (f"“超大附件”下载链接标明的文件大小超过 300 MB 的上限：“{LONG_NAME}”（330.5 MB）。"
                            "请压缩视频（如降低码率）后重新报送。")
    link = next(c for c in task.checks if c.check_id == "large_attachment_link")
    assert f"1. {LONG_NAME}（330.5 MB，2099-08-17 00:49 到期）：https://mail.163.com/" in link.message
    assert "2. 说明.docx（12 KB，" in link.message
    assert task.outcome.value == "rejected"


def test_a_link_within_the_limit_only_waits_for_download():
    task = findings_for(mails.netease_large([("三江作品.mp4", "299.99M")]))
    assert [(c.check_id, c.status.value) for c in task.checks] == [("large_attachment_link", "warn")]


def test_a_stated_size_beyond_any_file_is_taken_as_unknown_and_never_raises():
    body = body_of(mails.netease_large([("作品", "9" * 400 + "M"), ("说明.docx", "2G"), ("大.mp4", "1025G")]))
    links, _ = find_large_attachment_links(body)
    assert [(link.name, link.size, link.size_bytes) for link in links] == [
        ("作品", None, None), ("说明.docx", "2G", 2 * 2 ** 30), ("大.mp4", None, None)]   # over 1 TiB: unknown
    task = findings_for(mails.netease_large([("作品", "9" * 400 + "M")]))
    assert [(c.check_id, c.status.value) for c in task.checks] == [("large_attachment_link", "warn")]
    assert "1. 作品（大小不详，2099-08-17 00:49 到期）" in task.checks[0].message


# GBK names that are valid UTF-8 as well: read as UTF-8 they would be Cyrillic, Greek or Armenian (学习 → ѧϰ).
GBK_AND_UTF8 = ["学习", "知识", "校园", "小品", "鹿寨"]


@pytest.mark.parametrize("word", GBK_AND_UTF8)
def test_windows_zip_names_that_are_also_valid_utf8_are_read_as_gbk(word, tmp_path):
    raw = word.encode("gbk")
    raw.decode("utf-8")   # really valid UTF-8 too
    data = zip_with([(raw + b".mp4", False), (raw + b".txt", False)])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert [member_name(i) for i in zf.infolist()] == [f"{word}.mp4", f"{word}.txt"]
    out = unpack_zip(io.BytesIO(data), tmp_path, max_entries=10, max_total_bytes=10 ** 6)
    assert [member for _, member in out.videos] == [f"{word}.mp4", f"{word}.txt"]   # both hold MP4 bytes here


def test_a_zip_is_read_in_one_encoding_decided_from_all_its_names(tmp_path):
    # 猫枚 alone reads as the Latin word èö in UTF-8; the zip's other name is GBK only, and settles it.
    data = zip_with([("猫枚.mp4".encode("gbk"), False), ("柳南区作品.txt".encode("gbk"), False)])
    out = unpack_zip(io.BytesIO(data), tmp_path, max_entries=10, max_total_bytes=10 ** 6)
    assert [member for _, member in out.videos] == ["猫枚.mp4", "柳南区作品.txt"]
    linux = zip_with([("Café 作品©.mp4".encode("utf-8"), False), ("学习.txt".encode("utf-8"), False)])
    with zipfile.ZipFile(io.BytesIO(linux)) as zf:
        assert [member_name(i) for i in zf.infolist()] == ["Café 作品©.mp4", "学习.txt"]
