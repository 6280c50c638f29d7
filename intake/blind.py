"""Blind review (``contest.scoring.blind``): a submission as a judge may see it, with who sent it taken out.

``blind_view`` is the one place that decides what a judge under blind review sees. It takes a view (the
dict of ``intake list --json``, or a page's dict built on one) and returns a copy in which

- the unit, the unit as written, the contact, the phone, the sender, the mail subject, the mail body
  (``body`` or ``mail_body``, where a page has one) and the source reference read ``（已隐去）``;
- each file is named ``文件1.mp4``, ``文件2.mov``…, and a title that is only a file's name reads
  ``（作品名取自文件名，已隐去）``;
- every other string, however deep (titles, check messages, decision notes, a page's history), has each of
  those values, each file name (and its stem, from four characters) and every name of a unit (listed names,
  aliases, short forms such as 柳南, and the units works were recorded with) masked as ``＊＊``, whatever
  their case;
- the details of history events that quote the sender or the files (edits, receipts, added files, moves)
  are hidden;
- ``blind`` is True.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from intake.contest_rules import short_forms

if TYPE_CHECKING:
    from intake.config import ContestConfig

HIDDEN = "（已隐去）"
MASK = "＊＊"
IDENTITY = ("unit", "unit_raw", "contact", "phone", "sender", "subject", "source_ref", "body_text")
# Kinds of history events whose details quote the sender, an old value of the unit or contact, or file paths.
REVEALING = {"edited", "rechecked", "files_added", "receipt_sending", "receipt_sent", "receipt_failed",
             "receipt_skipped", "mail_seen_again", "mail_content", "moved", "fixed"}
SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}")
SHORTEST = 2     # a one-character "name" would mask half of every sentence
STEM_SHORTEST = 4   # a file name's stem masked in texts: shorter ones are words (作品, 视频), not names
TITLE_FROM_FILE = "（作品名取自文件名，已隐去）"


class UnitNames:
    """Every name that points at a unit, as one pattern (longest first, so that 柳南区 is masked whole)."""

    def __init__(self, names: Iterable[str | None]):
        kept = sorted({n.strip() for n in names if n and len(n.strip()) >= SHORTEST}, key=lambda n: (-len(n), n))
        # Case does not hide a name: RongShui is rongshui.
        self.pattern = re.compile("|".join(map(re.escape, kept)), re.IGNORECASE) if kept else None

    @classmethod
    def of(cls, contest: ContestConfig, views: Iterable[Mapping[str, Any]]) -> UnitNames:
        names: list[str | None] = []
        for unit in contest.units:
            names += [unit.name, *unit.aliases, *short_forms(unit.name)]
        for view in views:
            names += [view.get("unit"), view.get("unit_raw"), *short_forms(view.get("unit") or "")]
        return cls(names)

    def mask(self, text: str) -> str:
        return self.pattern.sub(MASK, text) if self.pattern else text


def _file_names(view: Mapping[str, Any]) -> list[str]:
    """Each file's name as given, its last part, and that part's stem where it is long enough to be a name
    rather than a word (rs_baomi_2024, not 作品)."""
    names = []
    for f in view.get("files") or []:
        name = str(f.get("original_name") or "")
        last = PurePosixPath(name.replace("\\", "/")).name
        names += [name, last]
        stem = PurePosixPath(last).stem
        if len(stem) >= STEM_SHORTEST:
            names.append(stem)
    return names


def _file_stems(view: Mapping[str, Any]) -> set[str]:
    return {PurePosixPath(str(f.get("original_name") or "").replace("\\", "/")).stem.casefold()
            for f in view.get("files") or []}


def _masker(view: Mapping[str, Any], units: UnitNames) -> Callable[[str], str]:
    secrets = [str(view.get(key) or "") for key in IDENTITY] + _file_names(view)
    sender = str(view.get("sender") or "")
    if "@" in sender:
        secrets.append(sender.split("@", 1)[0])   # the mailbox name alone (rongshui) names the county too
    ordered = sorted({s for s in secrets if len(s) >= SHORTEST}, key=lambda s: (-len(s), s))
    pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None

    def mask(text: str) -> str:
        return units.mask(pattern.sub(MASK, text) if pattern else text)

    return mask


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {key: _masked(item, mask) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(item, mask) for item in value]
    return value


def blind_view(view: Mapping[str, Any], units: UnitNames) -> dict[str, Any]:
    """``view`` as a judge under blind review sees it (see the module's docstring); ``view`` is not changed."""
    out = _masked(view, _masker(view, units))
    if str(view.get("title") or "").strip().casefold() in _file_stems(view):
        out["title"] = TITLE_FROM_FILE   # nothing else named the work: its file name, which often names the unit
    for key in IDENTITY:
        if key in out:
            out[key] = HIDDEN
    for position, f in enumerate(out.get("files") or [], start=1):
        suffix = PurePosixPath(str(view["files"][position - 1].get("original_name") or "").replace("\\", "/")).suffix
        f["original_name"] = f"文件{position}" + (suffix.lower() if SUFFIX.fullmatch(suffix) else "")
    for item in out.get("history") or []:
        if item.get("kind") in REVEALING:
            item["text"] = HIDDEN
    out["blind"] = True
    return out


def blind_views(views: Iterable[Mapping[str, Any]], contest: ContestConfig) -> list[dict[str, Any]]:
    views = list(views)
    units = UnitNames.of(contest, views)
    return [blind_view(view, units) for view in views]
