"""Mails composed the way real clients send them (Foxmail, 163 web, Outlook, QQ), as raw bytes."""

from __future__ import annotations

import base64
import io
import struct
import urllib.parse
import zipfile
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

FROM = "unit@example.cn"
TO = "bmjfgxck@163.com"


def variant(mp4: bytes, tag: str) -> bytes:
    """The same valid MP4 with a trailing free box, so each mail carries different content."""
    data = tag.encode()
    return mp4 + struct.pack(">I4s", 8 + len(data), b"free") + data


def b64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))


def ew(text: str, charset: str = "utf-8", encoding: str | None = None) -> str:
    raw = text.encode(encoding or charset)
    return f"=?{charset}?B?{base64.b64encode(raw).decode()}?="


def modern(subject: str, body: str, attachments: list[tuple[str, bytes, str]] = (), html: str | None = None,
           message_id: str | None = None) -> bytes:
    """What Outlook/163 web send: UTF-8, RFC 2231 or encoded names, multipart/mixed."""
    msg = EmailMessage()
    msg["From"] = f"柳南区保密办 <{FROM}>"
    msg["To"] = TO
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or make_msgid(domain="example.cn")
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def raw_mail(headers: list[str], parts: list[tuple[list[str], bytes]]) -> bytes:
    """A multipart/mixed mail from literal header lines and (part headers, raw body) pairs."""
    boundary = "----=_NextPart_000_0001_01DA8B3F.5C2E1A90"
    out = [h.encode("utf-8", "surrogateescape") if isinstance(h, str) else h for h in headers]
    out += [b"MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode(), b""]
    for part_headers, body in parts:
        out.append(f"--{boundary}".encode())
        out += [h if isinstance(h, bytes) else h.encode("utf-8", "surrogateescape") for h in part_headers]
        out += [b"", body]
    out.append(f"--{boundary}--".encode())
    return b"\r\n".join(out) + b"\r\n"


def common_headers(subject_header: str, message_id: str | None = None) -> list[str]:
    return [f"From: {FROM}", f"To: {TO}", f"Subject: {subject_header}", f"Date: {formatdate(localtime=True)}",
            f"Message-ID: {message_id or make_msgid(domain='example.cn')}"]


def text_part(text: str, charset: str = "gb2312", encoding: str = "gbk") -> tuple[list[str], bytes]:
    return ([f'Content-Type: text/plain; charset="{charset}"', "Content-Transfer-Encoding: base64"],
            b64_lines(text.encode(encoding)))


def foxmail_gbk(mp4: bytes) -> bytes:
    """gb2312-labelled subject and name holding a GBK-only character, name as an encoded word in quotes."""
    name = ew("朱镕基同志讲保密.mp4", "gb2312", "gbk")
    return raw_mail(common_headers(ew("柳城县参赛作品（镕）", "gb2312", "gbk")), [
        text_part("参赛单位名称：柳城县\r\n联系人：覃镕\r\n联系电话：0772-7612345\r\n"),
        ([f'Content-Type: application/octet-stream; name="{name}"', "Content-Transfer-Encoding: base64",
          f'Content-Disposition: attachment; filename="{name}"'], b64_lines(mp4)),
    ])


def rfc2231_split(mp4: bytes) -> bytes:
    """filename*0*/filename*1* split in the middle of a UTF-8 character."""
    raw = "鹿寨县保密法治代言人作品.mp4".encode("utf-8")
    first, second = raw[:7], raw[7:]   # 7 is inside the third character
    q1, q2 = urllib.parse.quote_from_bytes(first), urllib.parse.quote_from_bytes(second)
    return raw_mail(common_headers(ew("鹿寨县 联系人：蒙一 电话：13977200001")), [
        text_part("参赛单位：鹿寨县", "utf-8", "utf-8"),
        (["Content-Type: video/mp4", "Content-Transfer-Encoding: base64",
          f"Content-Disposition: attachment;\r\n filename*0*=utf-8''{q1};\r\n filename*1*={q2}"], b64_lines(mp4)),
    ])


def raw_8bit_name(mp4: bytes) -> bytes:
    """A name in raw GBK bytes with no encoding at all."""
    name = "融安县作品.mp4".encode("gbk")
    headers = [h.encode() for h in common_headers(ew("融安县报送"))]
    return raw_mail(headers, [
        text_part("单位：融安县\r\n联系人：韦二\r\n电话：13977200002\r\n", "utf-8", "utf-8"),
        ([b'Content-Type: application/octet-stream; name="' + name + b'"', b"Content-Transfer-Encoding: base64",
          b'Content-Disposition: attachment; filename="' + name + b'"'], b64_lines(mp4)),
    ])


def inline_and_nameless(mp4: bytes) -> bytes:
    """An MP4 marked inline, and a nameless octet-stream that is an MP4 too; contact in HTML."""
    html = ("<html><body><p>参赛单位名称：柳江区</p><p>联系人：黄三</p><p>联系电话：13977200003</p>"
            "</body></html>").encode("utf-8")
    return raw_mail(common_headers(ew("柳江区微视频")), [
        (['Content-Type: text/html; charset="utf-8"', "Content-Transfer-Encoding: base64"], b64_lines(html)),
        (['Content-Type: video/mp4; name="inline.mp4"', "Content-Transfer-Encoding: base64",
          'Content-Disposition: inline; filename="inline.mp4"'], b64_lines(mp4)),
        (["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"], b64_lines(mp4 + b"\0")),
    ])


def zip_mail(mp4: bytes) -> bytes:
    class GbkInfo(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):  # noqa: N802
            return self.filename.encode("gbk"), self.flag_bits & ~0x800

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(GbkInfo("城中区作品/守护秘密.mp4"), mp4)
    return modern("城中区 作品（压缩包）", "参赛单位：城中区\n联系人：李四\n电话：13977200004\n",
                  [("城中区.zip", buffer.getvalue(), "application/zip")])


def large_163(expiry: str = "2024年4月17日 0:49") -> bytes:
    html = ('<div>您好，作品较大，用超大附件发送。</div><div>参赛单位名称：三江侗族自治县 联系人：杨四 联系电话：13977200005</div>'
            '<div style="padding:4px"><b>从网易163邮箱发来的超大附件</b></div>'
            '<div><a href="https://mail.163.com/large-attachment-download/index.html?file=KEY123&amp;p=1">'
            f'三江作品.mp4</a> (280.96M, {expiry} 到期)</div>')
    return modern("三江县参赛作品", "请查收超大附件。", html=html)


NETEASE_HEAD = ('<head><base target="_blank" /><style id="cloudAttachStyle" type="text/css">'
                '#divNeteaseBigAttach, #divNeteaseBigAttach_bak{display:none;}</style></head>')


def netease_large(files: list[tuple[str, str]], body: str = "", expiry: str = "2099年8月17日 0:49") -> bytes:
    """The 超大附件 block 163 webmail writes, as seen in real mails: per file an icon link, the name as a
    link followed by ``(size, expiry 到期)`` in grey, and a 下载 link, all to the same address."""
    items = []
    for index, (name, size) in enumerate(files):
        url = f"https://mail.163.com/large-attachment-download/index.html?file=djAyZG1meTh2S0V{index}&amp;p=1"
        items.append(
            '<div style="padding:6px 4px;height:36px;clear:both"><div style="float:left;width:36px">'
            f'<a href="{url}"><img src="https://mail.163.com/bigattach-icon.png" width="32" height="32"></a></div>'
            f'<div><div style="line-height:14px;font-size:12px"><a style="color:#000;text-decoration:none" href="{url}" '
            f'target="_blank">{name}</a><span style="color:#bbb"> ({size}, {expiry} 到期)</span></div>'
            f'<div style="padding-top:4px"><a href="{url}">下载</a></div></div></div>')
    html = (f"<html>{NETEASE_HEAD}<body><div>{body}</div>"
            '<div id="divNeteaseBigAttach" style="margin-top:10px;background:#dee8f2;padding:4px">'
            '<div style="padding:4px 8px;font-size:14px"><b>从网易163邮箱发来的超大附件</b>'
            '<a class="bigattach-mailmaster-download" href="http://u.163.com/RcUwvU56g?spm=bigattachMasterDownLoad">'
            "推荐客户端极速下载</a></div>"
            f'<div style="background:#fff;padding:4px">{"".join(items)}</div></div></body></html>')
    return modern("参赛作品（超大附件）", "请查收超大附件。", html=html)


def large_qq() -> bytes:
    body = ("从QQ邮箱发来的超大附件\n\n融水作品.mp4 (128.03M, 2024年4月27日 21:59 到期)进入下载页面："
            "https://wx.mail.qq.com/ftn/download?func=3&key=abc&code=def\n\n单位：融水苗族自治县 联系人：贾五 电话：13977200006")
    return modern("融水县作品", body)


def no_video() -> bytes:
    return modern("关于报送作品的咨询", "请问作品什么时候截止？联系人：王六 电话：13977200007",
                  [("说明.docx", b"PK\x03\x04 not really", "application/vnd.openxmlformats-officedocument."
                    "wordprocessingml.document")])


def write_big_mail(path, mp4: bytes, total_bytes: int, subject: str = "柳南区 大文件") -> int:
    """Write straight into a maildir file a mail whose MP4 attachment is ``total_bytes`` long
    (``mp4`` followed by a free box of zeros), base64-encoded as it goes; return the MP4's size."""
    pad = total_bytes - len(mp4)
    head = mp4 + struct.pack(">I4sQ", 1, b"free", pad)
    boundary = "big-boundary-0001"
    with open(path, "wb") as fh:
        fh.write("\r\n".join([*common_headers(ew(subject)), "MIME-Version: 1.0",
                              f'Content-Type: multipart/mixed; boundary="{boundary}"', "", f"--{boundary}",
                              'Content-Type: text/plain; charset="utf-8"', "", "单位：柳南区 联系人：张三 电话：13800138000",
                              f"--{boundary}", 'Content-Type: video/mp4; name="big.mp4"',
                              "Content-Transfer-Encoding: base64", 'Content-Disposition: attachment; filename="big.mp4"',
                              "", ""]).encode())
        # 57 raw bytes make one 76-character line; keep every chunk a multiple of 57.
        remaining = bytearray(head)
        zeros_left = pad - 16
        block = 57 * 16384
        while remaining or zeros_left:
            if len(remaining) < block and zeros_left:
                take = min(zeros_left, block - len(remaining))
                remaining += bytes(take)
                zeros_left -= take
            chunk, remaining = bytes(remaining[:block]), remaining[block:]
            fh.write(b64_lines(chunk) + b"\r\n")
        fh.write(f"--{boundary}--\r\n".encode())
    return total_bytes


def many_parts(mp4: bytes, count: int, subject: str = "柳南区 作品（附件很多）") -> bytes:
    """A video followed by ``count`` small named parts: a MIME bomb in the shape a careless client makes."""
    junk = [([f'Content-Type: application/x-note; name="note{i}.dat"',
              f'Content-Disposition: attachment; filename="note{i}.dat"'], b"x") for i in range(count)]
    return raw_mail(common_headers(ew(subject)), [
        text_part("单位：柳南区\r\n联系人：张三\r\n电话：13800138000\r\n", "utf-8", "utf-8"),
        (['Content-Type: video/mp4; name="work.mp4"', "Content-Transfer-Encoding: base64",
          'Content-Disposition: attachment; filename="work.mp4"'], b64_lines(mp4)),
        *junk,
    ])


def plain(subject_header: str, body: str = "单位：柳北区\r\n联系人：李四\r\n电话：13977200010\r\n",
          sender: str | bytes = FROM, message_id: str | None = None, attachment: bytes | None = None) -> bytes:
    """A mail from literal header values (``subject_header`` as it goes on the wire, ``sender`` raw)."""
    headers = common_headers(subject_header, message_id)
    headers[0] = b"From: " + sender if isinstance(sender, bytes) else f"From: {sender}"
    parts = [text_part(body, "utf-8", "utf-8")]
    if attachment is not None:
        parts.append((['Content-Type: video/mp4; name="work.mp4"', "Content-Transfer-Encoding: base64",
                       'Content-Disposition: attachment; filename="work.mp4"'], b64_lines(attachment)))
    return raw_mail(headers, parts)
