"""The database in a helper process that starts with the command: for `intake ingest`.

Loading SQLAlchemy and the models costs about 0.3 s of CPU, as much as copying a 300 MB video. On a
helper thread (services.DatabaseOpening) it competes for the GIL and for the two cores with the
copy, the hash and the checks. The command's own start-up (click, the config, the checks' modules)
keeps one core busy and leaves the other idle: a process started before it loads SQLAlchemy there,
and the copy and the checks then run as if there were no database at all.

The helper only loads modules until the parent names the database (``start``, once the copies are
made, as on the thread); it then opens it and answers the parent's calls. A call travels as its
method name and arguments, pickled over a private socket pair; a callable argument (the duplicate
callback of ``add_submission``) stays in the parent and is called back from inside the helper's
transaction. The helper's exceptions are raised in the parent as they are. The helper ends when
the parent closes its end (or dies). Anything unusual at start (no helper could start) falls back
to the thread.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

from core.errors import DatabaseError

HEADER = 8
PR_SET_PDEATHSIG = 1   # linux/prctl.h
# The helper's command: `-P` and the folder this package was imported from, so that it imports the parent's
# code and never a module lying in the folder it was started in (a clerk's folder of handed-in files).
HELPER_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "from intake.database_process import helper_main; helper_main(int(sys.argv[2]), int(sys.argv[3]))")
HELPER_ENDED = ("数据库辅助进程意外退出，本次登记没有完成。", "请重新运行同一命令；如反复出现，请查看日志并联系维护人员。")
_early: "DatabaseHelper | None" = None


@dataclass(frozen=True)
class Callback:
    """Stands in for the parent's ``index``-th callable argument of one call."""

    index: int


def send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(len(data).to_bytes(HEADER, "big") + data)


def receive(sock: socket.socket) -> Any | None:
    """The next message; None once the other side has closed."""
    header = _exactly(sock, HEADER)
    if header is None:
        return None
    data = _exactly(sock, int.from_bytes(header, "big"))
    return None if data is None else pickle.loads(data)   # noqa: S301 (our own child, on a private socket pair)


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def start_early() -> None:
    """Start the helper for this command (intake.entry decides which commands get one)."""
    global _early
    if _early is None:
        try:
            _early = DatabaseHelper.launch()
        except Exception:  # noqa: BLE001 (no process to spare, no interpreter to name: the thread will do)
            _early = None
        else:
            atexit.register(_early.close)


def take_early() -> "DatabaseHelper | None":
    """The helper started for this command, once (a second caller opens its own database)."""
    global _early
    helper, _early = _early, None
    return helper


class DatabaseHelper:
    """The parent's side: the interface of services.DatabaseOpening (``start``, ``opened``, the Database's methods)."""

    def __init__(self, process, sock: socket.socket):
        self._process = process
        self._sock = sock
        self._lock = threading.Lock()
        self._address: dict[str, Any] | None = None
        self._state: str | BaseException = "loading"   # then "asked", "open" or the opening's error

    @classmethod
    def launch(cls) -> "DatabaseHelper":
        import subprocess

        parent, child = socket.socketpair()
        try:
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            process = subprocess.Popen([sys.executable, "-P", "-c", HELPER_CODE, root, str(child.fileno()),
                                        str(os.getpid())],
                                       pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        return cls(process, parent)

    def name(self, address: dict[str, Any]) -> None:
        """The database to open when ``start`` is called (``open_database_at``'s arguments): the parent's
        config decides, never the helper's."""
        self._address = dict(address)

    def start(self) -> None:
        with self._lock:
            if self._state == "loading":
                self._send(("open", self._address))
                self._state = "asked"

    def opened(self) -> "DatabaseHelper":
        self.start()
        with self._lock:
            if self._state == "asked":
                reply = self._receive()
                self._state = "open" if reply[0] == "open" else reply[1]
        if isinstance(self._state, BaseException):
            raise self._state
        return self

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, args, kwargs)

        call.__name__ = name
        return call

    def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        self.opened()
        callbacks: list[Callable[..., Any]] = []

        def stand_in(value: Any) -> Any:
            if callable(value):
                callbacks.append(value)
                return Callback(len(callbacks) - 1)
            return value

        with self._lock:
            self._send(("call", name, tuple(map(stand_in, args)), {k: stand_in(v) for k, v in kwargs.items()}))
            while True:
                kind, *rest = self._receive()
                if kind == "return":
                    return rest[0]
                if kind == "raise":
                    raise rest[0]
                index, call_args = rest   # "callback": the helper, inside its transaction, asks us
                try:
                    answer = ("return", callbacks[index](*call_args))
                except BaseException as exc:  # noqa: BLE001 (raised in the helper, and back here from it)
                    answer = ("raise", _portable(exc, "the command's callback"))   # else the helper waits on
                self._send(answer)

    def _send(self, message: Any) -> None:
        try:
            send(self._sock, message)
        except OSError as exc:
            raise DatabaseError(*HELPER_ENDED) from exc

    def _receive(self) -> tuple:
        try:
            message = receive(self._sock)
        except OSError as exc:
            raise DatabaseError(*HELPER_ENDED) from exc
        if message is None:
            raise DatabaseError(*HELPER_ENDED)
        return message

    def close(self) -> None:
        """End the helper: at once if it was never asked to open the database (the command failed before it
        needed one), else once it has finished what it is doing (a transaction is never cut short by us)."""
        self._sock.close()
        if self._state == "loading":
            self._process.kill()
        try:
            self._process.wait(timeout=30)
        except Exception:  # noqa: BLE001 (stuck: it must not outlive us)
            self._process.kill()
            self._process.wait()


