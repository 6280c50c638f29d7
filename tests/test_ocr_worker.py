"""``intake run``'s one long-lived OCR worker: the models load once per run, not once per video; a worker
that dies or grows past its memory bound is replaced; its failures read like the one-shot child's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests import media
from tests.cli import listing, run
from tests.configs import add_config
from tests.folders import write_folder_config
from validators import ocr_models, ocr_worker
from validators.examine import examine_file
from validators.rules import RulesConfig


@pytest.fixture(scope="module")
def captioned(tmp_path_factory, font) -> list[Path]:
    d = tmp_path_factory.mktemp("worker")
    return [media.captioned(d / f"{name}.mp4", 2, [(0, 2, f"我是保密法治代言人{name}，今天我要讲的是保密法", 90)], font)
            for name in ("张三", "李四")]


@pytest.fixture
def service():
    ocr_worker.start_service()
    try:
        yield ocr_worker.current()
    finally:
        ocr_worker.stop_service()


def opening(path: Path):
    return next(c for c in examine_file(path, RulesConfig()).checks if c.check_id == "opening_phrase")


def speaker(path: Path) -> str | None:
    return opening(path).details.get("speaker")


def worker_pid(worker) -> int | None:
    return worker._proc.pid if worker._proc is not None else None


def test_one_worker_reads_video_after_video_and_is_replaced_when_it_dies_or_grows(captioned, service, monkeypatch):
    assert speaker(captioned[0]) == "张三"
    first = worker_pid(service)
    assert speaker(captioned[1]) == "李四" and worker_pid(service) == first   # the models stayed loaded
    os.kill(first, signal.SIGKILL)
    service._proc.wait()
    assert speaker(captioned[0]) == "张三"   # the next video starts a new worker
    assert worker_pid(service) not in (None, first)
    monkeypatch.setattr(ocr_worker, "MAX_RSS_MB", 1)
    assert speaker(captioned[1]) == "李四"
    assert service._proc is None   # over its memory bound: stopped after its answer, the next video starts afresh


def test_a_worker_that_cannot_load_its_models_says_why(captioned, tmp_path, monkeypatch):
    monkeypatch.setenv(ocr_models.MODEL_DIR_ENV, str(tmp_path / "nowhere"))
    ocr_worker.start_service()   # the worker inherits the environment of its start
    try:
        result = opening(captioned[0])
    finally:
        ocr_worker.stop_service()
    assert (result.status.value, result.code) == ("warn", "ocr_failed")   # as the one-shot child says it
    assert result.message.startswith(
        f"画面文字识别没有完成（画面文字识别程序出错（退出码 1）：FileNotFoundError: {ocr_models.MODEL_DIR_ENV} "
        f"指定的文件夹中没有模型文件 {tmp_path / 'nowhere' / ocr_models.MODEL_FILES['det']}）")


def test_run_loads_the_models_once_for_all_its_videos(captioned, workdir, monkeypatch):
    write_folder_config(workdir)
    add_config(workdir, "rules:\n  opening:\n    ocr: true\n")
    inbox = workdir / "inbox"
    inbox.mkdir(exist_ok=True)
    for clip in captioned:
        (inbox / clip.name).write_bytes(clip.read_bytes())
    starts = []
    original = ocr_worker.OcrWorker._start
    monkeypatch.setattr(ocr_worker.OcrWorker, "_start", lambda self: (starts.append(1), original(self)))
    out = run("run", "--once")
    assert out.returncode == 0, out.stderr
    assert sorted(s["speaker"] for s in listing()) == ["张三", "李四"]
    assert len(starts) == 1 and ocr_worker.current() is None   # one worker, stopped with the run
