"""Child process: the text on screen in sampled frames of one video (validators.ocr), as JSON, so that the OCR
runtime's memory and any crash in it stay out of the intake. ``python -m validators.ocr_child REQUEST`` answers
one request on stdout; ``--serve FD`` loads the models once and answers requests on the Unix socket FD.
"""

from __future__ import annotations

import json
import os
import sys
import time

from validators.socket_messages import memory_mb


def lean_malloc() -> None:
    """Hand big freed buffers back to the system at once: glibc would otherwise keep the detector's
    scratch memory of every frame size it saw, and the process would only grow."""
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(-3, 64 * 1024)   # M_MMAP_THRESHOLD; fixed, so glibc stops raising it
    except (OSError, AttributeError):   # not glibc
        pass


def answer(request: dict, fds: tuple[int, ...] = (), reader=None) -> dict:
    """Scan one video as ``request`` says (see validators.frame_scan); ``reader`` None loads the models while
    the first frames decode."""
    from validators.frames import Frames
    from validators.ocr import OpeningSearch, engine, scan

    deadline = time.monotonic() + request["timeout"]
    window = request["window"]
    opening = OpeningSearch(window, request["band"], request["max_errors"]) if window else None
    # "path" may be /proc/self/fd/N for a descriptor this process holds: pass it on, never resolve it.
    with Frames(request["path"], every=request["every"], side=request["side"], timeout=request["timeout"],
                ffmpeg=request["ffmpeg"], input_options=tuple(request["input_options"]), fds=fds,
                until=request["until"], window=window, window_every=request["window_every"]) as frames:
        only_opening = request["until"] is not None
        result = scan(frames, reader or engine(), opening=opening, deadline=deadline, stop_at_phrase=only_opening)
        stopped_early = result["timed_out"] or (only_opening and result["hit"] is not None)
    result.update(errors=frames.errors, returncode=frames.returncode, killed=frames.killed,
                  input_seconds=frames.input_seconds,
                  stopped_early=stopped_early, peak_mb=round(memory_mb("VmHWM"), 1))
    return result


def main(raw: str) -> int:
    lean_malloc()
    request = json.loads(raw)
    json.dump(answer(request, tuple(request.get("fds", ()))), sys.stdout, ensure_ascii=False)
    return 0


def serve(fd: int) -> int:
    import socket

    from validators.ocr import engine
    from validators.socket_messages import receive, send

    lean_malloc()
    with socket.socket(fileno=fd) as sock:
        reader = engine()   # a missing or broken model ends the worker here, its reason on stderr
        send(sock, {"ready": True, "rss_mb": round(memory_mb("VmRSS"), 1)})
        while (message := receive(sock)) is not None:
            request, fds = message
            try:
                if fds:
                    request["path"] = f"/proc/self/fd/{fds[0]}"
                result = answer(request, tuple(fds[:1]), reader)
            except Exception as exc:   # this video's problem, not the worker's: say it and wait for the next
                result = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                for held in fds:
                    os.close(held)
            try:
                reader.release()
            except Exception:   # only memory is at stake, and the parent replaces a worker that holds too much
                pass
            result["rss_mb"] = round(memory_mb("VmRSS"), 1)
            send(sock, result)
    return 0


if __name__ == "__main__":
    try:
        if sys.argv[1] == "--serve":
            sys.exit(serve(int(sys.argv[2])))
        sys.exit(main(sys.argv[1]))
    except Exception as exc:  # the parent reports the last stderr line: make it the reason, not a traceback
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
