"""What the tool writes and prints is shown, never run: spreadsheet cells, the terminal, HTML, export names.

Every test records real clips through ``intake ingest`` in-process, then reads back what a reviewer or
the operator would see. Entry points may already strip control characters from some fields; the
``hostile`` helper also writes raw values straight into the records (as an older version or another
source could have left them), so that the output side is tested on its own.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest

from tests import mails
from tests.cli import run

FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\t=1+1", "a\x01b", "\x1b[31m红色"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
ESC = "\x1b[31m"
CSI = "\x9b31m"                      # the one-character C1 form of ESC [


def intake(*args: str):
    """``intake ARGS`` in-process; ingest exits like validate (0 通过, 3 待复核, 4 不合格) and records the work."""
    result = run(*args)
    assert result.returncode in ((0, 3, 4) if args[0] == "ingest" else (0,)), result.stderr
    if args[0] == "ingest":
        assert "已登记作品 #" in result.stdout, result.stdout
    return result


def clip_named(clips, folder: Path, name: str, tag: str) -> Path:
    """A distinct valid clip (its own hash) under a name of our choosing."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(mails.variant(clips["valid"].read_bytes(), tag))
    return path


def hostile(submission_id: int, value: str, file_name: str | None = None) -> None:
    """Write ``value`` raw into every outside field of one record, past any cleaning at the entry."""
    from sqlalchemy import select

    from intake.pipeline.services import open_database
    from intake.config import load_config
    from storage.models import MediaFile, Submission

    db = open_database(load_config(None))
    with db.session() as s:
        sub = s.get(Submission, submission_id)
        for field in ("unit", "unit_raw", "contact", "speaker", "topic", "title"):
            setattr(sub, field, value)
        if file_name is not None:
            for f in s.scalars(select(MediaFile).where(MediaFile.submission_id == submission_id)):
                f.original_name = file_name


def name_safe(text: str) -> str:
    return text.replace("/", "_")


@pytest.fixture
def formulas(clips, workdir) -> Path:
    """One recorded, shortlisted work per formula-like value, in unit, title, contact and file name."""
    for index, value in enumerate(FORMULAS, start=1):
        path = clip_named(clips, workdir / "files", f"{name_safe(value)}.mp4", str(index))
        intake("ingest", str(path), "--unit", value, "--title", value, "--contact", value,
               "--phone", f"1380000000{index}")
        hostile(index, value)
        intake("decide", str(index), "--shortlist", "--note", value)
    return workdir


def assert_shown_not_run(value) -> None:
    if isinstance(value, str) and value:
        assert not value.startswith(FORMULA_START), repr(value)
        assert "\x01" not in value and "\x1b" not in value, repr(value)


def assert_xlsx_shown_not_run(c) -> None:
    """An xlsx cell: a string cell (never a formula) holds the text as written, with no added ``'``; one that
    looks like a formula carries Excel's quote prefix, so that it stays text when someone edits it."""
    assert c.data_type != "f", (c.coordinate, c.value)
    if isinstance(c.value, str):
        assert c.data_type == "s", (c.coordinate, c.value)
        assert "\x01" not in c.value and "\x1b" not in c.value, repr(c.value)
        assert not c.value.startswith("'"), repr(c.value)
        assert bool(c.quotePrefix) == c.value.startswith(FORMULA_START), (c.coordinate, c.value)


