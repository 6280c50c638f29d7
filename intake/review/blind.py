"""Blind review (``contest.scoring.blind``): a submission as a judge may see it, with who sent it taken out.

``blind_view`` is the one place that decides what a judge under blind review sees. Files are named
``文件1.mp4``… keeping only a real extension (``core.names``: never the last dot-part of a name such as
``守护秘密 2024.4.3 韦小宝``). A title is shown only when it was given as one (``title_source``; works
recorded before it are judged by whether the title is a file's or link's name). Every string, however deep,
has the sender's values, the file and link names, web addresses and every name of a unit masked, whatever
their case; checks that tie works together by their sender no longer name the other works.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from core.names import base_name, extension_of, stem_of
from intake.pipeline.contest_rules import short_forms

if TYPE_CHECKING:
    from intake.config import ContestConfig

HIDDEN = "（已隐去）"
MASK = "＊＊"
IDENTITY = ("unit", "unit_raw", "contact", "phone", "sender", "subject", "source_ref", "body_text")
# Kinds of history events whose details quote the sender, an old value of the unit or contact, or file paths.
REVEALING = {"edited", "rechecked", "files_added", "receipt_sending", "receipt_sent", "receipt_failed",
             "receipt_skipped", "mail_seen_again", "mail_content", "moved", "fixed"}
SHORTEST = 2     # a one-character "name" would mask half of every sentence
STEM_SHORTEST = 4   # a file name's stem masked in texts: shorter ones are words (作品, 视频), not names
TITLE_FROM_FILE = "（作品名取自文件名，已隐去）"
TITLE_FROM_SUBJECT = "（作品名取自邮件主题，已隐去）"
WEB_ADDRESS = re.compile(r"(?:https?|ftp)://[^\s）)」>，。；]+", re.IGNORECASE)
# Another work's number: "#3", "（#1、#3）", "第 3 号作品".
WORK_NUMBER = re.compile(r"#\d+|第\s*\d+\s*号")
# What a check that ties works to their sender says to a judge under blind review (status → message).
UNLINKED = {
    "quota": {"pass": "未超过每单位的名额。", "warn": "该单位报送的作品超过名额，请管理员确认以哪一件为准（匿名评审：不显示单位和其他作品）。",
              "fail": "该单位报送的作品超过名额（匿名评审：不显示单位和其他作品）。"},
    "duplicate": {"pass": "没有发现重复报送。", "warn": "与另一件已登记的作品内容相同或相近，请管理员确认（匿名评审：不显示是哪一件）。",
                  "fail": "与另一件已登记的作品内容相同（匿名评审：不显示是哪一件）。"},
    "large_attachment_link": {"pass": "“超大附件”中的视频已下载并补登。",
                              "warn": "作品以“超大附件”下载链接发送，视频尚待下载（匿名评审：链接和文件名已隐去）。",
                              "fail": "作品以“超大附件”下载链接发送（匿名评审：链接和文件名已隐去）。"},
}
LINK_SIZE = "“超大附件”下载链接标明的文件超过大小上限（匿名评审：文件名已隐去）。"


def _pattern(names: Iterable[str]) -> re.Pattern | None:
    """One pattern for ``names``, longest first (so that 柳南区 is masked whole); case does not hide a name."""
    ordered = sorted(set(names), key=lambda n: (-len(n), n))
    return re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None


class UnitNames:
    """Every name that points at a unit, as one pattern."""

    def __init__(self, names: Iterable[str | None]):
        self.pattern = _pattern(n.strip() for n in names if n and len(n.strip()) >= SHORTEST)

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


def _given_names(view: Mapping[str, Any]) -> list[str]:
    """Each file's and download link's name as given."""
    given = [f.get("original_name") for f in view.get("files") or []]
    given += [link.get("name") for link in view.get("links") or []]
    return [str(name) for name in given if name]


def _file_names(view: Mapping[str, Any]) -> list[str]:
    """Each given name, its last part, and that part's stem where it is long enough to be a name rather than a
    word (rs_baomi_2024, not 作品)."""
    names = []
    for name in _given_names(view):
        names += [name, base_name(name)]
        stem = stem_of(name)
        if len(stem) >= STEM_SHORTEST:
            names.append(stem)
    return names


def _masker(view: Mapping[str, Any], units: UnitNames) -> Callable[[str], str]:
    secrets = [str(view.get(key) or "") for key in IDENTITY] + _file_names(view)
    secrets += [str(link.get("url") or "") for link in view.get("links") or []]
    sender = str(view.get("sender") or "")
    if "@" in sender:
        secrets.append(sender.split("@", 1)[0])   # the mailbox name alone (rongshui) names the county too
    # A title given as one is the work's name, not the sender's, even where a file bears it too.
    title = str(view.get("title") or "").strip().casefold() if view.get("title_source") == "given" else None
    pattern = _pattern(s for s in secrets if len(s) >= SHORTEST and s.strip().casefold() != title)

    def mask(text: str) -> str:
        text = WEB_ADDRESS.sub(MASK, text)
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
    if (title := _hidden_title(view)) is not None:
        out["title"] = title
    for key in IDENTITY:
        if key in out:
            out[key] = HIDDEN
    if "links" in out:
        out["links"] = []
    for position, f in enumerate(out.get("files") or [], start=1):
        f["original_name"] = f"文件{position}" + extension_of(view["files"][position - 1].get("original_name"))
        f["sha256"] = None   # equal contents would tie works together
        if f.get("original"):
            f["original"] = {**f["original"], "sha256": None}
    for check in out.get("checks") or []:
        _unlink(check)
    for item in out.get("history") or []:
        if item.get("kind") in REVEALING:
            item["text"] = HIDDEN
    out["blind"] = True
    return out


def _hidden_title(view: Mapping[str, Any]) -> str | None:
    """What a judge reads instead of the title, or None when the title may be shown (masked)."""
    source = view.get("title_source")
    if source is not None:
        return {"file_name": TITLE_FROM_FILE, "subject": TITLE_FROM_SUBJECT}.get(source)
    if str(view.get("title") or "").strip().casefold() in {stem_of(n).strip().casefold() for n in _given_names(view)}:
        return TITLE_FROM_FILE   # recorded before the source was: nothing else named the work but a file
    return None


def _unlink(check: dict[str, Any]) -> None:
    """A check's texts without what ties the work to others by their sender."""
    status = check.get("status") or "warn"
    if check.get("id") in UNLINKED:
        check["message"] = UNLINKED[check["id"]].get(status, UNLINKED[check["id"]]["warn"])
        check["advice"] = ""
    elif check.get("id") == "size" and check.get("code") == "link_too_large":
        check["message"], check["advice"] = LINK_SIZE, ""
    for key in ("message", "advice"):
        if isinstance(check.get(key), str):
            check[key] = WORK_NUMBER.sub("（编号已隐去）", check[key])


def blind_views(views: Iterable[Mapping[str, Any]], contest: ContestConfig) -> list[dict[str, Any]]:
    views = list(views)
    units = UnitNames.of(contest, views)
    return [blind_view(view, units) for view in views]
