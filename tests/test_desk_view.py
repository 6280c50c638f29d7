"""What the desk's entry and list pages show: a real mail's sender, subject and body (escaped, its lines kept),
the strip of thumbnails (made once by ffmpeg, served by file id; a click seeks the player), and the list one
page at a time with its filter, sort and search kept across pages, by mouse and by keyboard."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from intake.config import load_config
from intake.desk.accounts import add_account
from intake.desk.thumbs import frame_times, make_strip
from intake.mail.poller import MailPoller
from intake.pipeline.services import open_services
from storage.records import SubmissionRecord
from tests import mails
from tests.desks import PASSWORD, Client, desk_in_process, log_in_page, logged_in, running_desk
from tests.dovecot import PASSWORD as IMAP_PASSWORD, running_dovecot
from tests.mailboxes import append, write_mail_config
from tests.waiting import wait_until

BODY = "各位老师好：\n\n　　这是柳南区的参赛作品，请查收。\n联系人：张三\n电话：13800000001\n<script>window.pwned=9</script>\n"
EXTRA = 118   # with the mail, 119 works: three pages of 50


@pytest.fixture(scope="module")
def made(clips, tmp_path_factory):
    root = tmp_path_factory.mktemp("deskview")
    with running_dovecot() as dovecot, pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTAKE_IMAP_PASSWORD", IMAP_PASSWORD)
        write_mail_config(root, dovecot.port)
        video = mails.variant(clips["valid"].read_bytes(), "view")
        append(dovecot, mails.modern("柳南区参赛作品", BODY, [("守护秘密.mp4", video, "video/mp4")]))
        services = open_services(load_config(root / "config.yaml"))
        MailPoller(services).poll_once()
        start = datetime(2024, 4, 1, tzinfo=timezone.utc)
        for i in range(EXTRA):
            services.db.submissions.add(SubmissionRecord(
                source="folder", received_at=start + timedelta(minutes=i), outcome="accepted",
                unit="柳北区" if i % 2 else ("鹿寨县" if i % 4 else "融安县"), title=f"作品{i:03d}", contact=f"联系人{i}"))
        add_account(services.db, "judge", "reviewer", PASSWORD)
        services.db.engine.dispose()
    return root


@pytest.fixture(scope="module")
def desk(made):
    """(root, app, services): the desk in process."""
    with desk_in_process(made) as (app, services):
        yield made, app, services


@pytest.fixture(scope="module")
def served(made):
    """(root, port, services): the same desk on a real server, for Chromium."""
    with running_desk(made) as (port, services):
        yield made, port, services


def mail_entry(services):
    sub = next(s for s in services.db.submissions.all() if s.source == "mail")
    return sub.id, sub.files[0]


def ids_in(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-id="(\d+)"', html)]


def test_a_mail_shows_sender_subject_and_its_body_escaped(desk):
    root, app, services = desk
    submission_id, _ = mail_entry(services)
    judge = logged_in(app, "judge")
    page = judge.get(f"/entries/{submission_id}").text
    assert '<td id="sender">unit@example.cn</td>' in page and '<td id="subject">柳南区参赛作品</td>' in page
    shown = re.search(r'<div id="mail-body" class="mail-body">(.*?)</div>', page, re.S).group(1)
    # every line as sent, in order; the markup is text
    assert shown.strip() == ("各位老师好：\n\n　　这是柳南区的参赛作品，请查收。\n联系人：张三\n电话：13800000001\n"
                             "&lt;script&gt;window.pwned=9&lt;/script&gt;")
    assert "<script>window" not in page
    view = next(v for v in judge.get("/api/submissions").json() if v["id"] == submission_id)
    assert view["body_text"].strip().endswith("<script>window.pwned=9</script>")
    assert view["sender"] == "unit@example.cn"


def test_the_strip_is_made_once_and_served_by_file_id(desk):
    root, app, services = desk
    submission_id, media = mail_entry(services)
    judge = logged_in(app, "judge")
    page = judge.get(f"/entries/{submission_id}").text
    # the page shows the frames once they are made (issue 24, item 12): they wait in data-src meanwhile
    assert re.findall(r'<img data-src="(/thumbs/\d+/\d)"', page) == [f"/thumbs/{media.id}/{i}" for i in range(8)]
    assert f'data-pictures="strip" data-file="{media.id}" data-state="making"' in page
    # evenly spaced over the video: the middles of eight spans
    times = [float(t) for t in re.findall(r'data-at="([\d.]+)"', page)]
    assert times == pytest.approx([media.duration_seconds * (i + 0.5) / 8 for i in range(8)], abs=0.01)
    first = judge.get(f"/thumbs/{media.id}/0")
    assert (first.status, first.headers["content-type"], first.body[:2]) == (200, "image/jpeg", b"\xff\xd8")
    cached = sorted(p.name for p in (root / "data" / "thumbs" / "strips" / media.sha256[:2]).iterdir())
    assert cached == [f"{media.sha256}-{i}.jpg" for i in range(8)]
    stamp = (root / "data" / "thumbs" / "strips" / media.sha256[:2] / cached[7]).stat().st_mtime_ns
    assert judge.get(f"/thumbs/{media.id}/7").status == 200
    assert (root / "data" / "thumbs" / "strips" / media.sha256[:2] / cached[7]).stat().st_mtime_ns == stamp
    assert judge.get(f"/thumbs/{media.id}/8").status == 404
    assert judge.get("/thumbs/999999/0").json() == {"error": "找不到这个文件（未保存，或已不在文件库中）。"}
    assert judge.get("/thumbs/..%2F..%2Fetc%2Fpasswd/0").status == 404
    assert Client(app).get(f"/thumbs/{media.id}/0").status == 401


def test_a_strip_being_made_for_long_answers_busy_and_the_page_asks_again(desk, monkeypatch):
    """The strip is made by a job, never in the request: a request waits WAIT_SECONDS at most (holding no
    thread), then answers 503; /api/pictures says ``making`` until it is done, then ``ready``."""
    import threading

    from intake.desk import thumbs

    monkeypatch.setattr(thumbs, "WAIT_SECONDS", 0.2)
    release, started = threading.Event(), threading.Event()
    real = thumbs.make_frames

    def held(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(thumbs, "make_frames", held)
    root, app, services = desk
    submission_id, media = mail_entry(services)
    judge = logged_in(app, "judge")
    for made in (root / "data" / "thumbs" / "strips").rglob(f"{media.sha256}-*.jpg"):
        made.unlink()   # as if nobody had opened this entry yet
    try:
        busy = judge.get(f"/thumbs/{media.id}/3")
        assert (busy.status, busy.headers["retry-after"], busy.text) == (503, "2", "缩略图正在生成，请稍后再看。")
        assert started.wait(10)
        state = judge.get(f"/api/pictures/{media.id}").json()
        assert (state["strip"], state["findings"]) == ("making", "none")
    finally:
        release.set()
    wait_until(lambda: judge.get(f"/api/pictures/{media.id}").json()["strip"] == "ready", 30, "the strip")
    ready = judge.get(f"/thumbs/{media.id}/3")
    assert (ready.status, ready.body[:2]) == (200, b"\xff\xd8")


def test_the_list_comes_a_page_at_a_time_keeping_filter_sort_and_search(desk):
    root, app, services = desk
    judge = logged_in(app, "judge")
    first = judge.get("/list").text
    assert ids_in(first) == list(range(1, 101)) and '第 <span class="page-number">1</span> / 2 页' in first and "第 1–100 件" in first
    assert len(first.encode()) < 150_000
    assert ids_in(judge.get("/list?size=50&page=3").text) == list(range(101, 120))
    # filter, sort and search stay in the pager's and the headers' links
    page = judge.get("/list?unit=%E6%9F%B3%E5%8C%97%E5%8C%BA&sort=title&dir=desc&size=50").text
    shown = ids_in(page)
    assert len(shown) == 50 and "共 <span class=\"count-visible\" id=\"count-visible\">59</span> 件（全部 119 件）" in page
    titles = [f"作品{i:03d}" for i in range(EXTRA) if i % 2][::-1]
    assert [services.db.submissions.get(i).title for i in shown] == titles[:50]
    nxt = re.search(r'<a class="nav next" rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert nxt == "/list?unit=%E6%9F%B3%E5%8C%97%E5%8C%BA&sort=title&dir=desc&page=2&size=50"
    assert [services.db.submissions.get(i).title for i in ids_in(judge.get(nxt).text)] == titles[50:]
    search = judge.get("/list?q=%E4%BD%9C%E5%93%8101&sort=id&dir=desc").text   # 作品01x
    assert [services.db.submissions.get(i).title for i in ids_in(search)] == [f"作品{i:03d}" for i in range(19, 9, -1)]
    assert 'href="/list?q=%E4%BD%9C%E5%93%8101&amp;sort=unit"' in search   # ascending: the default, left out
    # by pinyin, as the report's table sorts in the browser (鹿 lù before 融 róng, though U+9E7F > U+878D)
    assert re.findall(r'<option value="([^"]+)">\1</option>', first) == ["柳北区", "鹿寨县", "融安县"]
    assert services.db.submissions.get(ids_in(judge.get("/list?sort=unit&dir=desc").text)[0]).unit == "融安县"
    # only the table, for the page's script; nonsense in the query string falls back to the defaults
    part = judge.get("/list?page=2&part=rows").text
    assert part.startswith('<div id="list-region"') and "<html" not in part and ids_in(part)[0] == 101
    assert ids_in(judge.get("/list?page=999&size=7&sort=nope&outcome=<x>").text)[0] == 101


def test_thumbnails_seek_and_the_list_pages_by_keyboard(served, browser):
    root, port, services = served
    base = f"http://127.0.0.1:{port}"
    submission_id, _ = mail_entry(services)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in_page(page, base, "judge")

        page.goto(f"{base}/entries/{submission_id}")
        frames = page.locator(".strip img")
        wait_until(lambda: frames.evaluate_all("imgs => imgs.every(i => i.complete && i.naturalWidth > 0)"),
                   20, "the strip's frames to load")
        assert frames.count() == 8 and page.evaluate("window.pwned") is None
        video = page.locator("video.player").first
        video.evaluate("v => new Promise(ok => v.readyState >= 1 ? ok() : v.addEventListener('loadedmetadata', ok))")
        frame = page.locator(".strip .frame").nth(5)
        frame.click()
        assert video.evaluate("v => v.currentTime") == pytest.approx(float(frame.get_attribute("data-at")), abs=0.05)
        assert "current" in frame.get_attribute("class")

        page.goto(base + "/list?size=50")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#submissions tbody tr").count() == 50
        selected = page.locator("#submissions tr.selected")
        page.keyboard.press("j")
        assert selected.get_attribute("data-id") == "1"
        page.keyboard.press("n")   # the next page, its first row chosen
        wait_until(lambda: page.locator(".page-number").first.inner_text() == "2", 10, "page 2")
        assert selected.get_attribute("data-id") == "51" and page.url == base + "/list?page=2&size=50"
        page.keyboard.press("ArrowUp")   # before the first row: the previous page's last
        wait_until(lambda: page.locator(".page-number").first.inner_text() == "1", 10, "page 1 again")
        assert selected.get_attribute("data-id") == "50"
        page.keyboard.press("ArrowDown")   # past the last row: the next page's first
        wait_until(lambda: page.locator(".page-number").first.inner_text() == "2", 10, "page 2 again")
        assert selected.get_attribute("data-id") == "51"
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/entries/51")
        assert errors == []
    finally:
        context.close()


def test_a_file_ffmpeg_cannot_read_gives_no_strip_and_leaves_nothing(clips, tmp_path):
    assert frame_times(None) == [] and frame_times(0) == []
    assert make_strip(tmp_path, clips["text"], "0" * 64, 5.0) is False
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
