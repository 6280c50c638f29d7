"""The secrecy scan: classification marks on document pages shown anywhere in a video are found at their time,
through `validate`, the folder and the mailbox, whatever else the file fails; talk about secrecy is not a mark;
a scan that could not finish says so; and a flag travels with the work to the shortlist and the export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from intake.config import load_config
from intake.desk.accounts import add_account
from intake.pipeline.services import open_services
from tests import mails, media
from tests.cli import listing, run
from tests.configs import add_config
from tests.conftest import OPEN_CONTEST
from tests.desks import PASSWORD, log_in_page, record, running_desk
from tests.media import Page
from tests.mailboxes import append
from tests.folders import write_folder_config
from validators.examine import examine_file
from validators.frame_scan import scan_frames
from validators.opened import OpenedFile
from validators.rules import RulesConfig, SensitiveConfig
from validators.sensitive import Unread, check_sensitive, find_sensitive
from validators.texts import TextSource
from tests.waiting import wait_until

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)

SCAN_ON = "rules:\n  sensitive:\n    scan: true\n"
NARRATION = [
    "我是保密法治代言人张三，今天我要讲的是涉密载体管理",
    "国家秘密的密级分为绝密、机密、秘密三级",
    "涉密文件管理要标明密级和保密期限",
]
# Four pages at different times, places, sizes and colours over a 30 s video (960×540).
PAGES = [Page(3.0, 5.5, 20, 20, 430, 250, "绝密★长期", 22, "black"),
         Page(9.0, 11.5, 500, 260, 440, 260, "机密★10年", 22, "red"),
         Page(16.0, 18.5, 250, 130, 460, 280, "秘密★5年", 28, "black", "0xf2efe6"),
         Page(24.0, 26.5, 480, 14, 460, 250, "内部资料 注意保密", 20, "red")]
# Two of them over 10 s: where a test follows the marks through a path (the folder, the mailbox, the desk) rather
# than the scan's reach, a shorter video reads the same way at a third of the cost.
SHORT_PAGES = [Page(2.0, 4.5, 20, 20, 430, 250, "绝密★长期", 22, "black"),
               Page(6.0, 8.5, 500, 260, 440, 260, "机密★10年", 22, "red")]


@pytest.fixture(scope="module")
def videos(tmp_path_factory, font) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sensitive")
    return {
        "talk": media.captioned(d / "talk.mp4", 4, [(0, 1.45, NARRATION[0], 90), (1.5, 2.45, NARRATION[1], 90),
                                                    (2.5, 4, NARRATION[2], 90)], font),
        "pages": media.document_pages(d / "pages.mp4", 30, PAGES, font, background="gradients=speed=0.02"),
        "short_pages": media.document_pages(d / "short_pages.mp4", 10, SHORT_PAGES, font,
                                            background="gradients=speed=0.02"),
        # 24 px glyphs on 1080p, red on a white page in the bottom right corner.
        "full_hd": media.document_pages(d / "full_hd.mp4", 6, [Page(2.0, 4.5, 1380, 700, 520, 360, "机密★10年", 24, "red")],
                                        font, size="1920x1080", rate=2),
        # 2分10秒, rejected for its length: the mark at seconds 2–8 must still be seen.
        "too_long": media.document_pages(d / "too_long.mp4", 130, [Page(2.0, 8.0, 20, 20, 260, 140, "秘密★10年", 16)],
                                         font, size="320x180", rate=1),
        "mov": media.document_pages(d / "mov.mp4", 8, [Page(4.0, 6.5, 300, 200, 420, 220, "内部资料 注意保密", 22)],
                                    font, fmt="mov"),
        "faststart": media.document_pages(d / "faststart.mp4", 20, [], font, size="320x180", rate=2,
                                          background="gradients=speed=0.05", extra=("-movflags", "+faststart")),
    }


@pytest.fixture
def scanning(workdir) -> Path:
    """The test folder with the whole-video scan on (the suite's config switches it off elsewhere)."""
    add_config(workdir, SCAN_ON)
    return workdir


def sensitive(item: dict) -> dict:
    """A file's secrecy check (a mail's own text has one of its own, for the whole submission)."""
    scans = [c for c in item["checks"] if c["id"] == "sensitive_content"]
    return next((c for c in scans if c.get("file") is not None), scans[0])


def compact(text: str) -> str:
    return "".join(text.split())


def found_at(check: dict) -> dict[str, float]:
    return {f["text"]: f["seconds"] for f in check["details"]["found"]}


def assert_pages_found(check: dict, pages: list[Page] = PAGES) -> None:
    """Every page's mark found once, on screen, at the time its page shows, where it was drawn."""
    assert (check["status"], check["code"]) == ("warn", "flagged"), check["message"]
    found = check["details"]["found"]
    assert sorted(compact(f["text"]) for f in found) == sorted(compact(p.mark) for p in pages), found
    for page in pages:
        [item] = [f for f in found if compact(f["text"]) == compact(page.mark)]
        assert item["where"] == "画面文字"
        assert page.start <= item["seconds"] <= page.start + 1.5, (page, item)
        left, top, _, _ = item["box"]
        assert abs(left * 960 - (page.x + 12)) < 40 and abs(top * 540 - (page.y + 12)) < 40, (page, item)
    assert check["details"]["complete"] is True


def test_marks_anywhere_are_found_at_their_time_by_validate(videos, scanning):
    out = run("validate", "--json", videos["pages"])
    assert out.returncode == 3, out.stderr
    [item] = json.loads(out.stdout)
    check = sensitive(item)
    assert_pages_found(check)
    assert check["details"]["scanned_seconds"] == 30.0
    frames = check["details"]["frames"]
    assert frames >= 30   # at least one a second, plus the scene changes
    assert check["message"] == (
        "发现可能涉密或敏感的内容，请人工复核：" + "；".join(
            f"“{text}”出现在画面文字，约第 {seconds:.0f} 秒" for text, seconds in sorted(
                found_at(check).items(), key=lambda item: item[1]))
        + f"。已查看：全片 30秒（共读取 {frames} 帧画面）、文件名、文件信息。")
    opening = next(c for c in item["checks"] if c["id"] == "opening_phrase")
    assert opening["status"] == "pass"   # the phrase search keeps its own window and sources


def test_a_24_pixel_mark_in_a_corner_of_a_1080p_frame_is_found(videos, scanning):
    out = run("validate", "--json", videos["full_hd"])
    [item] = json.loads(out.stdout)
    check = sensitive(item)
    assert (check["code"], found_at(check)) == ("flagged", {"机密★10年": pytest.approx(2.0, abs=1.0)})


def test_a_talk_about_secrecy_is_not_flagged_and_says_what_it_read(videos):
    rules = RulesConfig()
    with OpenedFile.open(videos["talk"]) as opened:
        scan = scan_frames(opened, "mp4", rules, whole=True, window=0, duration=4.0)
    read = "\n".join(line.text for line in scan.lines)
    for said in ("涉密载体管理", "绝密、机密、秘密", "密级和保密期限"):   # the scan did read the narration
        assert said in read, read
    assert scan.complete and scan.covered == 4.0
    report = examine_file(videos["talk"], rules)
    [check] = [c for c in report.checks if c.check_id == "sensitive_content"]
    assert check.status.value == "pass"
    assert check.message == (f"未发现密级标志或敏感词（已查看：全片 4秒（共读取 {check.details['frames']} 帧画面）、"
                             "文件名、文件信息）。")
    assert check.details["found"] == [] and check.details["scanned_seconds"] == 4.0


def test_marks_are_found_through_the_folder(videos, workdir):
    write_folder_config(workdir)
    add_config(workdir, SCAN_ON)
    inbox = workdir / "inbox"
    inbox.mkdir()
    (inbox / "柳南区-张三-13800138000-保密宣传.mp4").write_bytes(videos["short_pages"].read_bytes())
    assert run("run", "--once").returncode == 0
    [sub] = listing()
    assert_pages_found(sensitive(sub), SHORT_PAGES)
    assert sub["secrecy"]["flagged"]
    assert {compact(f["text"]) for f in sub["secrecy"]["found"]} == {compact(p.mark) for p in SHORT_PAGES}
    shown = run("list")
    assert "【待复核】【涉密提醒】" in shown.stdout


def test_marks_are_found_through_the_mailbox(videos, mailbox, dovecot):
    add_config(mailbox, SCAN_ON)
    append(dovecot, mails.modern("柳北区 保密微视频", "单位：柳北区\n联系人：李四\n电话：13977200010\n",
                                 [("作品.mp4", videos["short_pages"].read_bytes(), "video/mp4")]))
    assert run("poll", "--once").returncode == 0
    [sub] = listing()
    assert_pages_found(sensitive(sub), SHORT_PAGES)


def test_a_file_rejected_for_its_length_is_scanned_and_guards_the_shortlist_and_export(videos, workdir):
    add_config(workdir, SCAN_ON)
    assert run("ingest", videos["too_long"], "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000",
               "--title", "太长了").returncode == 4
    [sub] = listing()
    assert sub["outcome"] == "rejected"
    check = sensitive(sub)
    assert (check["code"], found_at(check)) == ("flagged", {"秘密★10年": pytest.approx(2.0, abs=1.0)})
    assert check["details"]["scanned_seconds"] == 130.0
    assert "全片 2分10秒" in check["message"]

    again = run("recheck", "1", "--content")   # read again: still found
    assert again.returncode == 0, again.stderr
    assert found_at(sensitive(listing()[0])) == {"秘密★10年": pytest.approx(2.0, abs=1.0)}

    refused = run("decide", "1", "--shortlist")
    assert refused.returncode == 2
    assert refused.stderr == ("错误：作品 #1 检查结果是不合格（时长）；发现可能涉密的内容：“秘密★10年”（画面文字，约第 2 秒），"
                              "一般不应入围，未记录。\n提示：确需入围时（评审已人工核实、认为可以接受），请加 --force 再执行一次；"
                              "审计日志和导出时会注明。\n")
    forced = run("decide", "1", "--shortlist", "--force", "--note", "已核实为道具")
    assert forced.returncode == 0
    assert "发现可能涉密的内容：“秘密★10年”（画面文字，约第 2 秒），已按 --force 记为入围。" in forced.stderr
    decision = listing()[0]["decision"]
    assert decision["forced"] and decision["reasons"] == ["检查结果是不合格（时长）",
                                                          "发现可能涉密的内容：“秘密★10年”（画面文字，约第 2 秒）"]
    assert "     强制入围：检查结果是不合格（时长）；发现可能涉密的内容：" in run("list").stdout

    out = run("export", "报送")
    assert out.returncode == 0, out.stderr
    assert "     ⚠ 发现可能涉密的内容：“秘密★10年”（画面文字，约第 2 秒）\n" in out.stdout
    assert "注意：1 件入围作品有涉密提醒（#1），报送前请再次人工核实。" in out.stdout
    from openpyxl import load_workbook

    sheet = load_workbook(workdir / "报送" / "汇总表.xlsx").active
    header = [c.value for c in sheet[2]]
    row = [c.value for c in sheet[3]]
    assert row[header.index("涉密提醒")] == "发现可能涉密的内容：“秘密★10年”（画面文字，约第 2 秒）"
    assert row[header.index("备注")].startswith("强制入围：检查结果是不合格（时长）")


def test_a_remuxed_mov_is_scanned_as_the_mp4_it_became(videos, workdir):
    write_folder_config(workdir)
    add_config(workdir, SCAN_ON)
    inbox = workdir / "inbox"
    inbox.mkdir()
    (inbox / "柳江区-王五-13900001111-作品.mov").write_bytes(videos["mov"].read_bytes())
    assert run("run", "--once").returncode == 0
    [sub] = listing()
    assert sub["files"][0]["repair"] == "remux"
    scans = [c for c in sub["checks"] if c["id"] == "sensitive_content"]
    assert len(scans) == 1   # the MP4 judged was read, not the original and then its copy again
    assert {compact(text): at for text, at in found_at(scans[0]).items()} == {"内部资料注意保密": pytest.approx(4.0, abs=1.0)}


def test_a_file_cut_off_half_way_says_how_much_was_scanned(videos, scanning):
    cut = media.truncate_copy(videos["faststart"], scanning / "cut.mp4", 0.5)
    out = run("validate", "--json", cut)
    [item] = json.loads(out.stdout)
    check = sensitive(item)
    assert (check["status"], check["code"]) == ("warn", "scan_incomplete")
    covered = check["details"]["scanned_seconds"]
    assert 3 <= covered < 15 and not check["details"]["complete"]
    assert check["message"].startswith("全片扫描未完成。已查看：前 ")
    assert f"画面只能解码到约第 {covered:.0f} 秒（视频长 20秒）" in check["message"]
    assert check["message"].endswith("请人工观看确认。") and "未发现" not in check["message"].split("其中")[0]


def test_a_file_that_does_not_decode_at_all_is_never_said_clean(clips, scanning):
    for name in ("truncated", "text"):   # the index cut off (moov lost), and a text file named .mp4
        out = run("validate", "--json", clips[name])
        [item] = json.loads(out.stdout)
        check = sensitive(item)
        assert (check["status"], check["code"]) == ("warn", "scan_incomplete"), (name, check)
        assert check["details"]["scanned_seconds"] == 0.0 and check["details"]["frames"] == 0


def test_without_the_scan_the_check_says_the_picture_was_not_read(videos, workdir):
    out = run("validate", "--json", "--no-ocr", videos["pages"])
    check = sensitive(json.loads(out.stdout)[0])
    assert (check["status"], check["code"]) == ("pass", "not_scanned")
    assert check["message"] == "未发现密级标志或敏感词（已查看：文件名、文件信息；画面未查看：已关闭全片扫描（--no-ocr））。"


@pytest.mark.parametrize("text", [
    *NARRATION, "今天我要讲的是涉密载体管理", "保密期限届满的，自行解密", "内部资料也要妥善保管，不能随意外传",
    "秘密级文件不得私自复制", "★★★ 五星好评 ★★★", "保守国家秘密 人人有责", "涉密文件要按密级管理",
])
def test_narration_is_not_a_marking(text):
    assert check_sensitive([TextSource("ocr", text, None, 1.0)], SensitiveConfig()).status.value == "pass"


@pytest.mark.parametrize("text,marking", [
    ("机密★10年", "机密★10年"), ("秘密★1年", "秘密★1年"), ("绝密★长期", "绝密★长期"), ("秘密★", "秘密★"),
    ("绝密 ★ 启用前", "绝密 ★ 启用前"), ("机密＊5年", "机密*5年"), ("内部★", "内部★"), ("内部资料", "内部资料"),
    ("【内部资料 注意保存】", "【内部资料 注意保存】"),
])
def test_markings_are_flagged(text, marking):
    check = check_sensitive([TextSource("ocr", text, None, 2.0)], SensitiveConfig())
    assert (check.status.value, check.code) == ("warn", "flagged")
    assert check.message.startswith(f"发现可能涉密或敏感的内容，请人工复核：“{marking}”出现在画面文字，约第 2 秒。")
    assert "\n" not in check.message and check.advice


@pytest.mark.parametrize("read", ["增显★长期", "雄园★长明", "机轻★10年", "内郁资料注意保密", "内都资料 注意保密"])
def test_a_marking_misread_on_screen_is_still_flagged(read):
    [item] = find_sensitive([TextSource("ocr", read, None, 30.0, (0.1, 0.1, 0.3, 0.15))], SensitiveConfig())
    assert item["misread"] and item["seconds"] == 30.0 and item["box"] == [0.1, 0.1, 0.3, 0.15]
    check = check_sensitive([TextSource("ocr", read, None, 70.0)], SensitiveConfig())
    assert f"“{read}”（疑似密级标志，文字识别可能有误）出现在画面文字，约第 70 秒（1分10秒）" in check.message


def test_misreading_is_forgiven_on_screen_only():
    assert find_sensitive([TextSource("subtitle", "增显★长期", None, 3.0)], SensitiveConfig()) == []


def test_configured_keywords_are_flagged_anywhere():
    cfg = SensitiveConfig(keywords=("作战部署",))
    check = check_sensitive([TextSource("subject", "关于作战部署的说明")], cfg)
    assert check.status.value == "warn" and "“作战部署”出现在邮件主题" in check.message


def test_an_unread_picture_is_incomplete_unless_switched_off():
    texts = [TextSource("file_name", "作品.mp4")]
    failed = check_sensitive(texts, SensitiveConfig(), unread=Unread("画面文字识别程序出错"))
    assert (failed.status.value, failed.code) == ("warn", "scan_incomplete")
    assert failed.message == "全片扫描未完成。已查看：文件名，其中未发现密级标志或敏感词；其余部分未查看（画面文字识别程序出错），请人工观看确认。"
    off = check_sensitive(texts, SensitiveConfig(), unread=Unread("已关闭全片扫描", off=True))
    assert (off.status.value, off.code) == ("pass", "not_scanned")


# -- the desk: each finding as a still of its frame, with the text read; a click seeks the player there -----------

@pytest.fixture(scope="module")
def flagged_desk(videos, tmp_path_factory):
    root = tmp_path_factory.mktemp("findings")
    (root / "config.yaml").write_text(OPEN_CONTEST, encoding="utf-8")
    add_config(root, SCAN_ON)
    services = open_services(load_config(root / "config.yaml"))
    work = record(services, videos["short_pages"], "柳南区", "张三", "13800000001", "保密宣传")
    add_account(services.db, "judge", "reviewer", PASSWORD)
    services.db.engine.dispose()
    with running_desk(root) as (port, _):
        yield f"http://127.0.0.1:{port}", work


def test_the_desk_shows_each_finding_as_a_still_and_seeks_the_player_there(flagged_desk, browser):
    base, work = flagged_desk
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        log_in_page(page, base, "judge")
        page.goto(f"{base}/list")
        page.wait_for_selector("body[data-ready='1']")
        assert "涉密提醒" in page.locator(f"#submissions tr[data-id='{work}']").inner_text()
        page.goto(f"{base}/entries/{work}")
        page.wait_for_selector("body[data-ready='1']")
        findings = page.locator(".findings .finding")
        assert findings.count() == len(SHORT_PAGES)
        labels = [compact(findings.nth(i).locator(".read").inner_text()) for i in range(len(SHORT_PAGES))]
        for page_shown, label in zip(sorted(SHORT_PAGES, key=lambda p: p.start), labels):
            second = int(re.search(r"约第(\d+)秒", label).group(1))
            assert compact(page_shown.mark) in label and page_shown.start <= second <= page_shown.start + 1.5, label
        # Every still is made and shown (not a broken image), with the place the text was read outlined.
        wait_until(lambda: page.evaluate("""() => Array.from(document.querySelectorAll('.findings img'))
                                              .every(img => img.complete && img.naturalWidth > 0)"""),
                   60, "the finding stills to load")
        boxes = page.evaluate("""() => Array.from(document.querySelectorAll('.findings .still')).map(still => {
            const s = still.getBoundingClientRect(), b = still.querySelector('.box').getBoundingClientRect();
            return [(b.left - s.left) / s.width, (b.top - s.top) / s.height]; })""")
        for shown, (left, top) in zip(sorted(SHORT_PAGES, key=lambda p: p.start), boxes):
            assert abs(left * 960 - (shown.x + 12)) < 40 and abs(top * 540 - (shown.y + 12)) < 40, (shown, left, top)
        findings.nth(1).click()
        at = float(findings.nth(1).get_attribute("data-at"))
        assert SHORT_PAGES[1].start <= at <= SHORT_PAGES[1].start + 1.5
        wait_until(lambda: abs(page.evaluate("document.querySelector('video.player').currentTime") - at) < 0.5,
                   10, "the player to seek to the second finding")
        assert page.locator("#decide-form").inner_text().count("检查不合格或有涉密提醒也入围") == 1
    finally:
        context.close()


def test_a_picture_too_large_to_decode_safely_is_not_decoded(workdir, scanning, ffmpeg_bin):
    huge = workdir / "huge.mp4"
    media.ffmpeg("-f", "lavfi", "-i", "color=c=white:size=4200x4200:rate=1:duration=2", "-c:v", "libx264",
                 "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(huge))
    check = sensitive(json.loads(run("validate", "--json", huge).stdout)[0])
    assert (check["code"], check["details"]["frames"]) == ("scan_incomplete", 0)
    assert "无法解码画面" in check["message"]


def test_a_scan_keeps_a_bounded_number_of_lines_and_says_so(monkeypatch):
    """Text on every frame of a long video: the answer stays small, and what was not kept is said."""
    from validators import ocr
    from validators.frame_scan import _scan_of

    class Reader:
        def read(self, frame, scale, known):
            n = int(frame[1, 1, 0]) // 20
            return [ocr_line(f"第{n}帧第{i}行", i) for i in range(5)], [], 5

    def ocr_line(text, row):
        from validators.ocr_models import Line
        return Line(text, 0.9, row * 20.0, 0.0, row * 20.0 + 10, 100.0)

    import numpy as np

    def frames():
        for n in range(10):
            frame = np.full((90, 160, 3), n * 20, np.uint8)
            frame[:, ::4] = 255   # sharp edges: a picture that may hold text
            yield float(n), frame

    monkeypatch.setattr(ocr, "MAX_LINES", 12)
    answer = ocr.scan(frames(), Reader(), opening=None, deadline=float("inf"))
    assert len(answer["lines"]) == 12 and answer["lines_dropped"] == 38
    scan = _scan_of({**answer, "errors": [], "returncode": 0, "killed": False}, True, 1.0, 10.0, 1.0)
    assert not scan.complete and scan.problem == "画面文字过多，有 38 行没有保留查找"


def test_an_attached_file_is_scanned(videos, clips, scanning):
    assert run("ingest", clips["valid"], "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000").returncode == 0
    out = run("attach", "1", videos["full_hd"])
    assert out.returncode == 0, out.stderr
    [sub] = listing()
    scans = {c["file"]: c for c in sub["checks"] if c["id"] == "sensitive_content" and c.get("file") is not None}
    assert scans[0]["code"] == "ok" and scans[0]["details"]["scanned_seconds"] == 10.0
    assert (scans[1]["code"], found_at(scans[1])) == ("flagged", {"机密★10年": pytest.approx(2.0, abs=1.0)})
    assert sub["secrecy"]["flagged"] and sub["outcome"] == "needs_review"
