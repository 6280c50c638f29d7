"""Child process (``python -m validators.mediainfo_child /proc/self/fd/N``): MediaInfo's view of one file as JSON,
``{"facts": {...}}`` or ``{"error": "..."}``; exit 3 if the library is unusable. A crash in the C library (a
hostile file) ends this process, not the intake.
"""

from __future__ import annotations

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
    # Given as an open file, not its name: a name without an extension (``/proc/self/fd/N``) sends MediaInfo
    # through format guesses that took 0.2-0.4 s on a 43 MB MP4, against 8 ms read from the open file, with the
    # same facts (compared on MP4, MOV, MKV, HEVC, truncated and mislabelled files).
    with open(path, "rb") as opened:
        info = media_info.parse(opened, parse_speed=0)
    out = {"general": {}, "video": [], "audio": [], "text": []}
    lists = {"Video": VIDEO, "Audio": AUDIO, "Text": TEXT}
    for track in info.tracks:
        if track.track_type == "General":
            out["general"] = _pick(track, GENERAL)
        elif track.track_type in lists:
            out[track.track_type.lower()].append(_pick(track, lists[track.track_type]))
    return out


def main(path: str) -> int:
    import json

    try:
        from pymediainfo import MediaInfo
    except Exception as exc:  # missing wheel
        print(exc, file=sys.stderr)
        return 3
    if not MediaInfo.can_parse():   # a missing libmediainfo shows here, not as a verdict on the file
        print("libmediainfo cannot be loaded", file=sys.stderr)
        return 3
    try:
        # default=str: a value MediaInfo gives as something else than text or a number
        result = {"facts": json.loads(json.dumps(facts_of(MediaInfo, path), default=str))}
    except Exception as exc:   # the file's problem: said as the answer
        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m validators.mediainfo_child /proc/self/fd/N", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
