"""The media checks (size, container, streams, duration, integrity); ids and codes are a public interface.

A check that finds several problems names them all; its ``code`` is the most serious one and
``details["codes"]`` lists every code found.
"""

from __future__ import annotations

from core.names import extension_of
from core.numbers import duration_text, size_text
from validators.boxes import Layout
from validators.results import CheckResult, failed, passed, warned
from validators.rules import RulesConfig
from validators.remux import LOSSLESS_AUDIO, LOSSLESS_VIDEO
from validators.sniff import IMAGE_BRANDS, KINDS
from validators.mediainfo import MediaFacts
from validators.tools import DecodeReport

CODEC_NAMES = {"AVC": "H.264", "HEVC": "H.265", "MPEG Audio": "MP3", "AAC": "AAC"}
RESEND = "请转换为 MP4（H.264 视频 + AAC 音频）后重新报送。"
EXPORT_AGAIN = "请导出为 MP4（H.264 视频 + AAC 音频）后重新报送。"
REEXPORT = "请重新导出视频后报送。"
# Video containers as they are named when sent under their own extension, and their formats' names.
OWN_SUFFIXES = {"quicktime": (".mov", ".qt"), "mkv": (".mkv", ".webm"), "webm": (".webm", ".mkv"), "flv": (".flv",),
                "avi": (".avi",)}
FORMAT_NAMES = {"quicktime": "QuickTime（.mov）", "mkv": "MKV（Matroska）", "webm": "WebM", "flv": "FLV", "avi": "AVI"}
# ffmpeg's codec names as people know them.
CODEC_TEXTS = {"h264": "H.264", "hevc": "H.265", "mpeg4": "MPEG-4", "aac": "AAC", "mp3": "MP3", "vp8": "VP8",
               "vp9": "VP9", "av1": "AV1", "opus": "Opus", "vorbis": "Vorbis", "flac": "FLAC", "ac3": "AC-3",
               "eac3": "E-AC-3", "prores": "ProRes", "mpeg2video": "MPEG-2", "mjpeg": "Motion JPEG",
               "flv1": "Sorenson Spark（FLV1）", "wmv3": "WMV", "dnxhd": "DNxHD", "rawvideo": "未压缩视频"}
# A repair said on the check it stands in for (a recheck keeps saying it: the file judged is the repaired one).
REMUXED, SHRUNK = "remuxed", "shrunk"
REPAIR_CODES = frozenset({REMUXED, SHRUNK})


def _sizes(size: int, other: int) -> tuple[str, str]:
    """Two sizes as people read them (12.4 MB), with the bytes when they would read the same."""
    shown, against = size_text(size), size_text(other)
    if shown == against and size != other:
        return f"{shown}（{size:,} 字节）", f"{against}（{other:,} 字节）"
    return shown, against


def codec_name(fmt: str | None) -> str:
    return CODEC_NAMES.get(fmt or "", fmt or "未知")


def check_size(size: int, rules: RulesConfig) -> CheckResult:
    limit = rules.max_size_bytes
    if size > limit:
        shown, most = _sizes(size, limit)[0], size_text(limit)
        return failed("size", "too_large", f"文件大小为 {shown}，超过 {most} 的上限。请压缩视频（如降低码率）后重新报送。",
                      advice=f"视频文件大小为 {shown}，超过 {most} 的上限。"
                             f"请压缩视频（如降低码率）到 {most} 以内后重新报送。",
                      size_bytes=size, limit_bytes=limit)
    return passed("size", f"文件大小 {size_text(size)}，未超过 {size_text(limit)}。", size_bytes=size)


def spaced(name: str) -> str:
    """A kind's name to follow Chinese text: a space before one that starts with a Latin letter or digit
    (文件是 QuickTime（.mov）视频, but 文件是空文件), as Chinese typesetting sets Latin words apart."""
    return f" {name}" if name[:1].isascii() and name[:1].isalnum() else name


