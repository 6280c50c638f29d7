"""参赛单位 / 联系人 / 电话 of a dropped file: from a sidecar, the unit's folder, or the file name.

A sidecar has the video's stem (``作品.txt`` beside ``作品.mp4``) and one ``单位：柳南区委保密办`` item a line
(colon or ``=``; the keys are in KEYS); ``.json`` and ``.yaml`` sidecars hold the same keys as a mapping.
"""

from __future__ import annotations

from core.errors import RefusedEntry
import json
import logging
import os
import re
from dataclasses import dataclass, fields, replace
from dataclasses import field as dataclass_field
from pathlib import Path

import yaml

from intake.pipeline.contact_info import field_text, find_phone, normalise_phone
from intake.pipeline.contest_rules import UnitMatcher
from intake.inbox.door import SIDECAR_CAP, read_sidecar
from intake.pipeline.task import TitleSource
from validators.texts import decode_text

log = logging.getLogger(__name__)

METADATA_SUFFIXES = (".txt", ".json", ".yaml", ".yml")
TRANSCRIPT_SUFFIXES = (".txt", ".srt", ".ass", ".ssa", ".vtt")
SIDECAR_SUFFIXES = METADATA_SUFFIXES + (".srt", ".ass", ".ssa", ".vtt")   # travel with their video
MAX_SIDECAR_BYTES = 64 * 1024
KEYS = {
    "unit": ("参赛单位名称", "参赛单位", "报送单位", "单位名称", "单位", "unit"),
    "contact": ("联系人姓名", "联系人", "contact"),
    "phone": ("联系电话", "电话号码", "电话", "手机号码", "手机", "phone"),
    "title": ("作品名称", "作品名", "作品标题", "标题", "title"),
}


@dataclass(frozen=True)
class Metadata:
    unit: str | None = None
    contact: str | None = None
    phone: str | None = None
    title: str | None = None
    # With a title: a TitleSource, taken (fill_from) together with it; what the metadata says leaves it out.
    title_source: str | None = dataclass_field(default=None, compare=False)

    def fill_from(self, other: "Metadata") -> "Metadata":
        """Keep what we have; take what is missing from ``other``."""
        return replace(self, **{f.name: getattr(self, f.name) or getattr(other, f.name) for f in fields(self)})


_KEY_ALTERNATION = "|".join(sorted((n for names in KEYS.values() for n in names if not n.isascii()),
                                  key=len, reverse=True))
INLINE = re.compile(rf"({_KEY_ALTERNATION})\s*[:：=]\s*")
PHONE_TEXT = re.compile(r"(?:\+?86[-\s]?)?(?:[(（]?0\d{2,3}[)）]?[-－\s]?)?\d[\d\-－\s]{5,14}\d")
MOBILE_ANYWHERE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def from_text(text: str) -> Metadata:
    """Labelled items anywhere in free text (a mail body or subject), several on a line or not.

    Each value runs to the next label, the end of the line, or a separator.
    An unlabelled mobile number is taken as the phone when no label gives one.
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        matches = list(INLINE.finditer(line))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            value = line[match.end():end]
            field = _canonical_key(match.group(1))
            if field is None or field in found:
                continue
            if field == "phone":
                phone = PHONE_TEXT.search(value)
                value = phone.group(0) if phone else ""
            elif field == "title":
                value = re.split(r"[；;]", value)[0]
            else:
                value = re.split(r"[\s,，;；、。]", value.strip(), maxsplit=1)[0]
            value = value.strip().strip("《》“”\"'")
            if value:
                found[field] = value
    if "phone" not in found:
        mobile = MOBILE_ANYWHERE.search(text)
        if mobile:
            found["phone"] = mobile.group(0)
    return _cleaned(**found, title_source=TitleSource.GIVEN)


def _canonical_key(key: str) -> str | None:
    return next((field for field, names in KEYS.items() if key.strip().lower() in names), None)


def _from_mapping(items) -> Metadata:
    found: dict[str, str] = {}
    for key, value in items:
        # Only plain scalars: a list or mapping (even a small one with aliases) can expand to gigabytes as text.
        if not isinstance(key, str) or not isinstance(value, (str, int, float)) or isinstance(value, bool):
            continue
        field = _canonical_key(key)
        if field and value != "" and field not in found:
            found[field] = str(value)
    return _cleaned(**found, title_source=TitleSource.GIVEN)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a sidecar has no use for them, and they are how a few hundred
    bytes become a "billion laughs"."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("说明文件中不允许使用 YAML 别名（*）")
        return super().compose_node(parent, index)


def _cleaned(unit=None, contact=None, phone=None, title=None, title_source=None) -> Metadata:
    title = field_text(title, 500)
    return Metadata(unit=field_text(unit), contact=field_text(contact, 100),
                    phone=normalise_phone(phone), title=title, title_source=title_source if title else None)


def parse_sidecar(path: Path, raw: bytes | None = None) -> Metadata:
    """Metadata from a sidecar's bytes (read from ``path`` when not given: our own unpacked files)."""
    if raw is None:
        raw = read_sidecar(path, cap=MAX_SIDECAR_BYTES)
    text = decode_text(raw[:MAX_SIDECAR_BYTES])
    suffix = path.suffix.lower()
    if suffix in (".json", ".yaml", ".yml"):
        try:
            data = json.loads(text) if suffix == ".json" else yaml.load(text, Loader=_NoAliasLoader)
        except (ValueError, yaml.YAMLError, RecursionError):   # deep nesting is as unreadable as bad syntax
            data = None
        if isinstance(data, dict):
            return _from_mapping(data.items())
    return from_text(text)


