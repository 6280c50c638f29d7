"""补登 from the desk (clerks, admins): a file uploaded on the entry page, added as ``intake attach`` adds it.
The body is parsed as it arrives (its token checked already by ``guard.CsrfGuard``) into a folder of its own
under ``data/work``, stopping at ``rules.max_size_bytes`` plus a margin; a refused upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from core.errors import IntakeError, NotFound
from core.numbers import size_text
from core.textsafe import clean_name
from intake.review.attach import attach_file
from intake.config import Config
from intake.desk import actions
from intake.desk.accounts import Account, Refused
from intake.desk.base import Desk
from intake.desk.guard import DRAIN_BYTES, PartReader, allowed, declared_length, seen

UPLOAD_MARGIN = 1024 * 1024      # the multipart framing and the token, beyond the file's own limit
FIELD_BYTES = 1024               # a form field's value (the token, checked already, is 43 characters)
INCOMPLETE = "上传的内容不完整或格式不对，请重新补登。"
IDLE_SECONDS = 60.0              # an upload that sends nothing for this long is given up (a trickle holds a slot)
STALLED = "上传中断：超过 1 分钟没有收到数据，文件没有保存。请检查网络后重新补登。"


def too_large(config: Config) -> Refused:
    limit = size_text(config.rules.max_size_bytes)
    return Refused(413, f"上传的文件太大：超过 {limit} 的上限，没有保存。请先压缩到 {limit} 以内再补登。")


def page_globals(config: Config) -> dict[str, object]:
    """What the upload form needs to refuse a file over the size limit before sending it (static/upload.js)."""
    return {"upload_max_bytes": config.rules.max_size_bytes, "upload_too_large": too_large(config).message}


class UploadReader(PartReader):
    """One file written to ``work``, other fields ignored."""

    def __init__(self, work: Path):
        super().__init__()
        self.work = work
        self.path: Path | None = None
        self._file: BinaryIO | None = None
        self.ended = False   # the closing boundary was read: the file is whole

    def part(self, options: dict) -> None:
        self._value = bytearray()
        if b"filename" not in options:
            return
        if self.path is not None:
            raise Refused(400, "一次只能补登一个文件。")
        raw = options[b"filename"].decode("utf-8", "replace")
        if not raw.strip():
            raise Refused(400, "请先选择要补登的文件。")
        self.work.mkdir(parents=True)
        self.path = self.work / clean_name(raw)
        self._file = self.path.open("xb")

    def data(self, chunk: bytes) -> None:
        if self._file is not None:
            self._file.write(chunk)
        elif len(self._value) + len(chunk) > FIELD_BYTES:
            raise Refused(400, "表单中的字段太长。")
        else:
            self._value.extend(chunk)

    def end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def finished(self) -> None:
        self.ended = True


@allowed("attach")
async def attach(request: Request) -> Response:
    """POST /entries/{id}/attach (multipart, field ``file``): the file added to the work, or why not."""
    desk, account = seen(request), request.user
    work = desk.config.storage.data_dir / "work" / f"upload-{uuid.uuid4().hex}"
    try:
        try:
            path = await _receive(request, desk, work)
        except Refused as exc:
            shutil.rmtree(work, ignore_errors=True)   # before a refused body is drained: nothing stays
            if exc.status != 408 and declared_length(request) <= upload_limit(desk.config) + DRAIN_BYTES:
                await _drain(request)   # (a stalled one would never end: answer it at once)
            return desk.render("refused.html.j2", account, status=exc.status, message=exc.message)
        except ClientDisconnect:
            return Response(status_code=400)
        return await run_in_threadpool(_attach, request, desk, account, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _receive(request: Request, desk: Desk, work: Path) -> Path:
    """The uploaded file, written under ``work``; Refused when the form or the size is wrong."""
    try:
        await run_in_threadpool(desk.db.submissions.get, request.path_params["submission_id"])
    except NotFound as exc:
        raise Refused(404, exc.message) from None
    limit = upload_limit(desk.config)
    if declared_length(request) > limit:
        raise too_large(desk.config)
    kind, params = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise Refused(400, "上传的内容格式不对，请用页面上的表单补登。")
    reader = UploadReader(work)
    try:
        parser = MultipartParser(params[b"boundary"], reader.callbacks())
        total = 0
        async for chunk in _arriving(request):
            total += len(chunk)
            if total > limit:
                raise too_large(desk.config)
            if chunk:
                await run_in_threadpool(parser.write, chunk)
        parser.finalize()
    except FormParserError:
        raise Refused(400, INCOMPLETE) from None
    finally:
        reader.end()
    if not reader.ended:
        raise Refused(400, INCOMPLETE)
    if reader.path is None:
        raise Refused(400, "请先选择要补登的文件。")
    return reader.path


async def _arriving(request: Request):
    """The body's chunks as they come; Refused (408) when none comes for ``IDLE_SECONDS``."""
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), IDLE_SECONDS)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise Refused(408, STALLED) from None
        yield chunk


def upload_limit(config: Config) -> int:
    """The most an upload's body may hold: the file's own limit and a margin for the form around it."""
    return config.rules.max_size_bytes + UPLOAD_MARGIN


async def _drain(request: Request) -> None:
    """Read and drop what is left of a refused body, up to DRAIN_BYTES: a browser still sending does not
    read the answer (a body far larger than that is never read at all, the connection just closes); one that
    stalls is not waited for."""
    drained = 0
    try:
        async for chunk in _arriving(request):
            drained += len(chunk)
            if drained > DRAIN_BYTES:
                return
    except (Refused, ClientDisconnect, RuntimeError):   # stalled, gone, or the body was read to its end already
        return


def _attach(request: Request, desk: Desk, account: Account, path: Path) -> Response:
    submission_id = request.path_params["submission_id"]
    try:
        attach_file(desk.services, submission_id, path, actor=account.name)
    except IntakeError as exc:
        return actions._again(request, desk, account, exc)
    return actions._done(submission_id, "attach")