def _what_it_is(kind: str, sent_as: str | None) -> tuple[str, str]:
    """(for the reviewer, for the submitter): what a video file that is not an MP4 really is, said as it arrived
    (a .mov that arrived as .mov is a .mov; one renamed to .mp4 only looks like one)."""
    shown = spaced(KINDS[kind])
    suffix = extension_of(sent_as) if sent_as is not None else (".mp4" if kind == "quicktime" else "")
    if suffix in OWN_SUFFIXES[kind]:
        return f"文件是{shown}，不是 MP4", f"发送的是{shown}，不是要求的 MP4 格式"
    if suffix:
        return f"文件实际是{shown}，不是 MP4（只是扩展名写成了 {suffix}）", f"文件实际是{shown}，不是 MP4"
    return f"文件实际是{shown}，不是 MP4 视频", f"文件实际是{shown}，不是 MP4 视频"


def check_container(kind: str, layout: Layout | None, rules: RulesConfig, sent_as: str | None = None) -> CheckResult:
    """``sent_as``: the file's name as it arrived (says whether a QuickTime file came as .mov or renamed)."""
    name = spaced(KINDS.get(kind, KINDS["unknown"]))
    if kind == "empty":
        return failed("container", "empty_file", "文件是空的（0 字节），可能拷贝或下载失败。请重新发送完整的视频文件。",
                      advice="收到的文件是空的（0 字节），可能是上传或拷贝失败。请重新发送完整的视频文件。", kind=kind)
    if kind in OWN_SUFFIXES:
        said, told = _what_it_is(kind, sent_as)
        code = "quicktime" if kind == "quicktime" else "not_mp4"
        return failed("container", code, f"{said}。{RESEND}", advice=f"{told}。{RESEND}", kind=kind)
    if kind == "hls":
        return failed("container", "playlist",
                      f"文件实际是{name}，里面只有片段地址，没有视频内容。请发送完整的 MP4 视频文件。",
                      advice="收到的是一个播放列表文件，里面没有视频内容。请发送完整的 MP4 视频文件。", kind=kind)
    if kind in ("rar", "7z"):
        return failed("container", "unsupported_archive",
                      f"文件是{name}，本系统无法处理该压缩格式。请直接发送 MP4 视频，或改用 ZIP 压缩。",
                      advice=f"收到的是{name}，无法解压。请直接发送 MP4 视频，或改用 ZIP 格式压缩后重新报送。", kind=kind)
    if kind in ("avif", "heif"):
        major = layout.major_brand if layout else None
        real = IMAGE_BRANDS.get(major or "", (kind, name.strip()))[1]
        said = f"文件实际是 {real}，不是 MP4 视频。{EXPORT_AGAIN}"
        return failed("container", "image_sequence", said, advice=said, kind=kind,
                      brands=layout.brands if layout else [], codes=["image_sequence"])
    if kind != "mp4" or layout is None:
        said = f"文件实际是{name}，不是 MP4 视频。{RESEND}"
        return failed("container", "not_mp4", said, advice=said, kind=kind)
    allowed = set(rules.allowed_brands)
    major = layout.major_brand or ""
    problems: list[tuple[str, str]] = []
    if major == "qt  " or not any(b in allowed for b in layout.brands):
        problems.append(("brand_not_allowed",
                         f"文件的品牌标识（{', '.join(b.strip() for b in layout.brands) or '无'}）不属于 MP4"))
    moov = layout.count("moov")
    if moov == 0:
        problems.append(("no_moov", "文件缺少索引（moov），通常是录制未正常结束或文件不完整，无法播放"))
    if moov > 1:
        problems.append(("multiple_moov", f"文件含有 {moov} 个索引（moov），结构异常"))
    if layout.count("mdat") == 0 and not layout.fragmented:
        problems.append(("no_mdat", "文件中没有媒体数据（mdat）"))
    if problems:
        brand = problems[0][0] == "brand_not_allowed"
        found = "；".join(text for _, text in problems) + "。"
        return failed("container", problems[0][0], found + (RESEND if brand else "请重新导出后报送。"),
                      advice=f"文件不是标准的 MP4 格式。{RESEND}" if brand
                      else f"文件结构不完整或异常，可能无法正常播放。{REEXPORT}",
                      kind=kind, brands=layout.brands, codes=[code for code, _ in problems])
    return passed("container", f"MP4 文件（品牌 {major.strip()}）。", kind=kind, brands=layout.brands)


