"""Blind review means blind (issue 23, items 6–10): what a judge under ``contest.scoring.blind`` can fetch names
no sender. Videos come without their container's tags, GPS position and chapters (read back with ffprobe and
MediaInfo), the original as sent is refused, 超大附件 link names and addresses are hidden, no check ties a work
to another by its sender, one extension rule everywhere, and a title is shown only when it was given as one.
Real ffmpeg-made files, the pipeline, and the real server."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest
from pymediainfo import MediaInfo

from intake.review.blind import TITLE_FROM_FILE
from intake.config import load_config
from intake.pipeline.contact_info import normalise_phone
from intake.desk.app import create_app
from intake.pipeline.task import LargeAttachmentLink
from intake.inbox.metadata import from_file_name
from intake.pipeline.stages import process
from intake.pipeline.services import open_services
from intake.pipeline.task import MediaTask, Source, SubmissionTask, TitleSource
from tests import media
from tests.configs import add_config
from intake.mail.poller import MAIL_ARRIVAL
from tests.conftest import require_tool
from tests.desks import log_in_page, logged_in, make_desk, running_desk

TAGS = {"title": "柳南区委保密办 张三 13800138000", "artist": "张三", "comment": "柳南区 联系电话 13800138000",
        "location": "+24.3264+109.4281/"}
CHAPTERS = ["柳南区 张三", "第二章 柳南区委"]
PLACE = "柳南区张三家"
LINK_NAME = "县保密局_韦小宝_13977200099_终版.mp4"
LINK_URL = "https://mail.163.com/large-attachment-download/index.html?file=KEY4242"
DOTTED = "守护秘密 2024.4.3 韦小宝"     # a QuickTime file sent without an extension: its last dot-part is no extension
# Nothing a blind judge fetches may hold any of these.
SECRETS = ("张三", "13800138000", "柳南", "24.3264", "109.4281", "韦小宝", "13977200099", "县保密局", "终版",
           "mail.163.com", "KEY4242", "large-attachment", ".3 韦", "蒙一", "sanjiang", "柳北", "柳江", "李四", "张伟")


def work(services, files: list[Path], title: str | None = None, title_source: str | None = None, **fields) -> int:
    task = SubmissionTask(source=fields.pop("source", Source.CLI), received_at=datetime.now(timezone.utc),
                          title=title, title_source=title_source, **fields,
                          files=[MediaTask(source_path=p, original_name=p.name) for p in files])
    if task.phone:
        task.phone = normalise_phone(task.phone)
    process(task, services, MAIL_ARRIVAL)
    return task.submission_id


@pytest.fixture(scope="module")
def desk(clips, tmp_path_factory):
    """(root, port, ids, services) of a desk under blind review with works whose files and mails name their sender."""
    root = tmp_path_factory.mktemp("blind")
    ids = make_desk(root, clips)
    add_config(root, "contest:\n  scoring:\n    blind: true\n")
    made = root / "made"
    made.mkdir()
    services = open_services(load_config(root / "config.yaml"))
    # a given title that happens to be the file's name; the file's tags, GPS and chapters name the sender
    tagged = media.tagged(made / "守护秘密.mp4", TAGS, CHAPTERS, place=PLACE)
    ids["tagged"] = work(services, [tagged], "守护秘密", TitleSource.GIVEN, unit="柳南区", contact="张三",
                         phone="13800138000")   # 柳南区's second work: over the quota
    dotted = media.tagged(made / DOTTED, TAGS, CHAPTERS, fmt="mov", place=PLACE)   # remuxed to MP4
    ids["dotted"] = work(services, [dotted], unit="鹿寨县", contact="蒙一", phone="13800000044")
    ids["link"] = work(services, [], source=Source.MAIL, unit="三江县", contact="杨七", phone="13800000077",
                       sender="sanjiang@163.com", subject="三江县报送作品",
                       attachment_links=[LargeAttachmentLink(LINK_URL, LINK_NAME, "80.96M", None, 84_894_351)])
    ids["duplicate"] = work(services, [root / "files" / "柳南.mp4"], unit="融安县", contact="覃八", phone="13800000088")
    for key, name in (("parsed1", "柳北区-张伟-0772-2612345-网络安全"), ("parsed2", "柳江区-李四-13800000099-网络安全")):
        path = made / f"{name}.mp4"
        path.write_bytes(media.clip(made / f"{key}.mp4", 2, title=key).read_bytes())
        meta = from_file_name(name)
        ids[key] = work(services, [path], meta.title, meta.title_source, unit=meta.unit, contact=meta.contact,
                        phone=meta.phone)
    services.db.engine.dispose()
    with running_desk(root) as (port, services):
        yield root, port, ids, services


def file_id(services, submission_id: int) -> int:
    return services.db.submissions.get(submission_id).files[0].id


def read_back(data: bytes, folder: Path) -> str:
    """Everything ffprobe and MediaInfo read from a file's container and streams, and its raw bytes, as text."""
    require_tool("ffprobe")
    path = folder / "fetched.mp4"
    path.write_bytes(data)
    probed = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                             "-show_chapters", "-show_programs", str(path)], capture_output=True, text=True, check=True)
    info = json.dumps(MediaInfo.parse(path).to_data(), ensure_ascii=False)
    return probed.stdout + info + data.decode("utf-8", "replace") + data.decode("latin-1")


