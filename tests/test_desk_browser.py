"""The screening desk end to end in a real headless Chromium: log in, the list and its keyboard, play a video
and seek, decide, edit, the latest arrivals without a reload, and outside text that never runs."""

from __future__ import annotations

import pytest

from intake.pipeline.task import Source
from tests.conftest import REPO
from tests import media
from tests.desks import XSS_TITLE, XSS_UNIT, distinct, log_in_page, make_desk, record, running_desk
from tests.waiting import wait_until

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def desk(clips, tmp_path_factory):
    root = tmp_path_factory.mktemp("desk")
    ids = make_desk(root, clips, "desk:\n  refresh_seconds: 0.3\n")
    with running_desk(root) as (port, services):
        yield root, f"http://127.0.0.1:{port}", ids, services


@pytest.fixture
def page_of(desk, browser):
    """A logged-in page for an account; console errors (a CSP violation is one) and dialogs are collected."""
    root, base, ids, services = desk
    opened = []

    def open_as(name: str):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.errors, page.dialogs, page.requests = [], [], []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: page.requests.append(r.url))
        page.goto(base + "/")
        assert page.url == base + "/login"      # any page sends a stranger to the login form
        log_in_page(page, base, name)
        opened.append(context)
        return page

    yield open_as
    for context in opened:
        context.close()


