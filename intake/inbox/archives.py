"""Unpack a submitted ZIP safely: GBK or unflagged UTF-8 names, no path escapes, bounded size and entry count."""

from __future__ import annotations

import errno
import lzma
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from core.errors import StorageError
from core.names import stem_of
from core.numbers import size_text
from core.textsafe import one_line
from intake.inbox.door import InboxMedia, read_sidecar
from intake.inbox.metadata import (
    METADATA_SUFFIXES,
    SIDECAR_SUFFIXES,
    TRANSCRIPT_SUFFIXES,
    parse_sidecar,
    transcripts_of,
)
from intake.pipeline.task import MediaTask, Source, SubmissionTask, TitleSource
from validators.results import CheckResult, failed, passed
from validators.sniff import sniff

if TYPE_CHECKING:
    from intake.pipeline.services import Services

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".flv", ".wmv", ".webm", ".mpg", ".mpeg", ".ts",
                  ".3gp", ".f4v", ".rmvb", ".rm", ".vob", ".mts", ".m2ts"}
VIDEO_KINDS = {"mp4", "quicktime", "mkv", "webm", "avi", "flv", "mpeg_ts", "mpeg_ps", "wmv"}
UTF8_FLAG = 0x800
COPY_CHUNK = 1024 * 1024
NAME_MAX_BYTES = 255
PATH_MAX_BYTES = 4096
MAX_MEMBER_NAME_CHARS = 500   # a video's name inside a zip, as a person reads it
# Our own disk failing is no fault of the zip: it must not count towards giving up on it.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
# Errors an entry's own path causes on extraction (not a full disk): the zip is rejected, not retried.
PATH_ERRNOS = {errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ELOOP, errno.EINVAL, errno.EILSEQ}


@dataclass
class Unpacked:
    videos: list[tuple[Path, str]] = field(default_factory=list)   # (extracted path, name inside the zip)
    sidecars: list[Path] = field(default_factory=list)
    check: CheckResult | None = None


def member_name(info: zipfile.ZipInfo, encoding: str | None = None) -> str:
    """The real name of an entry. With the UTF-8 flag (bit 11) zipfile has it right; without it zipfile
    read the bytes as cp437, but Chinese Windows wrote GBK and Linux or macOS tools wrote UTF-8 without
    setting the flag. ``encoding`` is the zip's own (``name_encoding``); else this name alone decides."""
    raw = _unflagged_bytes(info)
    if raw is None:
        return info.filename
    if encoding is not None:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    alone = _likely_encoding([raw])
    return raw.decode(alone) if alone else info.filename


def name_encoding(infos: list[zipfile.ZipInfo]) -> str | None:
    """The encoding of a zip's unflagged names, decided once for the whole zip (one tool wrote them all):
    None when no one encoding reads them all (each name then decides alone)."""
    return _likely_encoding([raw for raw in map(_unflagged_bytes, infos) if raw is not None and not raw.isascii()])


def _unflagged_bytes(info: zipfile.ZipInfo) -> bytes | None:
    """The name's bytes as written, for an entry without the UTF-8 flag (zipfile decoded them as cp437)."""
    if info.flag_bits & UTF8_FLAG:
        return None
    try:
        return info.filename.encode("cp437")
    except UnicodeEncodeError:
        return None


def _likely_encoding(names: list[bytes]) -> str | None:
    """UTF-8 or GBK (as GB18030), whichever reads ``names`` as the more plausible text; None if neither reads them.

    GBK names are sometimes valid UTF-8 too (学习 → ѧϰ, 鹿寨 → ¹կ): UTF-8 wins unless it gives more characters
    no Chinese file name holds (Cyrillic, Greek, Latin Extended, box drawing…) than GBK does.
    """
    read = {}
    for encoding in ("utf-8", "gb18030"):
        try:
            read[encoding] = sum(_implausible(name.decode(encoding)) for name in names)
        except UnicodeDecodeError:
            pass
    if not read:
        return None
    return min(read, key=lambda encoding: read[encoding])   # a tie keeps UTF-8, the first


