"""``intake service install``: the systemd unit that keeps ``intake run`` going with the current config.

``plan_unit`` decides the unit's text and place and writes nothing; ``write_unit`` writes it. Every path is
absolute; exit 2 (a config error needs a person) is not restarted; hardening never keeps the job from writing
its data. Secrets never go in: they come from an optional ``EnvironmentFile=-``, so the job starts without one.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shlex
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import IntakeError, UsageError
from intake.config import Config, sqlite_file

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
MARKER = "# 由 intake service install 生成"
ENV_FILE_NAME = "intake.env"
RESTART_SECONDS = 10
STOP_SECONDS = 60
# ProtectSystem=full makes these read-only; a path of ours below one of them is opened again.
READ_ONLY_UNDER = (Path("/usr"), Path("/boot"), Path("/efi"), Path("/etc"))
TEMP_FOLDERS = (Path("/tmp"), Path("/var/tmp"))
UNIT_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")
CONTROLS = re.compile(r"[\x00-\x1f\x7f]")

# Hardening that needs no namespaces: it works in a user's own service manager too.
SECCOMP_HARDENING = ("NoNewPrivileges=yes", "RestrictSUIDSGID=yes", "RestrictRealtime=yes", "RestrictNamespaces=yes",
                     "LockPersonality=yes", "SystemCallArchitectures=native")
SYSTEM_HARDENING = ("ProtectSystem=full", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
                    "ProtectKernelLogs=yes", "ProtectControlGroups=yes")


@dataclass(frozen=True)
class UnitSpec:
    """Everything the unit's text depends on (``render_unit`` is a pure function of it)."""

    command: tuple[str, ...]            # ExecStart=, absolute
    working_dir: Path
    user_scope: bool                    # a user's own unit (~/.config/systemd/user) rather than a system one
    run_as: str | None = None           # User= of a system unit; None: root
    env_file: Path | None = None        # EnvironmentFile= (only when a secret comes from the environment)
    secrets: tuple[str, ...] = ()       # the variables expected there, named in a comment
    writable: tuple[Path, ...] = ()     # what the job writes: data, store, inbox, done/, the SQLite folder
    involved: tuple[Path, ...] = ()     # every path it reads or writes (to decide PrivateTmp=)


@dataclass(frozen=True)
class UnitPlan:
    spec: UnitSpec
    name: str                           # intake.service
    path: Path                          # where the unit goes
    text: str
    config_file: Path | None            # None: the built-in defaults
    env_file_exists: bool = False
    notes: list[str] = field(default_factory=list)   # what the person installing should know (Chinese)


def user_unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def unit_file_name(name: str) -> str:
    name = name.removesuffix(".service")
    if not UNIT_NAME.match(name):
        raise UsageError(f"服务名称“{name}”无效。", "只能用字母、数字、点、下划线和连字符，如 intake 或 intake-2024。")
    return f"{name}.service"


def is_root() -> bool:
    return os.geteuid() == 0


def current_user() -> str:
    return _user_name(os.geteuid())


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def intake_command() -> tuple[str, ...]:
    """The absolute command of this installation: the venv's ``intake`` beside its python, else ``python -m intake``."""
    # abspath, not resolve: a venv's python is a link to the system's, and the venv is what has our packages.
    python = Path(os.path.abspath(sys.executable))
    beside = python.parent / "intake"
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside),)
    return (str(python), "-m", "intake")


def secret_variables(config: Config) -> tuple[str, ...]:
    """The environment variables the job reads a password from (those with no ``password_file`` instead)."""
    mailbox, receipts = config.mailbox, config.mailbox.receipts
    names = []
    if mailbox.enabled and mailbox.password_file is None:
        names.append(mailbox.password_env)
    if mailbox.enabled and receipts.enabled and receipts.password_file is None:
        names.append(receipts.password_env)
    return tuple(dict.fromkeys(names))


def default_run_as(working_dir: Path) -> str:
    """Who a system unit runs as: the user behind sudo, else the owner of the working folder."""
    behind_sudo = os.environ.get("SUDO_USER")
    if behind_sudo and behind_sudo != "root":
        return behind_sudo
    try:
        return _user_name(working_dir.stat().st_uid)
    except OSError:
        return current_user()


