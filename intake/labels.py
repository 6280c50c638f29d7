"""Chinese names shown to people: checks, statuses, outcomes, sources and decisions, for notes, receipts,
the terminal and reports. (The validators keep the names they need for their own messages.)"""

from intake.pipeline.task import Source
from validators.results import Outcome, Status

CHECK_LABELS = {
    "size": "文件大小",
    "container": "文件格式",
    "streams": "音视频内容",
    "duration": "时长",
    "integrity": "文件完整性",
    "duplicate": "重复报送",
    "contact_info": "报送信息",
    "files": "视频文件",
    "archive": "压缩包",
    "unit": "参赛单位",
    "deadline": "截止时间",
    "quota": "名额",
    "large_attachment_link": "超大附件",
    "opening_phrase": "开头语",
    "sensitive_content": "敏感信息",
    "mail_parts": "邮件内容",
    "text_encoding": "文字编码",
    "processing_error": "处理出错",
}


def check_label(check_id: str) -> str:
    return CHECK_LABELS.get(check_id, check_id)


DECISION_LABELS = {"shortlist": "入围", "reject": "不予推荐", "pending": "待定"}

OUTCOME_LABELS = {
    Outcome.ACCEPTED: "通过",
    Outcome.NEEDS_REVIEW: "待复核",
    Outcome.REJECTED: "不合格",
}

STATUS_LABELS = {Status.PASS: "通过", Status.WARN: "提醒", Status.FAIL: "不合格"}

# Where a submission came from. Keys are Source members, so the stored text ('mail', ...) finds them too.
SOURCE_LABELS = {Source.MAIL: "邮件", Source.FOLDER: "投递文件夹", Source.CLI: "手工登记", Source.ATTACH: "补登"}

# The fields ``intake edit`` corrects, as the audit log and the terminal name them.
FIELD_LABELS = {"unit": "参赛单位", "unit_raw": "参赛单位（原文）", "contact": "联系人", "phone": "联系电话",
                "title": "作品名", "speaker": "代言人", "topic": "主题"}

# Operators the audit log names that are not a person's account. The stored names stay as they are (old records
# keep reading well); a command-line decision with no reviewer is stored as UNATTRIBUTED, so every view says it plainly.
UNATTRIBUTED = "（未注明）"
ACTOR_LABELS = {"folder-watcher": "投递文件夹", "mailbox": "邮箱", "root": "系统管理员（root）", "unknown": "（未知）"}


def actor_label(actor: str | None) -> str:
    """Who did it, for people: a desk account's or a system user's name as it is, the others in Chinese."""
    if not actor:
        return UNATTRIBUTED
    return ACTOR_LABELS.get(actor, actor)