def _implausible(text: str) -> int:
    """How many characters of ``text`` no Chinese file name holds (Cyrillic, Greek, Latin Extended, box
    drawing…). Latin-1 counts in a Latin word (Café) or beside CJK (作品©); alone it is more likely a GBK
    character read as UTF-8 (陆 → ½)."""
    cjk = bool(_CJK.search(text))
    count = 0
    for index, ch in enumerate(text):
        if "\xa0" <= ch <= "\xff":
            beside = text[max(0, index - 1):index] + text[index + 1:index + 2]
            count += not (cjk or any(c.isalpha() and c <= "\xff" for c in beside))
        else:
            count += not _PLAUSIBLE.match(ch)
    return count


# What file names from Chinese users are made of besides Latin-1: ASCII, general punctuation (“”…), and
# the CJK blocks: radicals to unified ideographs with kana and CJK punctuation, Hangul, compatibility
# ideographs, vertical and full-width forms, and the supplementary ideographs.
_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")
_PLAUSIBLE = re.compile("[\x20-\x7e\u2000-\u206f]|" + _CJK.pattern)


def safe_relative(name: str) -> PurePosixPath | None:
    """A member name as a relative path inside the target, or None if it would escape.

    Control characters are dropped from each component: the names become files in our work folder.
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/"))
    path = PurePosixPath(name)
    if name.startswith("/") or (path.parts and ":" in path.parts[0]):
        return None
    parts = [one_line(p) or "" for p in path.parts]
    parts = [p for p in parts if p not in (".", "")]
    if not parts or any(p == ".." for p in parts):
        return None
    return PurePosixPath(*parts)


def too_long(rel: PurePosixPath, target: Path) -> bool:
    """A component over NAME_MAX, or a path that would pass PATH_MAX once under ``target``."""
    room = PATH_MAX_BYTES - len(str(target).encode("utf-8", "surrogateescape")) - 2
    return (any(len(p.encode("utf-8")) > NAME_MAX_BYTES for p in rel.parts)
            or len(str(rel).encode("utf-8")) > min(PATH_MAX_BYTES, room))


class _Layout:
    """The files and folders a zip will create: a second file of one name becomes ``name (2)``."""

    def __init__(self, folders: set[PurePosixPath]):
        self.folders = folders
        self.files: set[PurePosixPath] = set()

    def place(self, rel: PurePosixPath) -> PurePosixPath | None:
        """Where ``rel`` goes; None if it is also a folder of the zip (a file/folder clash)."""
        if rel in self.folders or any(parent in self.files for parent in rel.parents):
            return None
        candidate, n = rel, 1
        while candidate in self.files or candidate in self.folders:
            n += 1
            candidate = rel.with_name(f"{rel.stem} ({n}){rel.suffix}")
        self.files.add(candidate)
        return candidate


def _ignored(rel: PurePosixPath) -> bool:
    return any(p == "__MACOSX" or p.startswith(".") or p in ("Thumbs.db", "desktop.ini") for p in rel.parts)


# What a damaged deflate, bzip2 or LZMA stream raises while it is read (bz2 says OSError "Invalid data stream").
DAMAGED_DATA = (zlib.error, lzma.LZMAError, OSError, EOFError, zipfile.BadZipFile, ValueError)


class _Rejected(Exception):
    """A zip refused; its one argument is the failed ``archive`` check."""


def unpack_zip(archive: Path | BinaryIO, target: Path, max_entries: int, max_total_bytes: int) -> Unpacked:
    """Extract the videos (and sidecars) of ``archive`` (a path or an open file) under ``target``.

    A bad zip is a failed ``archive`` check; only a fault of our own disk (full, unwritable) raises OSError."""
    out = Unpacked()
    try:
        with zipfile.ZipFile(archive) as zf:
            skipped = _extract(zf, target, max_entries, max_total_bytes, out)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError) as exc:
        out.check, out.videos = corrupt_archive_check(exc), []
        return out
    except _Rejected as refusal:
        out.check, out.videos = refusal.args[0], []
        return out
    if not out.videos:
        out.check = failed("archive", "no_video_in_archive", "压缩包里没有视频文件。请把 MP4 视频打包后重新报送。",
                           advice="压缩包里没有视频文件。请把 MP4 视频打包后重新报送。", skipped=skipped)
    else:
        extra = f"；另有 {len(skipped)} 个非视频文件未处理：{'、'.join(skipped[:5])}" if skipped else ""
        out.check = passed("archive", f"压缩包内有 {len(out.videos)} 个视频{extra}。", skipped=skipped)
    return out


def _extract(zf: zipfile.ZipFile, target: Path, max_entries: int, max_total_bytes: int, out: Unpacked) -> list[str]:
    """Fill ``out`` with the zip's videos and sidecars; return the other entries' names. _Rejected for a bad zip."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > max_entries:
        raise _Rejected(failed("archive", "too_many_entries",
                               f"压缩包内有 {len(infos)} 个文件，超过 {max_entries} 个的上限。请只打包参赛视频后重新报送。",
                               advice=f"压缩包内有 {len(infos)} 个文件，超过 {max_entries} 个的上限。"
                                      "请只打包参赛视频后重新报送。"))
    if sum(i.file_size for i in infos) > max_total_bytes:
        raise _Rejected(too_big_check(max_total_bytes))
    entries = []
    encoding = name_encoding(zf.infolist())
    for info in infos:
        name = member_name(info, encoding)
        rel = safe_relative(name)
        if rel is None:
            raise _Rejected(failed("archive", "unsafe_path",
                                   f"压缩包中的文件名“{_shown(name)}”指向压缩包以外的位置，出于安全考虑未解压。请重新打包后报送。",
                                   advice="压缩包中的文件路径不规范，出于安全考虑未解压。请重新打包后报送。"))
        if too_long(rel, target):
            raise _Rejected(name_too_long_check(name))
        if _ignored(rel):
            continue
        if info.flag_bits & 0x1:
            raise _Rejected(failed("archive", "encrypted", "压缩包设置了密码，无法解压。请去掉密码后重新报送。",
                                   advice="压缩包设置了密码，无法解压。请去掉密码后重新报送。"))
        entries.append((info, rel))
    layout = _Layout(_folders_of(zf, [rel for _, rel in entries], encoding))
    planned = [(info, layout.place(rel)) for info, rel in entries]
    clash = next((rel for (_, rel), (_, placed) in zip(entries, planned) if placed is None), None)
    if clash is not None:
        raise _Rejected(path_conflict_check(str(clash)))
    written, skipped = 0, []
    for info, rel in planned:
        dest = target / Path(*rel.parts)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dst = dest.open("xb")
        except OSError as exc:
            if exc.errno not in PATH_ERRNOS:
                raise
            raise _Rejected(path_conflict_check(str(rel), exc.strerror or str(exc))) from None
        with zf.open(info) as src, dst:
            while True:
                try:
                    chunk = src.read(COPY_CHUNK)
                except DAMAGED_DATA as exc:   # the sender's compressed data, not our disk
                    raise _Rejected(corrupt_archive_check(exc)) from None
                if not chunk:
                    break
                written += len(chunk)
                if written > max_total_bytes:  # the declared sizes lied: a bomb
                    raise _Rejected(too_big_check(max_total_bytes))
                dst.write(chunk)
        suffix = dest.suffix.lower()
        if suffix in VIDEO_SUFFIXES or sniff(dest) in VIDEO_KINDS:
            out.videos.append((dest, str(rel)))
        elif suffix in SIDECAR_SUFFIXES:   # metadata or subtitles for the videos beside them
            out.sidecars.append(dest)
        else:
            skipped.append(str(rel))
    return skipped


