"""The validators' own settings: what a valid video is, and how hard to look for the opening phrase
and for secrecy marks. ``intake.config`` embeds ``RulesConfig`` as its ``rules`` section."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

# MP4 family brands we accept. 'qt  ' (QuickTime) is deliberately absent.
DEFAULT_BRANDS = [
    "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9",
    "mp41", "mp42", "mp71", "avc1", "hvc1", "hev1", "dash", "msnv", "XAVC",
    "M4V ", "M4VH", "M4VP", "f4v ", "MSNV", "mmp4",
]

# Markings as printed on a document (密级标志), never the topic's own words: the contest is about 保密,
# so 涉密载体, 密级, 保密期限 and the three levels said or captioned as narration are not flagged.
DEFAULT_MARKS = (
    r"(?:绝密|机密|秘密)\s*[★☆*]\s*(?:\d+\s*(?:年|个月)|长期|启用前)?",   # 机密★10年, 秘密★, 绝密★长期
    r"内部\s*[★☆▲]",                                                    # 内部★
    # a 内部资料 stamp stands alone on its line (in a sentence it is narration)
    r"^\W*内部(?:资料|文件|材料|刊物)\W*(?:注意保存|注意保密|妥善保管|请勿外传)?\W*$",
)


class RulesSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningConfig(RulesSection):
    scan_seconds: float = Field(15, gt=0, description="在视频开头多少秒内查找开头语")
    ocr: bool = Field(True, description="是否识别画面中的字幕文字（OCR，较慢）；`validate --no-ocr` 可临时关闭")
    ocr_fps: float = Field(1, gt=0, le=10, description="文字识别每秒取几帧")
    ocr_band: float = Field(0.34, gt=0, le=1, description="查找开头语时，画面底部的这一部分（比例）中的文字视为字幕（字幕通常在底部）")
    ocr_width: int = Field(960, ge=320, le=1920,
                           description="识别画面文字（开头语和全片扫描）前把画面缩小到的最大边长（像素；横屏视频即宽度，小于此尺寸的不放大）")
    ocr_whole_frames: int = Field(4, ge=0, le=30,
                                  description="已不再使用（保留只为旧的配置文件仍能读取）：密级标志由全片扫描查找，"
                                              "见 `rules.sensitive`")
    max_errors: float = Field(2, ge=0, le=4, description="允许的错字数（同音字不计）")
    timeout_seconds: float = Field(120, gt=0, description="查找开头语的总超时（秒）")
    speech_model: Path | None = Field(
        None, description="Vosk 语音识别模型目录（需 `pip install vosk`）；设置后才进行语音识别，`null` 表示不用")


class SensitiveConfig(RulesSection):
    scan: bool = Field(True, description="全片扫描：读取整个视频的画面（每隔 `sample_seconds` 秒至少一帧，另加每个镜头切换处的一帧），"
                                         "识别画面任何位置的文字，查找密级标志和关键词；`validate --no-ocr` 可临时关闭")
    sample_seconds: float = Field(1, gt=0, le=2, description="全片扫描时两帧之间最多相隔的秒数（1 表示每秒至少一帧："
                                                             "在画面上停留 2 秒及以上的文字都会被读到）")
    timeout_seconds: float = Field(900, gt=0, description="全片扫描一个文件的总超时（秒）；超时时结果为“扫描未完成”并写明已查看的部分")
    marks: tuple[str, ...] = Field(DEFAULT_MARKS, description="密级标志（正则表达式，逐行查找，`^`/`$` 为一行的首尾）："
                                                              "文件上印的密级和保密期限、内部资料印章；讲解中说到的"
                                                              "“涉密载体”“密级”“绝密、机密、秘密”等词不算")
    keywords: tuple[str, ...] = Field((), description="其他需要提醒的自定义关键词（出现在任何文字中都提醒）")


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


class RepairConfig(RulesSection):
    remux: bool = Field(True, description="格式不是 MP4、内容却是 H.264/H.265/MPEG-4 视频配 AAC/MP3 音频的 QuickTime（.mov）、"
                                          "MKV/WebM、FLV、AVI 文件，自动无损转换为 MP4（不重新编码，画质不变；原文件保留），"
                                          "结果为“待复核”；`false` 时判为不合格")
    remux_timeout_seconds: float = Field(600, gt=0, description="无损转换一个文件的超时（秒）")
    shrink_preset: str = Field("ultrafast", pattern="^(" + "|".join(X264_PRESETS) + ")$",
                               description="`intake fix --shrink` 重新编码（x264，一遍编码）的速度预设：默认 `ultrafast`，"
                                           "在 2 核电脑上压缩所需时间短于视频本身（70 秒的 1080p 视频约半分钟到一分钟）；"
                                           "`superfast`、`veryfast` 等更慢的预设同样码率下画质略好，但要数倍的时间")
    shrink_timeout_seconds: float = Field(7200, gt=0, description="`intake fix --shrink` 压缩一个文件的超时（秒）")


class RulesConfig(RulesSection):
    max_duration_seconds: float = Field(120, gt=0, description="时长上限（秒），原则上不超过 2 分钟")
    duration_grace_seconds: float = Field(5, ge=0, description="超出上限多少秒以内只提醒（“原则上”），再超过为不合格")
    max_size_bytes: int = Field(314572800, gt=0, description="文件大小上限（字节；300 MiB，Windows 显示为 300 MB）")
    allowed_brands: tuple[str, ...] = Field(tuple(DEFAULT_BRANDS),
                                            description="视为 MP4 的品牌标识（ftyp）；QuickTime 的 `qt  ` 不在其中")
    video_codecs: tuple[str, ...] = Field(("AVC", "HEVC"), description="常见视频编码（MediaInfo 名称），其他编码给出提醒")
    audio_codecs: tuple[str, ...] = Field(("AAC", "MPEG Audio"),
                                          description="常见音频编码（MediaInfo 名称，`MPEG Audio` 即 MP3），其他编码给出提醒")
    integrity_seconds: float = Field(2, gt=0, description="快速检查时开头、结尾各解码的秒数（结尾从最后一个关键帧起解码画面；其后的画面只读取不解码，声音解码到结尾）")
    duration_tolerance_seconds: float = Field(1.0, ge=0, description="文件头标称时长与实际音视频数据长度允许的差（秒）")
    probe_timeout_seconds: float = Field(30, gt=0, description="MediaInfo 读取一个文件的超时（秒）")
    decode_timeout_seconds: float = Field(900, gt=0, description="ffmpeg 解码检查的超时（秒）")
    opening: OpeningConfig = OpeningConfig()
    sensitive: SensitiveConfig = SensitiveConfig()
    repair: RepairConfig = RepairConfig()