# -- 6. the files ----------------------------------------------------------------------------------------------------
def test_a_blind_judge_gets_videos_without_their_tags_gps_or_chapters(desk, tmp_path):
    root, port, ids, services = desk
    judge, admin = logged_in(port, "judge"), logged_in(port, "admin")
    tagged, dotted = file_id(services, ids["tagged"]), file_id(services, ids["dotted"])
    # what was sent holds them, and admins still get the file as it was stored
    sent = read_back(admin.get(f"/files/{tagged}").body, tmp_path)
    assert "张三" in sent and "24.3264" in sent and PLACE in sent and "loci" in sent and "柳南区 张三" in sent
    assert "柳南区 张三" in read_back(admin.get(f"/files/{dotted}/original").body, tmp_path)
    # the remux keeps only what playback needs, for everyone
    remuxed = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_chapters", "-"],
                                        input=admin.get(f"/files/{dotted}").body, capture_output=True).stdout)
    assert remuxed["chapters"] == []
    for fid in (tagged, dotted):
        played = judge.get(f"/files/{fid}")
        assert (played.status, played.headers["content-type"]) == (200, "video/mp4")
        text = read_back(played.body, tmp_path)
        assert [s for s in SECRETS + (PLACE, "loci", "\u00a9xyz") if s in text] == []
        chapters = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_chapters",
                                              "-show_streams", str(tmp_path / "fetched.mp4")],
                                             capture_output=True, text=True).stdout)
        assert chapters["chapters"] == [] and [s["codec_type"] for s in chapters["streams"]] == ["video", "audio"]
        downloaded = judge.get(f"/files/{fid}/download")
        assert downloaded.body == played.body
        submission = next(k for k in ("tagged", "dotted") if file_id(services, ids[k]) == fid)
        assert unquote(downloaded.headers["content-disposition"]).endswith(f"作品{ids[submission]}-1.mp4")
        part = judge.get(f"/files/{fid}", Range="bytes=100-199")
        assert part.status == 206 and part.body == played.body[100:200]
        refused = judge.get(f"/files/{fid}/original")
        assert (refused.status, refused.json()) == (403, {"error": "匿名评审时不提供报送时的原文件。"})
    page = judge.get(f"/entries/{ids['dotted']}").text
    assert "下载原文件" not in page and "/original" not in page
    assert "下载原文件" in admin.get(f"/entries/{ids['dotted']}").text


