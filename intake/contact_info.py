"""参赛单位名称 / 联系人 / 联系电话: normalise what units write, and check it is all there."""

from __future__ import annotations

import re
import unicodedata

from validators.results import CheckResult, passed, warned

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^(0\d{2,3})?[2-9]\d{6,7}$")


def normalise_phone(raw: str | None) -> str | None:
    """Full-width digits to ASCII; strip spaces, dashes, brackets and a +86 prefix."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", raw).strip()
    digits = re.sub(r"[\s\-()（）]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits or None


def phone_is_valid(phone: str) -> bool:
    digits = normalise_phone(phone) or ""
    return bool(MOBILE.match(digits) or LANDLINE.match(digits))


def clean_text(value: str | None, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).strip()
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return text[:limit] or None


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
