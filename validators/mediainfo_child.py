"""Child process: MediaInfo's view of local files as JSON, request after request.

Run as ``python -m validators.mediainfo_child --serve FD`` by validators.mediainfo_pool. Each request
on the Unix socket FD carries the open file's descriptor (never a path); the answer is
``{"facts": {...}}`` or, when MediaInfo could not parse the file, ``{"error": "..."}``, each with the
worker's memory (``rss_mb``) so that the parent can replace a worker that grew. Exit 3 at start-up if
the library is unusable. Only files that passed the box walk reach it.

A crash in the C library (a hostile file) ends this process, not the intake; the parent sees the closed
socket and the exit status.
"""

from __future__ import annotations

import os
import sys

# The tags people write into a file (read for the opening phrase and the secrecy scan) come after the format's fields.
TAGS = ["title", "comment", "description", "movie_name", "track_name", "album", "performer", "composer",
        "copyright", "subject", "keywords", "synopsis"]
GENERAL = ["format", "format_profile", "codec_id", "codecid_compatible", "duration",
           "source_duration", "file_size", "istruncated", *TAGS]
VIDEO = ["format", "codec_id", "width", "height", "duration", "source_duration", "frame_count", "frame_rate"]
AUDIO = ["format", "codec_id", "duration", "source_duration", "channel_s", "sampling_rate"]
TEXT = ["format", "codec_id", "duration", "language", "title"]


def _pick(track, keys):
    return {k: getattr(track, k, None) for k in keys}


def facts_of(media_info, path: str) -> dict:
    """The tracks the checks use, as plain JSON values."""
    info = media_info.parse(path, parse_speed=0)
    out = {"general": {}, "video": [], "audio": [], "text": []}
    for track in info.tracks:
        kind = track.track_type
        if kind == "General":
            out["general"] = _pick(track, GENERAL)
        elif kind == "Video":
            out["video"].append(_pick(track, VIDEO))
        elif kind == "Audio":
            out["audio"].append(_pick(track, AUDIO))
        elif kind == "Text":
            out["text"].append(_pick(track, TEXT))
    return out


def serve(fd: int) -> int:
    import json
    import socket

    from validators.socket_messages import memory_mb, receive, send

    try:
        from pymediainfo import MediaInfo
    except Exception as exc:  # missing wheel
        print(exc, file=sys.stderr)
        return 3
    if not MediaInfo.can_parse():   # a missing libmediainfo shows here, not at the first file
        print("libmediainfo cannot be loaded", file=sys.stderr)
        return 3
    with socket.socket(fileno=fd) as sock:
        while (message := receive(sock)) is not None:
            _, fds = message
            try:
                if not fds:
                    raise ValueError("no file came with the request")
                # default=str: a value MediaInfo gives as something else than text or a number
                result = {"facts": json.loads(json.dumps(facts_of(MediaInfo, f"/proc/self/fd/{fds[0]}"),
                                                         default=str))}
            except Exception as exc:   # this file's problem, not the worker's: say it and wait for the next
                result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            finally:
                for held in fds:
                    os.close(held)
            result["rss_mb"] = round(memory_mb(), 1)
            send(sock, result)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["--serve"] or len(sys.argv) != 3:
        print("usage: python -m validators.mediainfo_child --serve FD", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(int(sys.argv[2])))
