"""A reviewer's correction of a recorded submission (``intake edit``), kept in the audit log.

The values are cleaned as those from outside are. A new unit is matched as the pipeline does (``unit_raw``
keeps it as typed); a change of unit, contact or phone asks the contact, unit and quota checks again, and the
quota of the units' later works. One ``edited`` event holds each field's old and new value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ChangedMeanwhile, UsageError
from core.textsafe import clean_text, one_line
from intake.pipeline.contact_info import normalise_phone, phone_is_valid
from intake.inbox.done import Refreshed
from intake.labels import FIELD_LABELS
from intake.pipeline.services import Services
from intake.review.recheck import Rechecked, judge, record_run, requota_later, stored_task
from intake.pipeline.task import TitleSource
from storage.check_runs import version_of
from validators.results import Outcome

# Each field a reviewer may correct, with the length it is cut to (as the producers cut it).
EDITABLE = {"unit": 200, "contact": 100, "phone": 50, "title": 500, "speaker": 100, "topic": 500}
ASKED_AGAIN = ("contact_info", "unit", "quota")   # what a new unit, contact or phone changes
MAX_TRIES = 20   # an edit that meets another at the same moment is worked out again on what that one left


@dataclass
class Edited:
    submission_id: int
    changes: dict[str, dict[str, Any]]      # field -> {old, new}; empty when every value was already so
    before: Outcome
    after: Outcome
    changed: list[dict[str, Any]] = field(default_factory=list)   # results that are new or changed
    later: list[Rechecked] = field(default_factory=list)          # later works whose quota changed
    moved: Refreshed | None = None   # its file in done/, moved to the folder of the new outcome


def cleaned_values(values: dict[str, str | None]) -> dict[str, str | None]:
    """The given values (None: not given) made safe; an empty value clears the field. UsageError if none is
    given, or one is too long, or the phone is not a phone number."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        raise UsageError("请至少指定一项要修改的内容：--unit、--contact、--phone、--title、--speaker 或 --topic。")
    unknown = set(given) - set(EDITABLE)
    if unknown:
        raise UsageError(f"不能修改：{'、'.join(sorted(unknown))}。")
    out = {}
    for name, value in given.items():
        text = one_line(value) or None
        if text is not None and len(text) > EDITABLE[name]:
            raise UsageError(f"{FIELD_LABELS[name]}太长：{len(text)} 个字，最多 {EDITABLE[name]} 个字。")
        out[name] = text
    if out.get("phone") is not None:
        phone = normalise_phone(out["phone"])
        if not phone or not phone_is_valid(phone):
            raise UsageError(f"“{one_line(out['phone'], 30)}”不是电话号码。",
                             "请填写手机号（如 13800138000）或座机号（如 0772-2612345）；要清除电话，请用 --phone \"\"。")
        out["phone"] = phone
    return out


def edit_submission(services: Services, submission_id: int, values: dict[str, str | None],
                    note: str | None = None, actor: str | None = None, version: str | None = None) -> Edited:
    """Correct the submission's fields and ask again what they change; NotFound for an unknown id. With ``version``
    (of the submission a desk form showed), a submission changed since is not saved (ChangedMeanwhile); without
    it (the command line), an edit that met another is worked out again."""
    values = cleaned_values(values)
    for attempt in range(MAX_TRIES):
        judged = stored_task(services, submission_id)
        sub, task = judged.sub, judged.task
        if version is not None and version_of(sub) != version:
            raise _stale(submission_id)
        outcome = Outcome(sub.outcome)
        if all(_unchanged(sub, name, value) for name, value in values.items()):
            return Edited(submission_id, {}, outcome, outcome)
        changes = {name: value for name, value in values.items() if name != "unit"}
        for name, value in changes.items():
            setattr(task, name, value)
        if "title" in changes:   # a title typed by a person is a title (see blind review)
            changes["title_source"] = TitleSource.GIVEN.value if changes["title"] else None
        if "unit" in values:
            task.unit_raw = task.unit = values["unit"]
        if {"unit", "contact", "phone"} & set(values):
            judge(services, judged, ASKED_AGAIN)
            changes.update(unit=task.unit, unit_raw=task.unit_raw)
        data = {"note": clean_text(note, 2000), "asked": sorted(ASKED_AGAIN) if judged.run else []}
        try:
            result = record_run(services, judged, "edited", data, changes=changes, actor=actor)
            break
        except ChangedMeanwhile:
            if version is not None:
                raise _stale(submission_id) from None
            if attempt == MAX_TRIES - 1:
                raise
    later = list(requota_later(services, judged.units, submission_id, {submission_id}, actor)) \
        if sub.unit != task.unit else []
    # (the event keeps where the title now comes from; people read the fields themselves)
    shown = {name: change for name, change in result.changes.items() if name != "title_source"}
    return Edited(submission_id, shown, result.before, result.after, result.changed, later, result.moved)


def _stale(submission_id: int) -> ChangedMeanwhile:
    return ChangedMeanwhile(f"作品 #{submission_id} 在您打开页面之后已被修改（可能有其他人同时在修改），本次修改没有保存。",
                            "请刷新页面，核对最新内容后再修改。")


def _unchanged(sub, name: str, value: str | None) -> bool:
    """The unit is unchanged when it is given as it was written or as the known unit it was matched to."""
    if name == "unit":
        return value in (sub.unit, sub.unit_raw) and (value is not None or sub.unit is None)
    return getattr(sub, name) == value