def corrupt_archive_check(exc: BaseException) -> CheckResult:
    return failed("archive", "corrupt_archive", "压缩包已损坏或格式不受支持，无法解压。请重新打包（ZIP 格式）后报送。",
                  advice="压缩包已损坏或格式不受支持，无法解压。请重新打包（ZIP 格式）后报送。",
                  error=one_line(f"{type(exc).__name__}: {exc}", 200))


def _folders_of(zf: zipfile.ZipFile, files: list[PurePosixPath], encoding: str | None) -> set[PurePosixPath]:
    """Every folder the zip creates: the parents of its files and its explicit folder entries."""
    folders = {parent for rel in files for parent in rel.parents if parent != PurePosixPath(".")}
    for info in zf.infolist():
        if info.is_dir():
            rel = safe_relative(member_name(info, encoding))
            if rel is not None:
                folders.add(rel)
                folders.update(p for p in rel.parents if p != PurePosixPath("."))
    return folders


def _shown(name: str, limit: int = 120) -> str:
    return one_line(name, limit) or ""


def path_conflict_check(name: str, error: str | None = None) -> CheckResult:
    return failed("archive", "path_conflict",
                  f"压缩包中的“{_shown(name)}”既是文件又是文件夹（或与其他条目冲突），无法解压。请整理文件夹结构后重新打包报送。",
                  advice=f"压缩包中的“{_shown(name)}”与其他文件或文件夹重名，无法解压。请整理文件夹结构后重新打包报送。",
                  entry=_shown(name, 500), error=error)


