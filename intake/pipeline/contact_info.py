"""参赛单位名称 / 联系人 / 联系电话: normalise what units write, and check it is all there."""

from __future__ import annotations

import re
import unicodedata

from core.textsafe import one_line
from validators.results import CheckResult, passed, warned

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^(?:0\d{2,3}-?)?[2-9]\d{6,7}$")
DASHES = str.maketrans({c: "-" for c in "－—–‐‑﹣"})
# 0772-2612345, (0772)2612345, 0772 2612345: an area code set apart from the number, and the number.
AREA_APART = re.compile(r"[(]?(0\d{2,3})(?:\)\s*-?|\s*-\s*|\s+)\s*([2-9][\d\s-]{5,9}\d)")
# In a file name, phone first: a mobile, a landline with its area code (dash or not), a bare local number.
PHONE_IN_NAME = (
    re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d{9}(?!\d)"),
    re.compile(r"(?<!\d)[(（]?0\d{2,3}[)）]?[-－—–\s]?[2-9]\d{6,7}(?!\d)"),
    re.compile(r"(?<!\d)[2-9]\d{6,7}(?!\d)"),
)
DATE_LIKE = re.compile(r"^(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$")


def normalise_phone(raw: str | None) -> str | None:
    """Full-width digits to ASCII; spaces, brackets and +86 dropped; a landline keeps its area code apart
    (0772-2612345) when written apart, and stays as written (07722612345) when not."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", raw).translate(DASHES).strip()
    text = re.sub(r"^(?:\+|00)86[\s-]*|^86(?=1[3-9]\d{9}$)", "", text)
    apart = AREA_APART.fullmatch(text)
    if apart:
        number = re.sub(r"[\s-]", "", apart.group(2))
        if LANDLINE.match(number):
            return f"{apart.group(1)}-{number}"
    digits = re.sub(r"[\s\-()]", "", text)
    return digits or None


def phone_is_valid(phone: str) -> bool:
    digits = normalise_phone(phone) or ""
    return bool(MOBILE.match(digits) or LANDLINE.match(digits))


def find_phone(text: str) -> re.Match | None:
    """The phone number in a file name: the first mobile, else a landline with its area code, else a bare
    local number (not a date such as 20240405)."""
    for pattern in PHONE_IN_NAME:
        for match in pattern.finditer(text):
            if not DATE_LIKE.match(match.group()):
                return match
    return None


def field_text(value: str | None, limit: int = 200) -> str | None:
    """A unit, contact or title as given: one clean line (core.textsafe.one_line), composed; None if empty."""
    if value is None:
        return None
    return one_line(unicodedata.normalize("NFC", value), limit) or None


def check_contact_info(unit: str | None, contact: str | None, phone: str | None) -> CheckResult:
    missing = [label for label, value in (("参赛单位名称", unit), ("联系人", contact), ("联系电话", phone)) if not value]
    if missing:
        return warned("contact_info", "missing",
                      f"缺少{'、'.join(missing)}。请联系报送单位补充，或在投递时一并注明。",
                      advice=f"邮件中没有找到{'、'.join(missing)}。请与主办方联系补充，"
                             "或重新报送时在邮件正文中写明参赛单位、联系人和联系电话。", missing=missing)
    if not phone_is_valid(phone):
        return warned("contact_info", "invalid_phone",
                      f"联系电话“{phone}”不像手机号或座机号。请核对后补充正确的号码。",
                      advice=f"联系电话“{phone}”不像手机号或座机号。请与主办方联系，提供正确的号码。", phone=phone)
    return passed("contact_info", f"参赛单位：{unit}，联系人：{contact}，电话：{phone}。")
