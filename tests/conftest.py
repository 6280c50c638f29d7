"""Shared fixtures. Tools a test needs are required in CI: there a missing tool fails, never skips."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.configs import add_config
from tests import media

REQUIRE_TOOLS = bool(os.environ.get("CI") or os.environ.get("INTAKE_REQUIRE_TOOLS"))
REPO = Path(__file__).resolve().parents[1]
# The contest's real deadline (2024) has passed: tests that are not about it run before a later one.
# OCR of burnt-in captions is slow and has its own tests; elsewhere it stays off.
OPEN_CONTEST = "contest:\n  deadline: 2099-12-31 23:59:59\nrules:\n  opening:\n    ocr: false\n  sensitive:\n    scan: false\n"
# The same, with the lossless repair of near-miss containers switched off (a .mov stays a rejected .mov).
NO_REMUX = OPEN_CONTEST.replace("rules:\n", "rules:\n  repair:\n    remux: false\n", 1)


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    if REQUIRE_TOOLS:
        pytest.fail(f"{name} is required in CI but is not on PATH")
    pytest.skip(f"{name} is not installed (apt-get install {name}); this test makes real media with it")


@pytest.fixture(scope="session")
def ffmpeg_bin() -> str:
    """The ffmpeg the checks run (validators.tools.ffmpeg_exe): the wheel's static build, else PATH's."""
    from core.errors import ToolError
    from validators.tools import ffmpeg_exe

    try:
        return ffmpeg_exe()
    except ToolError:
        return require_tool("ffmpeg")


@pytest.fixture(scope="session")
def clips(tmp_path_factory, ffmpeg_bin) -> dict[str, Path]:
    """Every test medium, made once per run: parallel workers (pytest-xdist) share one set."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent   # this run's folder, shared by its workers
    folder, listing = root / "media", root / "media.json"
    with (root / "media.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # the first worker makes them; the others wait, then read the list
        if not listing.exists():
            folder.mkdir(exist_ok=True)
            made = _make_clips(folder)
            listing.write_text(json.dumps({name: path.name for name, path in made.items()}), encoding="utf-8")
        return {name: folder / file for name, file in json.loads(listing.read_text(encoding="utf-8")).items()}


def _make_clips(d: Path) -> dict[str, Path]:
    c: dict[str, Path] = {}
    c["valid"] = media.clip(d / "valid.mp4", 10, size="160x120", rate=10)
    c["s119"] = media.clip(d / "s119.mp4", 119)
    c["s121"] = media.clip(d / "s121.mp4", 121)
    c["s126"] = media.clip(d / "s126.mp4", 126)
    c["mov"] = media.clip(d / "mov.mp4", 3, fmt="mov")
    c["mkv"] = media.clip(d / "mkv.mp4", 3, fmt="matroska")
    c["avi"] = media.clip(d / "avi.mp4", 3, video="mpeg4", audio="pcm_s16le", fmt="avi")
    c["webm"] = media.clip(d / "webm.mp4", 2, video="libvpx", audio="libopus", fmt="webm",
                           extra=("-deadline", "realtime"))
    plain = media.clip(d / "plain.mp4", 6, size="160x120", rate=10)
    c["truncated"] = media.truncate_copy(plain, d / "truncated.mp4", 0.6)
    faststart = media.clip(d / "faststart.mp4", 6, size="160x120", rate=10, extra=("-movflags", "+faststart"))
    c["cut_media"] = media.truncate_copy(faststart, d / "cut_media.mp4", 0.7)
    c["corrupt_middle"] = media.corrupt_middle(
        media.clip(d / "long_for_corrupt.mp4", 12, size="320x240", rate=25), d / "corrupt_middle.mp4")
    c["empty"] = d / "empty.mp4"
    c["empty"].write_bytes(b"")
    c["text"] = d / "text.mp4"
    c["text"].write_text("这不是视频，只是一段文字。\n", encoding="utf-8")
    c["jpeg"] = media.jpeg(d / "jpeg.mp4")
    c["no_audio"] = media.clip(d / "no_audio.mp4", 3, audio=None)
    c["audio_only"] = media.clip(d / "audio_only.mp4", 3, video=None)
    c["hevc"] = media.clip(d / "hevc.mp4", 3, video="libx265")
    c["mpeg4_part2"] = media.clip(d / "mpeg4_part2.mp4", 3, video="mpeg4")
    c["lying_header"] = media.claim_duration(c["s126"], d / "lying_header.mp4", 60)
    limit = 314572800
    c["under_limit"] = media.pad_with_free_box(c["valid"], d / "under_limit.mp4", limit)
    c["over_limit"] = media.pad_with_free_box(c["valid"], d / "over_limit.mp4", limit + 1)
    return c


@pytest.fixture(scope="session")
def font(ffmpeg_bin) -> str:
    """A CJK font file for drawtext; without one the test is skipped (it fails in CI)."""
    found = media.cjk_font()
    if not found:
        if REQUIRE_TOOLS:
            pytest.fail("a CJK font is required in CI (apt-get install fonts-noto-cjk)")
        pytest.skip("no CJK font for drawtext (apt-get install fonts-noto-cjk)")
    return found


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (Playwright); each test opens a context of its own."""
    require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def works(tmp_path_factory, ffmpeg_bin) -> list[Path]:
    """一.mp4 and 二.mp4: two valid 4-second works with different contents (tests/media.py ``two_works``)."""
    return media.two_works(tmp_path_factory.mktemp("works"), 4)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """An empty working folder with its own config.yaml, so nothing touches the repo's data."""
    (tmp_path / "config.yaml").write_text(OPEN_CONTEST, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INTAKE_CONFIG", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the session; each test asks it for a fresh database."""
    from tests.postgres import Postgres, bin_dir

    if bin_dir() is None:
        if REQUIRE_TOOLS:
            pytest.fail("PostgreSQL is required in CI but initdb was not found")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = Postgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, workdir) -> str:
    """Runs a test once on SQLite and once on PostgreSQL, with the workdir's config pointing at it."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
        add_config(workdir, f"database:\n  url: {url}\n")
        return url
    return "sqlite"


@pytest.fixture
def dovecot():
    """A real, throwaway Dovecot on loopback (tests/dovecot.py)."""
    from tests.dovecot import running_dovecot

    require_tool("dovecot")
    with running_dovecot() as server:
        yield server


@pytest.fixture
def mailbox(workdir, dovecot, monkeypatch):
    """The working folder with the mailbox on, pointed at the test's Dovecot, its authorization code given."""
    from tests.dovecot import PASSWORD
    from tests.mailboxes import write_mail_config

    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", PASSWORD)
    write_mail_config(workdir, dovecot.port)
    return workdir


def pytest_sessionfinish(session, exitstatus):
    """CI holds the suite to its time budget (INTAKE_SUITE_BUDGET_SECONDS): a slow suite fails like a test."""
    budget = os.environ.get("INTAKE_SUITE_BUDGET_SECONDS")
    if not budget or hasattr(session.config, "workerinput") or exitstatus != 0:
        return   # only the controller judges a whole, green run
    took = time.monotonic() - session.config._intake_started
    if took > float(budget):
        writer = session.config.get_terminal_writer()
        writer.line()
        writer.line(
            f"The suite took {took:.0f} s, over its budget of {float(budget):.0f} s.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config):
    config._intake_started = time.monotonic()


def pytest_collection_modifyitems(config, items):
    """The long modules (``pytestmark = pytest.mark.slow``) first, each in its own order, then the rest as
    collected. With ``--dist loadfile`` a worker takes whole modules in this order as it frees up: a long module
    handed out last (test_watch, test_workers come last by name) kept one worker busy while the others stood idle;
    handed out first, the many short modules fill in around it."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)   # stable: each module's own order is kept