def _was(kind: str, sent_as: str | None, lead: str) -> tuple[str, str]:
    """(the format's name, what the file was, said as it arrived) of a near miss."""
    fmt = FORMAT_NAMES[kind] + ("" if FORMAT_NAMES[kind].endswith("）") else " ")
    suffix = extension_of(sent_as)
    if suffix and suffix not in OWN_SUFFIXES[kind]:
        return fmt, f"{lead}实际是 {fmt}格式（扩展名写成了 {suffix}）"
    return fmt, f"{lead}是 {fmt}格式"


def check_remuxed(kind: str, sent_as: str | None, **details) -> CheckResult:
    """The container check of a near miss whose streams were copied into an MP4 (the file judged from then on)."""
    fmt, was = _was(kind, sent_as, "原文件")
    return warned("container", REMUXED, f"{was}，已无损转换为 MP4（未重新编码，画质不变），请评审人员确认。",
                  advice=f"发送的视频是 {fmt}格式，不是要求的 MP4 格式。已将它无损转换为 MP4（没有重新编码，画质不变），"
                         "无需重新发送；今后报送请直接导出 MP4 格式。",
                  kind=kind, codes=[REMUXED], **details)


def check_will_remux(kind: str, sent_as: str | None, **details) -> CheckResult:
    """What ``intake validate`` says ahead of a near miss that intake will copy into an MP4 (warn ``remuxed``)."""
    fmt, was = _was(kind, sent_as, "文件")
    return warned("container", REMUXED,
                  f"{was}，不是 MP4。登记时会把它无损转换为 MP4（不重新编码，画质不变），以转换后的 MP4 为准，"
                  "结果为待复核；不需要报送单位重新发送。",
                  advice=f"发送的视频是 {fmt}格式，不是要求的 MP4 格式。主办方会将它无损转换为 MP4（不重新编码，画质不变），"
                         "无需重新发送；今后报送请直接导出 MP4 格式。",
                  kind=kind, codes=[REMUXED], planned=True, **details)


def check_shrunk(original_size: int, size: int, rules: RulesConfig) -> CheckResult:
    """The size check of a file a reviewer had re-encoded to fit the limit (``intake fix --shrink``)."""
    limit = size_text(rules.max_size_bytes)
    return warned("size", SHRUNK,
                  f"原文件 {size_text(original_size)} 超过 {limit} 的上限，已按评审人员的要求压缩（重新编码，画质有所降低）"
                  f"为 {size_text(size)}，原文件已保存。请评审人员确认画质。",
                  advice=f"视频文件 {size_text(original_size)} 超过 {limit} 的上限，主办方已将它压缩到上限以内（重新编码，"
                         f"画质略有降低）。如希望保持原画质，可自行压缩到 {limit} 以内后重新报送。",
                  size_bytes=size, original_size_bytes=original_size, limit_bytes=rules.max_size_bytes, codes=[SHRUNK])


def codec_text(codec: str | None) -> str:
    """An ffmpeg codec name as people know it (vp9 → VP9, pcm_s16le → PCM（未压缩）)."""
    if not codec:
        return "未知"
    if codec.startswith("pcm"):
        return "PCM（未压缩）"
    return CODEC_TEXTS.get(codec, codec.upper())


def check_not_remuxable(kind: str, sent_as: str | None, video: str | None, audio: str | None,
                        unreadable: bool = False, why: str | None = None) -> CheckResult:
    """The container check of a near miss that cannot be copied into an MP4 as it is, saying why (``why``:
    what about the file stopped the copy, when it is known)."""
    said, told = _what_it_is(kind, sent_as)
    then = "请重新导出"
    if not why and unreadable:
        why = "尝试不重新编码直接转换为 MP4（无损转换）没有成功，文件可能已损坏，或其中的编码参数 MP4 不支持"
    elif not why:
        found = ["没有视频画面"] if video is None else \
            ([f"视频编码是 {codec_text(video)}"] if video not in LOSSLESS_VIDEO else [])
        if audio is not None and audio not in LOSSLESS_AUDIO:
            found.append(f"音频编码是 {codec_text(audio)}")
        why = (f"其中{'、'.join(found)}，不是 MP4 要求的 H.264/H.265 视频和 AAC/MP3 音频，"
               "只转换格式、不重新编码（无损转换）得不到合格的 MP4")
        then = "需要重新编码"
    code = "quicktime" if kind == "quicktime" else "not_mp4"
    return failed("container", code, f"{said}。{why}。{RESEND}", advice=f"{told}。{why}，{then}。{RESEND}",
                  kind=kind, remux="not_possible", video_codec=video, audio_codec=audio, codes=[code])


