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

DEFAULT_MARKS = (
    r"绝密", r"机密", r"秘密\s*★", r"★\s*\d+\s*年", r"内部(?:资料|文件|材料|刊物|使用|★|▲)",
    r"涉密(?:文件|材料|资料|载体|文档|设备|计算机|信息系统|图纸|数据)", r"密级", r"保密期限",
)


class RulesSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningConfig(RulesSection):
    scan_seconds: float = Field(15, gt=0, description="look for the opening phrase this far into the video")
    ocr: bool = True
    ocr_fps: float = Field(1, gt=0, le=10)
    ocr_band: float = Field(0.34, gt=0, le=1, description="bottom fraction of the frame where captions sit")
    ocr_width: int = Field(960, ge=320, le=1920)
    max_errors: float = Field(2, ge=0, le=4)
    timeout_seconds: float = Field(120, gt=0)
    speech_model: Path | None = Field(None, description="a Vosk model folder; speech recognition runs only if set")


class SensitiveConfig(RulesSection):
    marks: tuple[str, ...] = DEFAULT_MARKS
    keywords: tuple[str, ...] = ()


class RulesConfig(RulesSection):
    max_duration_seconds: float = Field(120, gt=0)
    duration_grace_seconds: float = Field(5, ge=0)
    max_size_bytes: int = Field(314572800, gt=0)
    allowed_brands: tuple[str, ...] = Field(tuple(DEFAULT_BRANDS))
    video_codecs: tuple[str, ...] = Field(("AVC", "HEVC"))
    audio_codecs: tuple[str, ...] = Field(("AAC", "MPEG Audio"))
    integrity_seconds: float = Field(2, gt=0, description="seconds decoded at each end in the fast check")
    duration_tolerance_seconds: float = Field(1.0, ge=0, description="allowed gap between header and stream times")
    probe_timeout_seconds: float = Field(30, gt=0)
    decode_timeout_seconds: float = Field(900, gt=0)
    opening: OpeningConfig = OpeningConfig()
    sensitive: SensitiveConfig = SensitiveConfig()