def test_reviewer_finds_watches_and_decides(desk, page_of):
    root, base, ids, services = desk
    page = page_of("judge")
    assert page.locator("h1").inner_text() == "概览"
    page.click("nav >> text=作品列表")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#submissions tbody tr").count() == 4
    # keyboard: / to search, arrows to choose, Enter to open
    page.keyboard.press("/")
    page.keyboard.type("融水")
    wait_until(lambda: page.locator("#count-visible").inner_text() == "1", 10, "the search to filter (on the server)")
    page.keyboard.press("ArrowDown")
    assert page.locator("#submissions tr.selected").get_attribute("data-id") == str(ids["mail"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/entries/{ids['mail']}")
    assert page.locator("#sender").inner_text() == "rongshui@163.com"
    # play, seek to the middle, and the time moves on from there
    video = page.locator("video.player").first
    video.evaluate("v => new Promise(ok => v.readyState >= 1 ? ok() : v.addEventListener('loadedmetadata', ok))")
    duration = video.evaluate("v => v.duration")
    assert duration == pytest.approx(10, abs=0.5)
    video.evaluate("v => { v.muted = true; v.currentTime = v.duration / 2; return v.play(); }")
    start = video.evaluate("v => v.currentTime")
    assert start >= duration / 2 - 0.5
    wait_until(lambda: video.evaluate("v => v.currentTime") > start + 0.3, 15, "playback to advance after the seek")
    video.evaluate("v => v.pause()")
    assert any("/files/" in url for url in page.requests)
    # decide with a note
    page.check("#decide-form input[value=shortlist]")
    page.fill("#decide-form textarea[name=note]", "画面清晰，主题突出")
    page.click("#decide-form button[type=submit]")
    page.wait_for_url(f"{base}/entries/{ids['mail']}?done=decide")
    assert page.locator(".done").inner_text() == "已记录评审决定。"
    assert page.locator("#decision").inner_text() == "入围"
    assert page.locator("#history tr[data-kind=decision]").last.inner_text().split("\t")[1:] == \
        ["judge", "评审决定", "入围；备注：画面清晰，主题突出"]
    # a reviewer does not edit
    assert page.locator("#edit-form").count() == 0
    assert page.errors == [] and page.dialogs == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desk-entry.png"), full_page=True)


def test_clerk_edits_and_may_not_decide(desk, page_of):
    root, base, ids, services = desk
    page = page_of("clerk")
    page.goto(f"{base}/entries/{ids['accepted']}")
    assert page.locator("#decide-form").count() == 0
    page.fill("#edit-form input[name=contact]", "张三丰")
    page.fill("#edit-form input[name=note]", "电话核实")
    page.click("#edit-form button[type=submit]")
    page.wait_for_url(f"{base}/entries/{ids['accepted']}?done=edit")
    assert page.locator(".done").inner_text() == "已保存修改。"
    assert page.locator("#history tr[data-kind=edited]").inner_text().split("\t")[1:] == \
        ["clerk", "修改信息", "联系人：张三 → 张三丰；备注：电话核实"]
    assert services.db.submissions.get(ids["accepted"]).contact == "张三丰"
    page.click("#recheck-form button[type=submit]")
    page.wait_for_url(f"{base}/entries/{ids['accepted']}?done=recheck")
    assert page.locator("#history tr[data-kind=rechecked]").inner_text().split("\t")[1] == "clerk"
    assert page.errors == []


def test_latest_arrivals_appear_without_a_reload(desk, page_of, clips, tmp_path):
    root, base, ids, services = desk
    page = page_of("admin")
    page.wait_for_selector("body[data-ready='1']")
    total = int(page.locator("[data-count=total]").inner_text())
    page.evaluate("window.notReloaded = true")
    new_id = record(services, distinct(clips, tmp_path, "柳江新作.mp4", "d9"), "柳江区", "黄六", "13800000009",
                    "新到的作品", source=Source.FOLDER)
    row = page.locator("#latest tbody tr").first
    wait_until(lambda: row.inner_text().startswith(f"#{new_id}"), 15, "the new work on the overview")
    assert row.inner_text().split("\t")[2:4] == ["柳江区", "新到的作品"]
    assert page.locator("[data-count=total]").inner_text() == str(total + 1)
    assert page.evaluate("window.notReloaded") is True


def test_outside_text_never_runs(desk, page_of):
    root, base, ids, services = desk
    page = page_of("admin")
    for path in ("/", "/list", f"/entries/{ids['xss']}"):
        page.goto(base + path)
        page.wait_for_selector("body[data-ready='1']")
    assert XSS_UNIT in page.locator("#fields").inner_text()
    assert XSS_TITLE in page.locator("#title").inner_text()
    assert page.evaluate("window.pwned") is None
    assert page.dialogs == [] and page.errors == []
    assert all(url.startswith(base) for url in page.requests), page.requests


def test_a_judge_scores_and_sees_the_progress_move(desk, page_of):
    root, base, ids, services = desk
    page = page_of("judge")
    scored, scorable = page.locator("#progress tr[data-judge=judge] .progress").inner_text().split(" / ")
    page.goto(f"{base}/entries/{ids['accepted']}")
    for name, value in (("思想性", "9"), ("艺术性", "7.5"), ("技术性", "8")):
        page.fill(f"#score-form input[name='score:{name}']", value)
    page.fill("#score-form textarea[name=comment]", "节奏紧凑")
    page.click("#score-form button[type=submit]")
    page.wait_for_url(f"{base}/entries/{ids['accepted']}?done=score")
    assert page.locator(".done").inner_text() == "已保存评分。"
    assert page.locator("#own-total").inner_text().startswith("我的总分：8.25（已保存）")
    page.click("nav >> text=概览")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#progress tr[data-judge=judge] .progress").inner_text() == f"{int(scored) + 1} / {scorable}"
    page.click("nav >> text=作品列表")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#sort-rank").count() == 0   # scoring is open: the judge's own totals, no ranking
    page.click("#sort-score")
    page.wait_for_selector("#list-region[data-sort='score']")
    page.click("#sort-score")   # the other way round: the highest own total first
    page.wait_for_selector("#list-region[data-sort='score'][data-dir='desc']")
    first = page.locator("#submissions tbody tr").first
    assert first.get_attribute("data-id") == str(ids["accepted"]) and first.locator(".score").inner_text() == "8.25"
    assert page.errors == []


def test_judges_see_aggregates_only_after_the_admin_closes_scoring(desk, page_of):
    """A judge's list holds the judge's own totals and no rank while scoring is open; the admin's 结束评分 on the
    overview opens the work's score and rank to judges, and 重新开放评分 closes them again."""
    root, base, ids, services = desk
    judge = page_of("judge")
    judge.goto(f"{base}/entries/{ids['mail']}")
    for name in ("思想性", "艺术性", "技术性"):
        judge.fill(f"#score-form input[name='score:{name}']", "6")
    judge.click("#score-form button[type=submit]")
    judge.wait_for_url(f"{base}/entries/{ids['mail']}?done=score")
    judge.goto(f"{base}/list")
    judge.wait_for_selector("body[data-ready='1']")
    row = judge.locator(f"#submissions tbody tr[data-id='{ids['mail']}']")
    assert judge.locator("#sort-score").inner_text().startswith("我的总分")
    assert row.locator(".score").inner_text() == "6"
    assert row.locator(".rank").count() == 0 and judge.locator("#sort-rank").count() == 0   # no ranking, no column
    admin = page_of("admin")
    assert "评分进行中" in admin.locator("#scoring-state").inner_text()
    admin.click("#scoring-form button[type=submit]")
    admin.wait_for_url(f"{base}/?done=scoring_close")
    try:
        assert admin.locator("#scoring-state").get_attribute("data-closed") == "1"
        judge.reload()
        judge.wait_for_selector("body[data-ready='1']")
        assert judge.locator("#sort-score").inner_text().startswith("得分")
        assert row.locator(".rank").inner_text() != "—"
        judge.goto(f"{base}/entries/{ids['mail']}")
        assert judge.locator("#score-form").inner_text().startswith("评分已结束，不能再修改评分。")
    finally:
        admin.click("#scoring-form button[type=submit]")
        admin.wait_for_url(f"{base}/?done=scoring_reopen")
    assert judge.errors == [] and admin.errors == []


def test_unit_coverage_follows_without_a_reload(desk, page_of, clips, tmp_path):
    """各单位报送情况 changes with the works, as 最新收到 does (issue 24, item 6): a unit that had only a rejected
    work gets an accepted one, then it is shortlisted (no new arrival: a decision alone)."""
    from intake.review.decisions import decide

    root, base, ids, services = desk
    page = page_of("admin")
    page.wait_for_selector("body[data-ready='1']")
    page.evaluate("window.notReloaded = true")
    state = page.locator("#coverage tr", has_text="鹿寨县").locator("td").nth(1)
    assert state.inner_text() == f"仅有不合格作品（#{ids['rejected']}）"
    new_id = record(services, distinct(clips, tmp_path, "鹿寨新作.mp4", "d10"), "鹿寨县", "蒙二", "13800000010",
                    "鹿寨的新作品", source=Source.FOLDER)
    wait_until(lambda: state.inner_text() == "已报送", 15, "鹿寨县 to read 已报送")
    decide(services.db, new_id, "shortlist", None, "judge")
    wait_until(lambda: state.inner_text() == "已入围 1 件", 15, "鹿寨县 to read 已入围 1 件")
    assert page.locator("[data-count=decision-shortlist]").inner_text() != "0"
    assert page.evaluate("window.notReloaded") is True and page.errors == []


# A value (id, phone, date, size, duration, score, rank; a check's name; a masked name) shows on one line: the
# number of lines its first text takes, for every one that does not.
WRAPPED = """selector => Array.from(document.querySelectorAll(selector)).map(el => {
    const node = el.firstChild && el.firstChild.nodeType === Node.TEXT_NODE ? el.firstChild : el;
    const range = document.createRange(); range.selectNodeContents(node);
    const lines = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0)
        .map(r => Math.round(r.top))).size;
    return [el.textContent.trim(), lines]; }).filter(([text, lines]) => text && lines > 1)"""
LIST_VALUES = "#submissions td.value, #submissions .phone, #submissions td.score, #submissions td.rank"
ENTRY_VALUES = "#checks td.check, #files td.value, #fields td.value, #history td:first-child"


@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_values_do_not_wrap_and_the_forms_follow_the_files(desk, browser, width, height):
    """Issue 24, item 12: no phone, date, size or score breaks in the middle, the check names keep to a line, and
    the forms follow the files table with no gap as tall as the checks beside them."""
    root, base, ids, services = desk
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        log_in_page(page, base, "admin")
        page.goto(base + "/list")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#submissions .phone").count() >= 4
        assert page.evaluate(f"({WRAPPED})('{LIST_VALUES}')") == []
        # a unit's name keeps to a line (the made-up one of the script test is too long for any column)
        assert [u for u, _ in page.evaluate(f"({WRAPPED})('#submissions td.unit')") if len(u) <= 8] == []
        for name in ("accepted", "xss"):
            page.goto(f"{base}/entries/{ids[name]}")
            page.wait_for_selector("body[data-ready='1']")
            assert page.evaluate(f"({WRAPPED})('{ENTRY_VALUES}')") == [], name
            gap = page.evaluate("""() => document.querySelector('.entry > .actions').getBoundingClientRect().top
                                         - document.querySelector('#files').getBoundingClientRect().bottom""")
            assert 0 <= gap <= 40, (name, gap)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"desk-entry-{name}-{width}.png"), full_page=True)
    finally:
        context.close()


