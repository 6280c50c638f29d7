"""Sensitive flags that fit a contest about 保密: markings as documents carry them are flagged, wherever OCR
sees them in the picture; the topic's own words in narration are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import media
from tests.cli import run
from tests.test_opening import cjk_font
from validators.examine import examine_file
from validators.rules import RulesConfig, SensitiveConfig
from validators.sensitive import check_sensitive
from validators.texts import TextSource

NARRATION = [
    "我是保密法治代言人张三，今天我要讲的是涉密载体管理",
    "国家秘密的密级分为绝密、机密、秘密三级",
    "涉密文件管理要标明密级和保密期限",
]


def document(path: Path, font: str) -> Path:
    """A page filmed on a desk: a title and body lines, and "机密★10年" in its top left corner, far above
    the caption band."""
    lines = [("机密★10年", 24, 225, 40), ("关于加强涉密载体管理的通知", 30, 285, 110),
             ("各单位：为进一步做好保密工作，现将有关事项通知如下。", 20, 225, 180),
             ("一、严格执行涉密文件登记、传阅和归档制度。", 20, 225, 220)]
    filters = ["drawbox=x=200:y=20:w=560:h=500:color=white@1:t=fill"]
    for index, (text, size, x, y) in enumerate(lines):
        text_file = path.parent / f"{path.stem}.line{index}"
        text_file.write_text(text, encoding="utf-8")
        filters.append(f"drawtext=fontfile={font}:textfile={text_file}:fontcolor=black:fontsize={size}:x={x}:y={y}")
    media.ffmpeg("-f", "lavfi", "-i", "color=c=0x6b5a48:size=960x540:rate=10:duration=3",
                 "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=8000:duration=3",
                 "-vf", ",".join(filters), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", str(path))
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory, ffmpeg_bin) -> dict[str, Path]:
    d, font = tmp_path_factory.mktemp("sensitive"), cjk_font()
    return {
        "talk": media.captioned(d / "talk.mp4", 4, [(0, 1.45, NARRATION[0], 90), (1.5, 2.45, NARRATION[1], 90),
                                                    (2.5, 4, NARRATION[2], 90)], font),
        "document": document(d / "document.mp4", font),
    }


def sensitive(item: dict) -> dict:
    return next(c for c in item["checks"] if c["id"] == "sensitive_content")


def test_a_talk_about_secrecy_is_not_flagged(videos):
    report = examine_file(videos["talk"], RulesConfig())
    read = "\n".join(t.text for t in report.texts if t.kind == "ocr")
    for said in ("涉密载体管理", "绝密、机密、秘密", "密级和保密期限"):   # OCR did read the narration
        assert said in read, read
    [check] = [c for c in report.checks if c.check_id == "sensitive_content"]
    assert (check.status.value, check.message) == ("pass", "未发现密级标志或敏感词（已查看：文件名、画面文字）。")


def test_a_marking_in_a_corner_of_a_filmed_document_is_flagged(videos):
    out = run("validate", "--json", str(videos["document"]))
    assert out.returncode == 3, out.stderr
    [item] = json.loads(out.stdout)
    flagged = sensitive(item)
    assert (flagged["status"], flagged["code"]) == ("warn", "flagged")
    assert flagged["message"].startswith("发现可能涉密或敏感的内容，请人工复核：\n“机密★10年”出现在画面文字，约第 ")
    assert flagged["advice"].startswith("作品的文字中出现了可能涉及密级标志或敏感信息的内容")
    assert "涉密载体" not in flagged["message"]   # the title's words are the topic, not a marking


@pytest.mark.parametrize("text", [
    *NARRATION, "今天我要讲的是涉密载体管理", "保密期限届满的，自行解密", "内部资料也要妥善保管，不能随意外传",
    "秘密级文件不得私自复制", "★★★ 五星好评 ★★★",
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
    assert check.message.startswith(f"发现可能涉密或敏感的内容，请人工复核：\n“{marking}”出现在画面文字，约第 2 秒")
    assert check.advice


def test_configured_keywords_are_flagged_anywhere():
    cfg = SensitiveConfig(keywords=("作战部署",))
    check = check_sensitive([TextSource("subject", "关于作战部署的说明")], cfg)
    assert check.status.value == "warn" and "“作战部署”出现在邮件主题" in check.message