def plan_unit(config: Config, *, user_scope: bool, name: str = "intake", output: Path | None = None,
              env_file: Path | None = None, run_as: str | None = None) -> UnitPlan:
    """The unit for ``intake run`` with ``config``; UsageError for a name, user or path a unit cannot hold."""
    file_name = unit_file_name(name)
    config_file = Path(os.path.abspath(config.source)) if config.source else None
    working_dir = config_file.parent if config_file else Path.cwd()
    command = intake_command() + ((("--config", str(config_file)) if config_file else ()) + ("run",))
    secrets = secret_variables(config)
    env = Path(os.path.abspath(env_file)) if env_file else (working_dir / ENV_FILE_NAME if secrets else None)
    who = None
    if not user_scope:
        who = run_as or default_run_as(working_dir)
        try:
            pwd.getpwnam(who)
        except KeyError:
            raise UsageError(f"没有用户“{who}”。", "请用 --run-as 指定运行服务的系统用户（通常是存放数据的那个用户）。") from None
    writable = _writable(config)
    involved = (*writable, working_dir, Path(command[0]), *([config_file] if config_file else []),
                *([env] if env else []), *secret_files(config),
                *([config.rules.opening.speech_model] if config.rules.opening.speech_model else []))
    spec = UnitSpec(command, working_dir, user_scope, None if who == "root" else who, env, secrets,
                    writable, involved)
    path = Path(os.path.abspath(output)) if output else (user_unit_dir() if user_scope else SYSTEM_UNIT_DIR) / file_name
    notes = [] if user_scope or who == "root" else unwritable_notes(who, config)
    if not user_scope and who == "root":
        notes.append("服务将以 root 身份运行。建议用 --run-as 指定存放数据的普通用户。")
    if config_file is None:
        notes.append(f"未找到 config.yaml：服务使用内置默认配置，数据都在 {working_dir} 下。")
    return UnitPlan(spec, file_name, path, render_unit(spec), config_file, bool(env and env.is_file()), notes)


def unwritable_notes(user: str, config: Config) -> list[str]:
    """A note when ``user`` could not write a folder the job writes, by the permission bits (the service would
    start and then fail): which folders, whose they are, and the command that mends it."""
    account = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, account.pw_gid))
    labels = {config.storage.data_dir: "数据目录", config.storage.root: "文件库", config.watch.inbox: "投递文件夹",
              config.watch.done: "处理结果文件夹"}
    blocked: dict[Path, list[str]] = {}
    for path in _writable(config):
        stop = _first_refusal(Path(os.path.abspath(path)), account.pw_uid, groups)
        if stop is not None:
            blocked.setdefault(stop, []).append(labels.get(path, "数据库所在文件夹"))
    if not blocked:
        return []
    shown = []
    for folder, needed in blocked.items():
        st = folder.stat()
        shown.append(f"{folder}（{'、'.join(dict.fromkeys(needed))}；所有者 {_user_name(st.st_uid)}，"
                     f"权限 {stat.filemode(st.st_mode)}）")
    roots = [f for f in blocked if not any(other in f.parents for other in blocked)]   # chown -R covers the rest
    mend = shlex.join(["sudo", "chown", "-R", user, *map(str, roots)])
    return [f"用户 {user} 无法写入服务要写的文件夹：{'、'.join(shown)}，服务启动后会出错。"
            f"请运行 {mend}，或用 --run-as 指定能写入这些文件夹的用户。"]


def _first_refusal(path: Path, uid: int, groups: set[int]) -> Path | None:
    """The folder that keeps ``uid`` from writing ``path`` (or creating it), or None when nothing does: each
    folder on the way must let it pass (x), and the deepest one that exists must also let it write (w)."""
    if uid == 0:
        return None
    existing = [p for p in (*reversed(path.parents), path) if p.exists()]
    for index, folder in enumerate(existing):
        need = os.X_OK | (os.W_OK if index == len(existing) - 1 else 0)
        st = folder.stat()
        shift = 6 if st.st_uid == uid else 3 if st.st_gid in groups else 0   # owner, group or other bits
        if (st.st_mode >> shift) & need != need:
            return folder
    return None


def _writable(config: Config) -> tuple[Path, ...]:
    paths = [config.storage.data_dir, config.storage.root, config.watch.inbox, config.watch.done]
    database = sqlite_file(config.database.url)
    if database is not None:
        paths.append(database.parent)   # the journal and WAL files live beside the database
    return tuple(dict.fromkeys(paths))