def sidecars_of(video: Path) -> list[Path]:
    """Regular files beside ``video`` with the same stem and a sidecar suffix; links are not sidecars."""
    try:
        with os.scandir(video.parent) as entries:
            siblings = [Path(e.path) for e in entries if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    return sorted(p for p in siblings
                  if p != video and p.stem == video.stem and p.suffix.lower() in SIDECAR_SUFFIXES)


def sidecar_bytes(video: Path, inbox: Path | None = None) -> list[tuple[Path, bytes]]:
    """Each sidecar of ``video`` with its first bytes (at most SIDECAR_CAP), read through the inbox door."""
    out = []
    for sidecar in sidecars_of(video):
        try:
            out.append((sidecar, read_sidecar(sidecar, inbox, SIDECAR_CAP)))
        except RefusedEntry as exc:
            log.warning("忽略说明文件 %s：%s", exc.path, exc.reason)
        except OSError:
            continue   # gone meanwhile
    return out


NAME_SEPARATORS = re.compile(r"[-－—–_\s、，,+]+")
PERSON = re.compile(r"^[\u4e00-\u9fff]{1,4}(?:·[\u4e00-\u9fff]{1,6})?$")
UNIT_ENDINGS = ("区", "县", "市", "局", "办", "委", "室", "部", "厅", "院", "所", "中心", "公司", "学校", "镇", "乡",
                "街道", "单位")


def from_file_name(stem: str, units: UnitMatcher | None = None) -> Metadata:
    """单位、联系人、电话 and 作品名 from a name such as ``柳北区-张伟-0772-2612345-网络安全``, in any order.

    The phone comes first (a landline keeps its dash, so the name cannot simply be split on dashes). Of
    the other parts, the unit is one the unit list knows (``units``), else one named like a unit (柳北区,
    市公安局); the contact is a person's name beside the phone; what is left is the title.

    A name without a phone gives only a unit on the list, named in it (融水县作品, 柳南-守护秘密): a
    free-form part that merely looks like a unit could be the title, and so could a person's name.
    """
    phone = find_phone(stem)
    if phone is None:
        return _cleaned(unit=_listed_unit_in(stem, units))
    before = _name_parts(stem[:phone.start()])
    after = _name_parts(stem[phone.end():])
    unit = _unit_part(before + after, units)
    if unit is not None:
        before, after = [p for p in before if p != unit], [p for p in after if p != unit]
    contact = next((p for p in (before[-1:] + after[:1]) if PERSON.match(p)), None)
    title = [p for p in before + after if p != contact]
    return _cleaned(unit=unit, contact=contact, phone=phone.group(), title="-".join(title) or None,
                    title_source=TitleSource.FILE_NAME)


def _name_parts(text: str) -> list[str]:
    return [p for p in NAME_SEPARATORS.split(text) if p]


def _listed_unit_in(stem: str, units: UnitMatcher | None) -> str | None:
    """A listed unit named in a name without a phone: a part that is one (柳南 in 柳南-守护秘密), else one
    written inside the name (融水县 in 融水县作品)."""
    if units is None:
        return None
    for part in _name_parts(stem):
        if units.match(part).how in ("exact", "alias"):
            return part
    return units.written_in(stem)


def _unit_part(parts: list[str], units: UnitMatcher | None) -> str | None:
    if units is not None:
        for part in parts:
            if units.match(part).how in ("exact", "alias", "contains"):
                return part
    return next((p for p in parts if p.endswith(UNIT_ENDINGS) and len(p) > 2), None)


def transcripts_beside(video: Path) -> list[tuple[str, bytes]]:
    """Subtitle and text files with the video's stem: (name, bytes), for the opening-phrase check."""
    return transcripts_of(sidecar_bytes(video))


def transcripts_of(sidecars: list[tuple[Path, bytes]]) -> list[tuple[str, bytes]]:
    """The transcripts among ``sidecars``, handed on as UTF-8: decoded once here, so no later reader
    trips over a broken UTF-16 file."""
    return [(p.name, decode_text(raw).encode("utf-8")) for p, raw in sidecars
            if p.suffix.lower() in TRANSCRIPT_SUFFIXES]


def metadata_for(video: Path, inbox: Path, sidecars: list[tuple[Path, bytes]],
                 units: UnitMatcher | None = None) -> Metadata:
    """Sidecar first, then the unit's folder, then the file name (its unit checked against ``units``)."""
    meta = Metadata()
    for sidecar, raw in sidecars:
        if sidecar.suffix.lower() in METADATA_SUFFIXES:
            meta = meta.fill_from(parse_sidecar(sidecar, raw))
    relative = video.relative_to(inbox)
    if len(relative.parts) > 1:
        meta = meta.fill_from(_cleaned(unit=relative.parts[0]))
    return meta.fill_from(from_file_name(video.stem, units))