def test_a_video_without_pictures_shows_no_broken_image_and_asks_once(desk, browser, clips, tmp_path):
    """Issue 24, item 12: the strip and the poster are asked for once per video (/api/pictures) and shown once
    made; for a file ffmpeg cannot decode the page says so, with no broken image and no request that fails."""
    root, base, ids, services = desk
    broken = media.undecodable(clips["valid"], tmp_path / "坏.mp4")   # no frame decodes: no picture
    sid = record(services, broken, "柳城县", "韦一", "13800000021")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        errors, failed, asked = [], [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
        page.on("request", lambda r: asked.append(r.url))
        log_in_page(page, base, "clerk")
        for submission in (sid, ids["accepted"]):
            page.goto(f"{base}/entries/{submission}")
            page.wait_for_selector("body[data-ready='1']")
            strip = page.locator(".strip")
            wait_until(lambda: strip.get_attribute("data-state") != "making", 30, "the strip's pictures")
            if submission == sid:
                assert strip.get_attribute("data-state") == "none"
                assert strip.locator(".picture-state").inner_text() == "无法从这个视频生成画面。"
                assert strip.locator("img[src]").count() == 0
                assert page.locator("video.player").get_attribute("poster") is None
            else:
                frames = strip.locator("img")
                wait_until(lambda: frames.evaluate_all("imgs => imgs.every(i => i.complete && i.naturalWidth > 0)"),
                           20, "the strip's frames to load")
                wait_until(lambda: page.locator("video.player").get_attribute("poster"), 20, "the poster")
        assert failed == [] and errors == []
        thumbs = [url for url in asked if "/thumbs/" in url]
        assert not any(f"/thumbs/{services.db.submissions.get(sid).files[0].id}" in url for url in thumbs), thumbs
    finally:
        context.close()
