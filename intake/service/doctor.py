"""``intake doctor``: check the set-up and say, in Chinese, what to fix. The core returns findings; it never prints."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.errors import IntakeError
from core.textsafe import one_line
from core.timefmt import SHANGHAI, local_text
from intake.config import Config
from intake.service.permissions import secure_data


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    detail: str
    hint: str | None = None
    warning: bool = False   # works, but someone should know (a passed deadline): shown, not counted as a problem


def run_doctor(config: Config, check_mailbox: bool | None = None) -> list[Finding]:
    secure_data(config)   # the folders it tries are made as every other command makes them (0700)
    findings = [check_ffmpeg(), check_mediainfo(), check_ocr(config), check_deadline(config),
                check_database(config)]
    for label, folder in (("文件库", config.storage.root), ("数据目录", config.storage.data_dir),
                          ("投递文件夹", config.watch.inbox), ("处理结果文件夹", config.watch.done)):
        findings.append(check_writable(label, folder))
    findings += check_private(config)
    if check_mailbox if check_mailbox is not None else config.mailbox.enabled:
        findings.append(check_mailbox_login(config))
    findings += check_sources(config)
    findings += check_retrying(config)
    return findings


def check_ffmpeg() -> Finding:
    from validators.tools import ffmpeg_exe

    try:
        exe = ffmpeg_exe()
        out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30)
    except (IntakeError, OSError, subprocess.SubprocessError) as exc:
        return Finding(False, "ffmpeg", f"无法运行：{exc}", "请安装 ffmpeg：sudo apt-get install ffmpeg")
    if out.returncode != 0:
        return Finding(False, "ffmpeg", f"{exe} 运行出错", "请重新安装 ffmpeg。")
    version = " ".join(out.stdout.split()[:3])
    return Finding(True, "ffmpeg", f"可用（{version}，{exe}）")


def check_mediainfo() -> Finding:
    code = "from pymediainfo import MediaInfo; print(MediaInfo.can_parse())"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding(False, "MediaInfo", f"无法检查：{exc}", "请重新安装依赖：pip install pymediainfo")
    if out.stdout.strip() != "True":
        return Finding(False, "MediaInfo", "无法加载 MediaInfo 库", "请重新安装依赖：pip install pymediainfo")
    return Finding(True, "MediaInfo", "可用")


def check_ocr(config: Config) -> Finding:
    if not config.rules.opening.ocr:
        return Finding(True, "画面文字识别", "已关闭（rules.opening.ocr: false）")
    try:
        importlib.import_module("rapidocr_onnxruntime")   # loads the native runtime, as a check would
    except Exception as exc:  # an import of a native library can fail in several ways
        return Finding(False, "画面文字识别", f"无法加载 RapidOCR：{exc}",
                       "请重新安装依赖（pip install rapidocr-onnxruntime），或设置 rules.opening.ocr: false。")
    return Finding(True, "画面文字识别", "可用（RapidOCR）")


def check_deadline(config: Config) -> Finding:
    """As the main job's start-up says: after the deadline every work that arrives is flagged late."""
    deadline = config.contest.deadline
    shown = f"{deadline.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}（北京时间）"
    if deadline < datetime.now(timezone.utc):
        return Finding(True, "截止时间", f"{shown}已过：此后收到的作品都会带“截止时间”提醒",
                       "征集已经结束的，不必处理；要延期，请修改 config.yaml 中的 contest.deadline，"
                       "再用 intake recheck --all 重新核对已登记的作品。", warning=True)
    return Finding(True, "截止时间", f"{shown}，尚未到")


def _database(config: Config):
    from intake.pipeline.services import database_address
    from storage.database import Database

    return Database(**database_address(config))