def serve(sock: socket.socket, parent: int) -> None:
    """The helper's side: load the database's modules now, open it when asked, then answer calls."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle; we end when it closes
    _end_with_parent(parent)
    from core.terminal_log import setup_cli_logging
    from storage.database import open_database_at   # the slow part, done while the parent starts up

    setup_cli_logging()
    request = receive(sock)
    if request is None:
        return   # the command ended before it needed the database
    _, address = request
    try:
        db = open_database_at(**address)
    except BaseException as exc:  # noqa: BLE001 (the parent raises it)
        send(sock, ("failed", _portable(exc)))
        return
    send(sock, ("open",))
    while (request := receive(sock)) is not None:
        _, name, args, kwargs = request
        args = tuple(_caller(sock, a) for a in args)
        kwargs = {k: _caller(sock, v) for k, v in kwargs.items()}
        try:
            reply = ("return", getattr(db, name)(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 (the parent raises it)
            reply = ("raise", _portable(exc))
        send(sock, reply)


def _end_with_parent(parent: int) -> None:
    """Ask Linux to end us when the parent dies: a parent killed (-9) while we wait on a database server
    that never answers would otherwise leave us waiting under init. Elsewhere, the closed socket ends us."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(0)   # it died before we asked: what it sent, nobody waits for


def _caller(sock: socket.socket, value: Any) -> Any:
    """A function that calls the parent's callable ``value`` stands in for; any other value as it is."""
    if not isinstance(value, Callback):
        return value

    def call_parent(*args: Any) -> Any:
        send(sock, ("callback", value.index, args))
        kind, result = receive(sock) or ("raise", DatabaseError(*HELPER_ENDED))
        if kind == "raise":
            raise result
        return result

    return call_parent


def _portable(exc: BaseException, side: str = "the database helper process") -> BaseException:
    """``exc`` if it survives pickling, else a DatabaseError that says what it was; either way with its
    traceback as a note (pickling drops tracebacks: the other side's log would show only its own frames)."""
    import traceback

    where = f"Raised in {side}:\n" + "".join(traceback.format_exception(exc)).rstrip()
    try:
        exc.add_note(where)
        pickle.loads(pickle.dumps(exc))   # noqa: S301 (our own object)
        return exc
    except Exception:  # noqa: BLE001
        stand_in = DatabaseError(f"数据库操作失败：{type(exc).__name__}: {exc}", None)
        stand_in.add_note(where)
        return stand_in


def helper_main(fd: int, parent: int) -> None:
    connection = socket.socket(fileno=fd)
    try:
        serve(connection, parent)
    except OSError:
        pass   # the parent went away (killed, or interrupted before our answer): nobody is left to answer
    finally:
        connection.close()
        sys.stderr.flush()
    # Replies are sent and every transaction is committed or rolled back: tearing down the loaded
    # modules would only keep the parent, which waits for us as it exits, waiting longer.
    os._exit(0)