def check_streams(facts: MediaFacts, rules: RulesConfig) -> CheckResult:
    """Every problem found is named; the code is the most serious (no_video, then no_audio, then uncommon_codec)."""
    video, audio = facts.video, facts.audio
    v = video[0] if video else {}
    a = audio[0] if audio else {}
    details = {"video_codec": v.get("format"), "audio_codec": a.get("format")}
    uncommon = []
    if video and v.get("format") not in rules.video_codecs:
        uncommon.append(f"视频编码 {codec_name(v.get('format'))} 不常见，部分播放器可能无法播放")
    if audio and a.get("format") not in rules.audio_codecs:
        uncommon.append(f"音频编码 {codec_name(a.get('format'))} 不常见，部分播放器可能无法播放")
    codes = (["no_video"] if not video else []) + (["no_audio"] if video and not audio else []) \
        + (["uncommon_codec"] if uncommon else [])
    if not video:
        extra = "；" + "；".join(uncommon) if uncommon else ""
        return failed("streams", "no_video", f"文件中没有视频画面（只有音频或为空）{extra}。请报送包含画面的视频。",
                      advice="文件中没有视频画面（只有声音或为空）。请报送包含画面的视频。", codes=codes, **details)
    described = (f"视频 {codec_name(v.get('format'))} {v.get('width')}×{v.get('height')}"
                 + (f"，音频 {codec_name(a.get('format'))}" if audio else ""))
    if not audio:
        advice = "代言视频需要讲解声音，请确认是否遗漏音轨" + ("；建议转为 H.264 + AAC。" if uncommon else "。")
        found = "".join(f"{text}。" for text in uncommon)
        return warned("streams", "no_audio", f"{described}，但没有声音。{found}{advice}",
                      advice="视频没有声音。代言视频需要讲解声音，如果导出时遗漏了音轨，请重新导出后报送。",
                      codes=codes, **details)
    if uncommon:
        return warned("streams", "uncommon_codec", f"{described}。" + "；".join(uncommon) + "。建议转为 H.264 + AAC。",
                      advice="视频采用的编码不常见，部分播放器可能无法播放。"
                             "建议转为 MP4（H.264 视频 + AAC 音频）后重新报送。", codes=codes, **details)
    return passed("streams", described + "。", **details)


def _ms(value) -> float | None:
    try:
        return float(value) / 1000 if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _track_seconds(facts: MediaFacts | None, layout: Layout | None, handlers: tuple[str, ...]) -> list:
    """What the tracks of ``handlers`` (box walk handler types) claim or hold, as MediaInfo and the walk read them."""
    tracks = (facts.video + (facts.audio if "soun" in handlers else [])) if facts else []
    found = [_ms(track.get(key)) for track in tracks for key in ("duration", "source_duration")]
    for track in layout.tracks if layout else []:
        if track.handler in handlers:
            # frame_seconds comes from the audio sample entry's own rate: a timescale lie cannot shorten it.
            found += [track.header_seconds, track.sample_seconds, track.frame_seconds]
    return found


def media_seconds(facts: MediaFacts | None, layout: Layout | None) -> tuple[float | None, float | None]:
    """(what the header claims, what the streams really span): the longest of all sources."""
    claimed = _ms(facts.general.get("duration")) if facts else None
    candidates = [claimed, _ms(facts.general.get("source_duration")) if facts else None,
                  layout.movie_seconds if layout else None, *_track_seconds(facts, layout, ("vide", "soun"))]
    known = [c for c in candidates if c is not None]
    if claimed is None and layout and layout.movie_seconds is not None:
        claimed = layout.movie_seconds
    return claimed, (max(known) if known else None)


def picture_seconds(facts: MediaFacts | None, layout: Layout | None) -> float | None:
    """How long the picture runs: the longest its video track claims or holds (the container may run longer
    for its sound), else the whole file's length."""
    known = [c for c in _track_seconds(facts, layout, ("vide",)) if c]
    return max(known) if known else media_seconds(facts, layout)[1]


