"""One long-lived OCR worker (``validators.ocr_child --serve``) for a service: the models load once, not per video.

Between ``start_service()`` and ``stop_service()`` the frame scan asks it (``current()``). It starts on the
first request and again after it died; it answers one request at a time (its memory is one scan's, not two);
it is replaced after a request that left it above ``MAX_RSS_MB``, and killed by a request that outlives its time.
"""

from __future__ import annotations

import subprocess
import threading

from core.errors import ToolError
from validators import children
from validators.socket_messages import receive, send
from validators.worker_child import WorkerChild, child_env

OCR_HINT = "请运行 intake doctor 检查画面文字识别（RapidOCR）是否可用；也可以用 --no-ocr 跳过画面文字识别。"
MAX_RSS_MB = 250          # a worker holding more than this after a request is replaced
START_SECONDS = 60        # loading the models takes about a second


def ended(code: int, said: str) -> ToolError:
    """Why an OCR child that exited with ``code`` gave no answer (``said``: its last line on stderr)."""
    how = f"异常退出（信号 {-code}）" if code < 0 else f"出错（退出码 {code}）"
    return ToolError(f"画面文字识别程序{how}" + (f"：{said}" if said else ""), OCR_HINT)


class OcrWorker:
    def __init__(self, env: dict[str, str]):
        self._env = env
        self._lock = threading.Lock()
        self._child: WorkerChild | None = None

    @property
    def _proc(self) -> subprocess.Popen | None:
        return self._child.proc if self._child is not None else None

    def ask(self, request: dict, fds: tuple[int, ...], timeout: float) -> dict:
        """The worker's answer to one request; ToolError saying, in Chinese, why there is none."""
        with self._lock:
            if self._child is None or self._child.proc.poll() is not None:
                self._start()
            try:
                with children.tracked(self._child.proc):
                    self._child.sock.settimeout(timeout)
                    send(self._child.sock, request, fds[:1])
                    reply = receive(self._child.sock)
            except (OSError, ValueError) as exc:   # TimeoutError is an OSError
                self.stop(kill=True)
                how = f"超过 {timeout:.0f} 秒没有结束" if isinstance(exc, TimeoutError) else f"无法通信：{exc}"
                raise ToolError(f"画面文字识别程序{how}", OCR_HINT) from exc
            if reply is None:
                raise self._died()
            result, _ = reply
            if result.get("rss_mb", 0) > MAX_RSS_MB:
                self.stop()
            if "error" in result:
                raise ToolError(f"画面文字识别程序出错：{result['error'][:300]}", OCR_HINT)
            return result

    def _start(self) -> None:
        self.stop()
        try:
            self._child = WorkerChild("validators.ocr_child", self._env)
        except OSError as exc:
            raise ToolError(f"无法启动画面文字识别程序：{exc.strerror or exc}", OCR_HINT) from exc
        try:
            with children.tracked(self._child.proc):
                self._child.sock.settimeout(START_SECONDS)
                ready = receive(self._child.sock)
        except (OSError, ValueError):
            ready = None
        if ready is None:
            raise self._died()

    def _died(self) -> ToolError:
        code, said = self._child.exit_code(), self._child.last_words()
        self.stop()
        return ended(code, said)

    def stop(self, kill: bool = False) -> None:
        """End the worker (it starts again on the next request); ``kill`` when it is busy or stuck."""
        child, self._child = self._child, None
        if child is not None:
            child.end(kill)


_service: OcrWorker | None = None
_service_lock = threading.Lock()


def start_service() -> None:
    """From now on, OCR goes to one long-lived worker (started on first use)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = OcrWorker(child_env())   # the environment of its start, for every worker it runs


def stop_service() -> None:
    global _service
    with _service_lock:
        worker, _service = _service, None
    if worker is None:
        return
    if worker._lock.acquire(timeout=5):
        try:
            worker.stop()
        finally:
            worker._lock.release()
    elif worker._proc is not None:   # still busy with a video: the run is over, end it
        children.kill_group(worker._proc)


def current() -> OcrWorker | None:
    return _service
