"""Small pure functions: box walk edge cases, sniffing, contact info, outcomes."""

from __future__ import annotations

import struct

import pytest

from intake.pipeline.contact_info import check_contact_info, normalise_phone
from validators.boxes import walk
from validators.results import Outcome, failed, outcome_of, passed, warned
from validators.sniff import sniff_bytes


def box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_walk_reads_brands_and_boxes(tmp_path):
    f = tmp_path / "x.mp4"
    f.write_bytes(box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + box(b"moov") + box(b"mdat", b"\x00" * 10))
    layout = walk(f)
    assert [b.type for b in layout.boxes] == ["ftyp", "moov", "mdat"]
    assert layout.major_brand == "isom" and layout.compatible_brands == ["isom", "iso2", "mp41"]
    assert layout.problem is None


def test_walk_flags_a_box_running_past_the_end(tmp_path):
    f = tmp_path / "x.mp4"
    f.write_bytes(box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I4s", 1000, b"mdat") + b"\x00" * 10)
    layout = walk(f)
    assert layout.problem == "truncated" and layout.expected_size == 16 + 1000


def test_walk_flags_garbage(tmp_path):
    f = tmp_path / "x.mp4"
    f.write_bytes(box(b"ftyp", b"isom\x00\x00\x00\x00") + b"\x00\x00\x00\x03\xff\xfe\xfd\xfc")
    assert walk(f).problem == "bad_box"


@pytest.mark.parametrize("head,kind", [
    (b"", "empty"), (b"\x00\x00\x00\x14ftypqt  ", "quicktime"), (b"\x00\x00\x00\x14ftypisom", "mp4"),
    (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x1fB\x86\x81\x01webm", "webm"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"), (b"FLV\x01", "flv"), (b"#EXTM3U\n", "hls"),
    (b"\xef\xbb\xbf#EXTM3U\n", "hls"), (b"\xff\xd8\xff\xe0", "jpeg"), (b"Rar!\x1a\x07\x00", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"), ("报名表：柳南区".encode("gbk"), "text"), (b"\x00\x01\x02\x03\x04", "unknown"),
])
def test_sniff(head, kind):
    assert sniff_bytes(head) == kind


@pytest.mark.parametrize("raw,expected", [
    ("138 0013 8000", "13800138000"), ("０７７２－２８０１２３４", "0772-2801234"), ("+86 13800138000", "13800138000"),
    ("(0772)2801234", "0772-2801234"), ("07722801234", "07722801234"),
    ("+86 0772 2801234", "0772-2801234"), ("2801234", "2801234"), ("", None),
])
def test_normalise_phone(raw, expected):
    assert normalise_phone(raw) == expected


def test_contact_info():
    assert check_contact_info("柳南区", "张三", "13800138000").status.value == "pass"
    assert check_contact_info("柳南区", "张三", "2801234").status.value == "pass"
    missing = check_contact_info("柳南区", None, None)
    assert (missing.status.value, missing.code) == ("warn", "missing")
    assert "联系人、联系电话" in missing.message
    bad = check_contact_info("柳南区", "张三", "12345")
    assert (bad.status.value, bad.code) == ("warn", "invalid_phone")


def test_outcome_is_derived_from_results():
    ok, warn, fail = passed("a", "m"), warned("b", "c", "m"), failed("d", "e", "m")
    assert outcome_of([ok]) is Outcome.ACCEPTED
    assert outcome_of([ok, warn]) is Outcome.NEEDS_REVIEW
    assert outcome_of([warn, fail, ok]) is Outcome.REJECTED
    assert outcome_of([]) is Outcome.ACCEPTED