# -- 7–10. what the pages and the API say ------------------------------------------------------------------------
def test_a_blind_judge_reads_nothing_that_names_or_links_the_sender(desk):
    root, port, ids, services = desk
    judge = logged_in(port, "judge")
    file_ids = [f.id for sid in ids.values() for f in services.db.submissions.get(sid).files]
    answers = {}
    for route in create_app(services.config, services).routes:
        if route.path.startswith(("/login", "/static")) or "GET" not in getattr(route, "methods", {"GET"}):
            continue
        if "{submission_id" in route.path:
            paths = [re.sub(r"\{[^}]+\}", str(sid), route.path) for sid in ids.values()]
        elif "{file_id" in route.path:
            paths = [re.sub(r"\{[^}]+\}", str(fid), route.path) for fid in file_ids]
        else:
            paths = [route.path, route.path + "?after=0"]
        for path in paths:
            reply = judge.get(path)
            assert reply.status in (200, 403, 404), (path, reply.status)
            answers[path] = unquote(str(reply.headers)) + reply.body.decode("utf-8", "replace")
    for path, text in answers.items():
        found = [s for s in SECRETS if s.casefold() in text.casefold()]
        assert found == [], (path, found)
    views = {v["id"]: v for v in judge.get("/api/submissions").json()}
    # 7: a download link's file name is a file name: not the title, and neither it nor the link is shown
    assert views[ids["link"]]["title"] == TITLE_FROM_FILE and views[ids["link"]]["links"] == []
    [link] = [c for c in views[ids["link"]]["checks"] if c["id"] == "large_attachment_link"]
    assert link["message"] == "作品以“超大附件”下载链接发送，视频尚待下载（匿名评审：链接和文件名已隐去）。"
    # 8: no work's number, nor anything of its sender, ties works together
    [quota] = [c for c in views[ids["tagged"]]["checks"] if c["id"] == "quota"]
    assert quota["message"] == "该单位报送的作品超过名额，请管理员确认以哪一件为准（匿名评审：不显示单位和其他作品）。"
    [duplicate] = [c for c in views[ids["duplicate"]]["checks"] if c["id"] == "duplicate"]
    assert duplicate["message"] == "与另一件已登记的作品内容相同或相近，请管理员确认（匿名评审：不显示是哪一件）。"
    for view in views.values():
        for check in view["checks"]:
            assert not re.search(r"#\d|第\s*\d+\s*号", check["message"] + check["advice"]), check
        assert all(f["sha256"] is None for f in view["files"])
    # 9: the last dot-part of a name without an extension is neither quoted nor kept
    dotted = views[ids["dotted"]]
    assert dotted["files"][0]["original_name"] == "文件1" and dotted["title"] == TITLE_FROM_FILE
    # 10: a given title is shown though it equals the file's name; titles taken from file names never are
    assert views[ids["tagged"]]["title"] == "守护秘密"
    assert views[ids["parsed1"]]["title"] == views[ids["parsed2"]]["title"] == TITLE_FROM_FILE


def test_admins_see_all_of_it_and_one_extension_rule_holds_for_them_too(desk):
    root, port, ids, services = desk
    admin = logged_in(port, "admin")
    views = {v["id"]: v for v in admin.get("/api/submissions").json()}
    assert views[ids["link"]]["links"][0]["name"] == LINK_NAME and views[ids["link"]]["links"][0]["url"] == LINK_URL
    assert views[ids["link"]]["title"] == "县保密局_韦小宝_13977200099_终版"
    assert (views[ids["link"]]["title_source"], views[ids["tagged"]]["title_source"]) == ("file_name", "given")
    assert views[ids["parsed1"]]["title"] == "网络安全"
    dotted = views[ids["dotted"]]
    assert dotted["title"] == DOTTED   # the whole name: ".3 韦小宝" is no extension to cut off
    [container] = [c for c in dotted["checks"] if c["id"] == "container"]
    assert container["message"] == "原文件是 QuickTime（.mov）格式，已无损转换为 MP4（未重新编码，画质不变），请评审人员确认。"
    fid = file_id(services, ids["dotted"])
    assert unquote(admin.get(f"/files/{fid}/download").headers["content-disposition"]).endswith(f"{DOTTED}.mp4")
    assert unquote(admin.get(f"/files/{fid}/original").headers["content-disposition"]).endswith(DOTTED)


def test_a_blind_judge_plays_the_copy_in_chromium(desk, browser):
    """What the judge's player gets is the copy without tags: it plays, seeks, and the page offers no original."""
    root, port, ids, services = desk
    base = f"http://127.0.0.1:{port}"
    context = browser.new_context()
    try:
        page = context.new_page()
        errors, fetched = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: fetched.append((r.url, r.status)))
        log_in_page(page, base, "judge")
        page.goto(f"{base}/entries/{ids['dotted']}")
        video = page.locator("video.player").first
        video.evaluate("v => new Promise(ok => v.readyState >= 1 ? ok() : v.addEventListener('loadedmetadata', ok))")
        assert video.evaluate("v => v.duration") == pytest.approx(2, abs=0.3)
        video.evaluate("v => { v.muted = true; v.currentTime = 1; return v.play(); }")
        assert page.locator("a.original").count() == 0
        played = [status for url, status in fetched if url.endswith(f"/files/{file_id(services, ids['dotted'])}")]
        assert played and set(played) <= {200, 206}
        assert errors == []
    finally:
        context.close()