def name_too_long_check(name: str) -> CheckResult:
    return failed("archive", "name_too_long",
                  f"压缩包中的文件名或路径过长（“{_shown(name, 60)}”），无法解压。请缩短文件名和文件夹层级后重新打包报送。",
                  advice=f"压缩包中的文件名或路径过长（“{_shown(name, 60)}”），无法解压。请缩短文件名和文件夹层级后重新打包报送。",
                  entry=_shown(name, 500))


def too_big_check(limit: int) -> CheckResult:
    return failed("archive", "too_large_unpacked",
                  f"压缩包解压后超过 {size_text(limit)} 的上限（可能是压缩炸弹），未解压。请直接报送 MP4 视频。",
                  advice=f"压缩包解压后超过 {size_text(limit)} 的上限，未解压。请直接报送 MP4 视频。")


def unpack_archives(task: SubmissionTask, services: "Services") -> None:
    """Pipeline stage: each zip a source handed over (a file with ``unpack_to``) becomes the videos inside it.

    Its sidecars fill what the submission lacks. A zip without ``source_path`` (the mail reader stopped at
    ``watch.max_zip_total_bytes``) is rejected unread."""
    watch = services.config.watch
    files: list[MediaTask] = []
    for media in task.files:
        if media.unpack_to is None:
            files.append(media)
            continue
        if media.source_path is None:
            task.checks.append(too_big_check(watch.max_zip_total_bytes))
            continue
        unpacked = _unpack(media, watch.max_zip_entries, watch.max_zip_total_bytes)
        task.checks.append(unpacked.check)
        for sidecar in unpacked.sidecars:
            if sidecar.suffix.lower() in METADATA_SUFFIXES:
                found = parse_sidecar(sidecar)
                task.unit, task.contact, task.phone = (task.unit or found.unit, task.contact or found.contact,
                                                       task.phone or found.phone)
                if not task.title:
                    task.title, task.title_source = found.title, found.title_source
        if not unpacked.videos and not task.title:   # no video to name the work after: the zip's own name does
            task.title, task.title_source = one_line(stem_of(media.original_name), 500), TitleSource.FILE_NAME
        transcripts = transcripts_of([(p, read_sidecar(p)) for p in unpacked.sidecars
                                      if p.suffix.lower() in TRANSCRIPT_SUFFIXES])
        # A mail's zip is one attachment among others: its videos are named after it (城中区.zip/作品/守护秘密.mp4).
        prefix = f"{media.original_name}/" if task.source == Source.MAIL else ""
        files += [MediaTask(source_path=p, original_name=one_line(prefix + member, MAX_MEMBER_NAME_CHARS),
                            transcripts=transcripts or media.transcripts)
                  for p, member in unpacked.videos]
    task.files = files


def _unpack(media: MediaTask, max_entries: int, max_total_bytes: int) -> Unpacked:
    """A zip from the inbox is read through the descriptor it was checked on (the inbox door), never by path."""
    try:
        if isinstance(media, InboxMedia) and media.source is not None:
            with media.source.reader() as archive:
                return unpack_zip(archive, media.unpack_to, max_entries, max_total_bytes)
        return unpack_zip(media.source_path, media.unpack_to, max_entries, max_total_bytes)
    except OSError as exc:
        if exc.errno in DISK_ERRNOS:
            raise StorageError(f"无法解压到工作目录 {media.unpack_to}：{exc.strerror or exc}", "请检查磁盘空间。") from exc
        raise
