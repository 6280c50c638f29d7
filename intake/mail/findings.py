"""Pipeline stages that turn what the mail reader saw (超大附件 links, part count, lossy fields) into checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.numbers import size_text
from intake.mail.structure import MAX_PARTS   # not via .header: that would load the IMAP client
from intake.pipeline.task import SubmissionTask
from validators.results import failed, warned

if TYPE_CHECKING:
    from intake.pipeline.services import Services

LINK_TOO_LARGE = "link_too_large"   # code of the ``size`` check for a link whose stated size is over the limit


def warn_large_attachment_links(task: SubmissionTask, services: "Services") -> None:
    """超大附件: the video is behind download links that expire; list them for the reviewer, and reject
    at once a file whose stated size is over the limit (nobody need download it to find out)."""
    links = task.attachment_links
    if not links and not task.mentions_large_attachment:
        return
    if links:
        lines = []
        for i, link in enumerate(links, 1):
            expires = link.expires.strftime("%Y-%m-%d %H:%M") + " 到期" if link.expires else "到期时间不详"
            size = size_text(link.size_bytes) if link.size_bytes is not None else "大小不详"
            lines.append(f"{i}. {link.name or '未注明文件名'}（{size}，{expires}）：{link.url}")
        message = ("邮件使用“超大附件”发送，视频需要从下载链接获取。请在链接到期前下载，"
                   "再用 intake attach 作品编号 文件 补登：\n" + "\n".join(lines))
    else:
        message = "邮件提到“超大附件”，但没有识别出下载链接。请打开原邮件查看并下载视频。"
    limit = services.config.rules.max_size_bytes
    over = [link for link in links if link.size_bytes is not None and link.size_bytes > limit]
    # The submitter reads this beside the over-limit failure below: the two must not contradict each other.
    if not links:
        advice = "邮件提到“超大附件”，但没有找到下载链接。请确认附件已上传成功，必要时重新发送。"
    elif len(over) == len(links):
        advice = "作品以“超大附件”发送，但视频超过大小上限，不能采用，请按下一条说明处理。"
    elif over:
        advice = ("作品以“超大附件”发送：未超过大小上限的视频，工作人员将在下载链接到期前下载；"
                  "超过上限的，请按下一条说明处理。")
    else:
        advice = "作品以“超大附件”发送，工作人员将在下载链接到期前下载视频，暂不需要处理；如链接已过期，请重新发送。"
    task.checks.append(warned("large_attachment_link", "large_attachment_link", message, advice=advice,
                              links=[link.as_json() for link in links]))
    if over:
        named = "、".join(f"“{link.name or '未注明文件名'}”（{size_text(link.size_bytes)}）" for link in over)
        task.checks.append(failed(
            "size", LINK_TOO_LARGE,
            f"“超大附件”下载链接标明的文件大小超过 {size_text(limit)} 的上限：{named}。请压缩视频（如降低码率）后重新报送。",
            advice=f"“超大附件”中的视频超过 {size_text(limit)} 的上限：{named}。请压缩视频（如降低码率），"
                   f"控制在 {size_text(limit)} 以内后重新报送。",
            links=[link.as_json() for link in over], limit_bytes=limit))


def warn_mail_findings(task: SubmissionTask, services: "Services") -> None:
    """Warnings about the mail itself: more parts than are looked at, text that could not be decoded faithfully."""
    if task.part_count > MAX_PARTS:
        task.checks.append(warned(
            "mail_parts", "too_many_parts",
            f"邮件包含 {task.part_count} 个部分（附件、正文等），超过 {MAX_PARTS} 个，只检查了前 {MAX_PARTS} 个。"
            "请评审人员打开原邮件，查看其余部分中是否还有作品。",
            advice=f"邮件包含的附件和正文部分过多（{task.part_count} 个），系统只检查了前 {MAX_PARTS} 个。"
                   "请只附上参赛视频后重新报送。", part_count=task.part_count, checked=MAX_PARTS))
    if task.lossy_fields:
        lossy = task.lossy_fields
        task.checks.append(warned(
            "text_encoding", "lossy_decoding",
            f"邮件的{'、'.join(lossy)}中有无法正确识别的字符，已用“\ufffd”代替。请评审人员打开原邮件核对。",
            advice=f"邮件的{'、'.join(lossy)}中有无法识别的字符。如单位、联系人等信息有误，请与主办方联系更正。",
            fields=lossy))