def _under(path: Path, folders: tuple[Path, ...]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def render_unit(spec: UnitSpec) -> str:
    """The unit file's text."""
    lines = [f"{MARKER}；修改配置后重新运行该命令即可更新本文件。",
             "# 授权码等密码不写在本文件中。", "", "[Unit]", "Description=柳州市微视频作品接收（intake run）"]
    if not spec.user_scope:   # a user's own manager has no network-online.target
        lines += ["Wants=network-online.target", "After=network-online.target"]
    lines += ["", "[Service]", "Type=simple"]
    if spec.run_as:
        lines.append(f"User={_value(spec.run_as)}")
    lines.append(f"WorkingDirectory={_value(str(spec.working_dir), folder=True)}")
    lines.append("ExecStart=" + " ".join(_exec_word(word) for word in spec.command))
    if spec.env_file:
        lines.append(f"# 从下面的文件读取 {'、'.join(spec.secrets) or '环境变量'}（每行一个“名称=值”，权限 600）；"
                     "文件不存在时服务照样启动，只是邮箱暂不接收")
        lines.append(f"EnvironmentFile=-{_value(str(spec.env_file))}")
    lines += ["Environment=PYTHONUNBUFFERED=1 PYTHONUTF8=1",
              "# 新建的数据库、作品文件、日志和结果说明只有运行服务的用户（及其用户组）可读。",
              "UMask=0027",
              "Restart=on-failure", f"RestartSec={RESTART_SECONDS}",
              "# 退出码 2 是配置或用法错误：重启也无济于事，请修改配置后再启动。",
              "RestartPreventExitStatus=2",
              "# 只向主进程发 SIGTERM：它会结束自己的 ffmpeg 子进程，未处理完的文件留待下次。",
              "KillMode=mixed", f"TimeoutStopSec={STOP_SECONDS}", *SECCOMP_HARDENING]
    if not spec.user_scope:
        lines += SYSTEM_HARDENING
        reopened = [p for p in spec.writable if _under(p, READ_ONLY_UNDER)]
        if reopened:
            lines.append("ReadWritePaths=" + " ".join(_exec_word("-" + str(p)) for p in reopened))
        if any(_under(p, TEMP_FOLDERS) for p in spec.involved):
            lines.append("# PrivateTmp 未启用：配置中有路径位于 /tmp 下。")
        else:
            lines.append("PrivateTmp=yes")
    lines += ["", "[Install]", f"WantedBy={'default.target' if spec.user_scope else 'multi-user.target'}", ""]
    return "\n".join(lines)


def _checked(text: str) -> str:
    if CONTROLS.search(text):
        raise UsageError(f"路径或名称中有换行等控制字符，无法写入服务文件：{text!r}", "请换一个不含控制字符的路径。")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:   # a path whose bytes are not UTF-8 (surrogate escapes): systemd reads UTF-8 only
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError(f"路径中有不是 UTF-8 编码的字符，无法写入服务文件：{shown}",
                         "请把项目文件夹改成只含正常中英文字符的名称后再安装。") from None
    return text


def _value(text: str, folder: bool = False) -> str:
    """A setting's value: % doubled so that systemd does not read it as a specifier.

    A unit line ending in a backslash continues on the next (a folder named 报送\\ swallowed ExecStart=): a
    folder then gets a "/", which systemd drops; any other value so ended is refused (UsageError, exit 2).
    """
    text = _checked(text).replace("%", "%%")
    if text.endswith("\\"):
        if folder:
            return text + "/"
        raise UsageError(f"路径以反斜杠“\\”结尾，写进服务文件会与下一行连在一起：{text}",
                         "请换一个不以“\\”结尾的文件名。")
    return text


def _exec_word(word: str) -> str:
    """One word of ExecStart= (or a path list): quoted when it holds a space or quote; % and $ doubled."""
    text = _checked(word).replace("%", "%%").replace("$", "$$")
    if not text or re.search(r"[\s\"'\\;]", text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def write_unit(plan: UnitPlan, force: bool = False) -> bool:
    """Write the unit (atomically, mode 644); False when it was already this. Another's file needs ``force``."""
    try:
        old = plan.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = None
    except (OSError, UnicodeDecodeError) as exc:
        old = f"unreadable: {exc}"
    if old == plan.text:
        return False
    if old is not None and MARKER not in old and not force:
        raise UsageError(f"{plan.path} 已存在，且不是 intake service install 写的。",
                         "请确认后加 --force 覆盖，或用 --name 换一个服务名称。")
    data = plan.text.encode("utf-8")   # before any file is made: render_unit refused what cannot be encoded
    temp = None
    try:
        plan.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=plan.path.parent, prefix=f".{plan.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, plan.path)
        temp = None
    except OSError as exc:
        raise IntakeError(f"无法写入服务文件 {plan.path}：{exc.strerror or exc}",
                          "请检查该文件夹的权限；也可以用 --print 打印内容后手工保存。") from exc
    finally:
        if temp is not None:   # whatever went wrong, no half-written .intake.service.XXXX stays behind
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return True


def secret_files(config: Config) -> tuple[Path, ...]:
    """The files the config reads a password from (``mailbox.password_file``, ``mailbox.receipts.password_file``)."""
    found = (config.mailbox.password_file, config.mailbox.receipts.password_file)
    return tuple(dict.fromkeys(p for p in found if p is not None))


def env_file_too_open(path: Path) -> bool:
    """True if anyone but its owner may read or write a file that holds passwords (it should be 600)."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False