def check_database(config: Config) -> Finding:
    try:
        db = _database(config)
        current = db.schema_is_current()
    except IntakeError as exc:
        return Finding(False, "数据库", exc.message, exc.hint)
    except Exception as exc:  # the driver's own errors: unreachable host, bad password …
        return Finding(False, "数据库", f"无法连接 {config.database.url.split('@')[-1]}：{str(exc).splitlines()[0]}",
                       "请检查 database.url，以及数据库服务是否在运行。")
    if not current:
        return Finding(False, "数据库", f"{db.safe_url} 可以连接，但结构不是最新版本",
                       "运行 intake migrate 创建或升级数据库结构。")
    return Finding(True, "数据库", f"可以连接，结构是最新版本（{db.safe_url}）")


def check_writable(label: str, folder: Path) -> Finding:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".intake-doctor-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Finding(False, label, f"{folder} 无法写入：{exc.strerror or exc}", "请检查目录是否存在、权限和磁盘空间。")
    return Finding(True, label, f"{folder} 可以写入")


def check_private(config: Config) -> list[Finding]:
    """Files of passwords (the configured ones, ``intake.env`` beside the config): they should be 600."""
    from intake.service.unit import ENV_FILE_NAME, env_file_too_open, secret_files

    findings = []
    beside = (config.source.parent / ENV_FILE_NAME,) if config.source else ()
    for path in dict.fromkeys((*secret_files(config), *(p for p in beside if p.is_file()))):
        if env_file_too_open(path):
            findings.append(Finding(False, "授权码文件", f"{path} 其他用户也能读取",
                                    f"请运行：chmod 600 {path}（只让运行 intake 的用户可读）。"))
        elif path.is_file():
            findings.append(Finding(True, "授权码文件", f"{path} 只有所有者可读"))
    return findings


def check_mailbox_login(config: Config) -> Finding:
    from intake.mail.client import MailSession, read_password

    cfg = config.mailbox
    session = None
    try:
        session = MailSession(cfg, read_password(cfg))
        session.select(cfg.folder)
        sent_id = "已发送 ID" if session.has("ID") else "服务器不支持 ID"
        return Finding(True, "邮箱", f"{session.account} 登录成功，{sent_id}，可以打开文件夹 {cfg.folder}")
    except IntakeError as exc:
        return Finding(False, "邮箱", exc.message, exc.hint)
    finally:
        if session is not None:
            session.close()


def check_sources(config: Config) -> list[Finding]:
    """Each source's last pass: one that keeps failing is reported even while ``intake run`` looks alive."""
    from intake.service.status import source_health

    findings = []
    for s in source_health(config):
        if s.failing:
            since = f"上次成功：{local_text(s.last_success)}" if s.last_success else "此前从未成功"
            findings.append(Finding(
                False, s.label, f"最近一次失败（{local_text(s.last_failure)}，连续 {s.failures_in_a_row or 1} 次，"
                f"{since}）：{s.last_error or '原因不详'}",
                "程序会自动重试；请按上面的原因处理（详见 data/logs/ 下的日志）。"))
        elif s.last_success is not None:
            findings.append(Finding(True, s.label, f"运行正常，最近一次成功：{local_text(s.last_success)}"))
    return findings


def check_retrying(config: Config) -> list[Finding]:
    """Mails and files that failed and are waiting for another try (see processing.*)."""
    try:
        items = _database(config).claims.failing_items()
    except Exception:   # no database yet, or an old schema: check_database has said so
        return []
    if not items:
        return []
    lines = [f"{one_line(i.source_ref, 120)}：已失败 {i.attempts} 次，下次尝试 {local_text(i.next_at)}"
             f"（{one_line(i.last_error, 200)}）" for i in items[:10]]
    more = f"；另有 {len(items) - 10} 件" if len(items) > 10 else ""
    return [Finding(False, "处理出错的作品", f"{len(items)} 件正在等待重试：" + "；".join(lines) + more,
                    f"程序会自动重试，尝试 {config.processing.max_attempts} 次仍失败的会登记为“待复核”"
                    "（processing_error），不会丢失；如反复出现同一原因，请查看 data/logs/ 下的日志。")]