def test_csv_report_neutralises_formulas(formulas):
    intake("report", "--format", "csv", "-o", "r.csv")
    rows = list(csv.reader(io.StringIO((formulas / "r.csv").read_text(encoding="utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(body) == len(FORMULAS)
    for row in body:
        for value in row:
            assert_shown_not_run(value)
    unit = header.index("单位")
    assert [row[unit] for row in body][:4] == ["'" + v for v in FORMULAS[:4]]
    assert body[0][header.index("联系电话")] == "13800000001"


def xlsx_cells(path: Path, phone_header: str) -> tuple[list, list]:
    """All rows (a title row, if any, first), and the phone cells below the header."""
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows())
    header = next(index for index, row in enumerate(rows) if phone_header in [c.value for c in row])
    column = [c.value for c in rows[header]].index(phone_header)
    return rows, [row[column] for row in rows[header + 1:]]


def test_report_xlsx_neutralises_formulas_and_keeps_phones_text(formulas):
    intake("report", "--format", "xlsx", "-o", "r.xlsx")
    rows, phones = xlsx_cells(formulas / "r.xlsx", "联系电话")
    assert len(rows) == len(FORMULAS) + 1
    for row in rows:
        for c in row:
            assert_xlsx_shown_not_run(c)
    assert [(p.value, p.data_type, p.number_format) for p in phones][0] == ("13800000001", "s", "@")
    assert all(isinstance(p.value, str) and p.data_type == "s" for p in phones)
    assert [row[1].value for row in rows[1:5]] == FORMULAS[:4]   # as written, in string cells
    assert [row[1].quotePrefix for row in rows[1:5]] == [True] * 4   # and text when edited in Excel or WPS


def test_export_summary_neutralises_formulas_and_keeps_phones_text(formulas):
    out = intake("export", "报送")
    assert f"已导出 {len(FORMULAS)} 个文件和汇总表" in out.output
    rows, phones = xlsx_cells(formulas / "报送" / "汇总表.xlsx", "联系电话")
    assert len(rows) == len(FORMULAS) + 2       # the title row, the header, one row per work
    for row in rows:
        for c in row:
            assert_xlsx_shown_not_run(c)
    assert all(isinstance(p.value, str) and p.data_type == "s" and p.number_format == "@" for p in phones)
    assert [p.value for p in phones][:2] == ["13800000001", "13800000002"]
    titles = [c.value for c in rows[1]].index("作品名")
    assert [row[titles].value for row in rows[2:6]] == FORMULAS[:4]   # -2 stays -2, not '-2
    assert [row[titles].quotePrefix for row in rows[2:6]] == [True] * 4
    for path in (formulas / "报送").iterdir():
        assert "\x01" not in path.name and "\x1b" not in path.name


def test_control_character_in_names_does_not_stop_xlsx_or_export(clips, workdir):
    path = clip_named(clips, workdir / "files", "控制\x01字符.mp4", "ctl")
    intake("ingest", str(path), "--unit", "柳南区\x01", "--contact", "张\x01三", "--phone", "13800000001")
    hostile(1, "柳南\x01区", file_name="控制\x01字符.mp4")
    intake("decide", "1", "--shortlist", "--note", "备\x01注")
    intake("report", "--format", "xlsx", "-o", "r.xlsx")
    rows, _ = xlsx_cells(workdir / "r.xlsx", "联系电话")
    assert rows[1][1].value == "柳南区"
    assert not any("\x01" in str(c.value) for row in rows for c in row)
    out = intake("export", "报送")
    assert "已导出 1 个文件和汇总表" in out.output
    assert sorted(p.name for p in (workdir / "报送").iterdir()) == [".intake-export.json", "01_柳南区_柳南区.mp4",
                                                                   "汇总表.xlsx"]


@pytest.fixture
def escapes(clips, workdir) -> Path:
    path = clip_named(clips, workdir / "files", f"{ESC}片名{CSI}.mp4", "esc")
    intake("ingest", str(path), "--unit", f"{ESC}柳南区", "--title", f"{ESC}作品", "--phone", "13800000001")
    hostile(1, f"{ESC}柳南区{CSI}", file_name=f"{ESC}片名{CSI}.mp4")
    return workdir


def assert_no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\x9b" not in text, repr(text)


def test_escape_sequences_reach_the_terminal_as_text(escapes):
    listed = intake("list").output
    assert_no_raw_controls(listed)
    assert "\\x1b[31m柳南区\\x9b31m" in listed and "\\x1b[31m片名\\x9b31m.mp4" in listed
    assert_no_raw_controls(intake("list", "--json").output)
    decided = intake("decide", "1", "--shortlist", "--reviewer", f"{ESC}评审").output
    assert decided == "作品 #1：入围（评审人：\\x1b[31m评审）\n"
    for fmt in ("csv", "json", "html"):
        assert_no_raw_controls(intake("report", "--format", fmt, "-o", "-").output)
    exported = intake("export", "报送").output
    assert_no_raw_controls(exported)
    [video] = (escapes / "报送").glob("*.mp4")
    assert_no_raw_controls(video.name)
    assert video.name in exported


def test_json_to_the_terminal_still_parses_to_the_records(escapes):
    import json

    listed = json.loads(intake("list", "--json").output)
    assert listed[0]["unit"] == f"{ESC}柳南区{CSI}"
    assert json.loads(intake("report", "--format", "json", "-o", "-").output) == listed


def test_watch_prints_dropped_names_as_text(clips, workdir):
    # The printer for finished files runs in the watcher's own thread.
    (workdir / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\nrules:\n  opening:\n"
                                         "    ocr: false\n  sensitive:\n    scan: false\nwatch:\n  settle_seconds: 0\n", encoding="utf-8")
    clip_named(clips, workdir / "inbox", f"{ESC}柳南区-张三-13800000001-作品{CSI}.mp4", "watch")
    done = run("watch", "--once")
    assert done.returncode == 0, done.stderr
    assert "作品 #1" in done.stdout
    assert_no_raw_controls(done.stdout)
    assert_no_raw_controls(done.stderr)


def test_a_newline_in_a_dropped_name_cannot_forge_an_output_or_log_line(clips, workdir):
    (workdir / "config.yaml").write_text("contest:\n  deadline: 2099-12-31 23:59:59\nrules:\n  opening:\n"
                                         "    ocr: false\n  sensitive:\n    scan: false\nwatch:\n  settle_seconds: 0\n", encoding="utf-8")
    forged = "[通过] 作品 #999：柳南区-张三-13800138000-守护秘密.mp4 → ok"
    clip_named(clips, workdir / "inbox", f"a.mp4 → done\n{forged}\nb.mp4", "watch")
    done = run("watch", "--once")
    assert done.returncode == 0, done.stderr
    assert "作品 #1" in done.stdout and "\\n[通过] 作品 #999" in done.stdout
    for stream in (done.stdout, done.stderr):
        assert not any(line.startswith(("[通过] 作品 #999", forged)) for line in stream.splitlines()), stream


def test_log_lines_on_the_terminal_show_controls(capsys):
    import logging

    from core.terminal_log import terminal_safe_logging

    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(handler)
    try:
        terminal_safe_logging()
        logging.getLogger("intake.test").warning("跳过 %s", f"{ESC}片名{CSI}.mp4")
    finally:
        root.removeHandler(handler)
    assert capsys.readouterr().err == "WARNING 跳过 \\x1b[31m片名\\x9b31m.mp4\n"


def test_export_with_long_unit_and_title(clips, workdir):
    unit = ("柳州市很长很长的参赛单位名称" * 20)[:200]
    title = ("🎬守护秘密人人有责" * 30)[:200]
    first = clip_named(clips, workdir / "files", "一.mp4", "long1")
    second = clip_named(clips, workdir / "files", "二.mp4", "long2")
    intake("ingest", str(first), str(second), "--unit", unit, "--title", title, "--phone", "13800000001")
    intake("decide", "1", "--shortlist")
    out = intake("export", "报送")
    assert "已导出 2 个文件和汇总表" in out.output
    folder = workdir / "报送"
    videos = sorted(p for p in folder.iterdir() if p.suffix == ".mp4")
    assert [p.name[:5] for p in videos] == ["01-1_", "01-2_"]
    for path, source in zip(videos, (first, second)):
        assert len(path.name.encode("utf-8")) <= 255
        assert path.name.endswith(".mp4") and "/" not in path.name
        assert path.read_bytes() == source.read_bytes()
    assert (folder / "汇总表.xlsx").exists()
    assert not list(folder.glob(".*.part"))
    rows, _ = xlsx_cells(folder / "汇总表.xlsx", "联系电话")
    assert [row[10].value for row in rows[2:]] == [p.name for p in videos]


def test_html_report_escapes_everything(formulas):
    from intake.report.build import ENV

    template = Path(ENV.loader.get_source(ENV, "report.html.j2")[1]).read_text(encoding="utf-8")
    assert "|safe" not in template.replace(" ", "") and "autoescape false" not in template
    assert ENV.autoescape is True or ENV.autoescape("report.html.j2")
    hostile(1, "<script>window.pwned=1</script>", file_name='<img src=x onerror="alert(1)">.mp4')
    intake("report", "-o", "r.html")
    page = (formulas / "r.html").read_text(encoding="utf-8")
    assert "<script>window.pwned" not in page and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert "<img src=x" not in page


def test_bidi_controls_are_dropped_from_outside_text_and_shown_on_the_terminal():
    from core.textsafe import clean_text, for_terminal, one_line

    tricks = "作品\u202e4pm.exe\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069"
    assert one_line(tricks) == "作品4pm.exe" and clean_text(tricks + "\n下一行") == "作品4pm.exe\n下一行"
    assert for_terminal("作品\u202e4pm.exe") == "作品\\u202e4pm.exe"