def check_duration(facts: MediaFacts | None, layout: Layout | None, rules: RulesConfig) -> CheckResult:
    claimed, actual = media_seconds(facts, layout)
    limit, grace = rules.max_duration_seconds, rules.duration_grace_seconds
    if actual is None:
        return warned("duration", "unknown_duration", "无法读出视频时长，请人工核对。",
                      advice="未能读出视频时长，工作人员将人工核对，暂不需要处理。")
    details = {"duration_seconds": round(actual, 3), "claimed_seconds": round(claimed, 3) if claimed else None}
    # The tenth only where whole seconds would hide the excess: 2分0.4秒 is over 2分, 2分6秒 plainly is.
    shown = duration_text(actual, exact=actual > limit and round(actual) <= limit)
    most = duration_text(limit)
    mismatch = claimed is not None and actual - claimed > rules.duration_tolerance_seconds
    note = f"（文件头标称 {duration_text(claimed)}，实际音视频数据长 {shown}）" if mismatch else ""
    also = "文件头与实际数据不一致，文件可能被修改过。" if mismatch else ""
    extra = ["duration_mismatch"] if mismatch else []
    if actual > limit + grace:
        return failed("duration", "too_long",
                      f"时长 {shown}{note}，超过 {most} 的要求。{also}请剪辑到 {most} 以内后重新报送。",
                      advice=f"视频时长 {shown}，超过 {most} 的要求。请剪辑到 {most} 以内后重新报送。",
                      codes=["too_long", *extra], **details)
    if actual > limit:
        return warned("duration", "too_long_grace",
                      f"时长 {shown}{note}，略超过 {most}（原则上不超过）。{also}由评审人员决定是否接受。",
                      advice=f"视频时长 {shown}，略超过 {most}（原则上不超过），是否接受由主办方决定。"
                             f"如能剪辑到 {most} 以内，可重新报送。",
                      codes=["too_long_grace", *extra], **details)
    if mismatch:
        return warned("duration", "duration_mismatch",
                      f"时长{note}前后不一致，文件可能被修改过，请人工核对。",
                      advice="视频文件记录的时长与实际内容不一致，文件可能不完整或经过修改。建议重新导出视频后报送。",
                      codes=extra, **details)
    return passed("duration", f"时长 {shown}。", **details)


def check_layout_integrity(layout: Layout) -> CheckResult | None:
    """A failure found by the box walk alone, or None when the layout is whole."""
    if layout.problem == "truncated":
        short, whole = _sizes(layout.file_size, layout.expected_size or 0)
        expected = (f"按文件内部结构应有 {whole}，实际只有 {short}"
                    if layout.expected_size else f"文件在第 {layout.file_size} 字节处意外结束")
        return failed("integrity", "truncated",
                      f"文件不完整：{expected}，通常是下载或拷贝中断。请重新发送完整的文件。",
                      advice="文件不完整，通常是上传或拷贝中断。请重新发送完整的文件。",
                      offset=layout.problem_offset, expected_size=layout.expected_size)
    if layout.problem == "bad_box":
        return failed("integrity", "corrupt_structure",
                      f"文件结构在第 {layout.problem_offset} 字节处损坏。{REEXPORT}",
                      advice=f"文件结构已损坏，无法正常播放。{REEXPORT}", offset=layout.problem_offset)
    return None


def check_decode(report: DecodeReport, deep: bool) -> CheckResult:
    scope = "完整解码" if deep else "快速检查（开头和结尾）"
    if report.timed_out:
        return warned("integrity", "decode_timeout", f"{scope}超时，未能确认文件可以完整播放，请人工试播。",
                      advice="系统未能及时确认视频可以完整播放，工作人员将人工试播，暂不需要处理。", deep=deep)
    if not report.ok:
        first = report.errors.splitlines()[0] if report.errors else ""
        return failed("integrity", "decode_error",
                      f"视频数据损坏，无法正常解码（{scope}发现错误）。{REEXPORT}",
                      advice=f"视频数据损坏，无法正常播放。{REEXPORT}", deep=deep, ffmpeg_error=first[:300])
    return passed("integrity", f"{scope}通过，文件可以正常解码。", deep=deep)


def check_probe_failed(reason: str) -> CheckResult:
    said = f"无法读取文件的音视频信息，文件可能已损坏。{REEXPORT}"
    return failed("integrity", "probe_failed", said, advice=said, reason=reason[:300])

