"""Child process: print MediaInfo's view of one local file as JSON.

Run as ``python -m validators.mediainfo_child PATH``. Exit 3 if the library is
unusable, 2 if parsing failed. Only reached by files that passed the box walk.
"""

from __future__ import annotations

import json
import sys

GENERAL = ["format", "format_profile", "codec_id", "codecid_compatible", "duration",
           "source_duration", "file_size", "istruncated", "title", "comment", "description"]
VIDEO = ["format", "codec_id", "width", "height", "duration", "source_duration", "frame_count", "frame_rate"]
AUDIO = ["format", "codec_id", "duration", "source_duration", "channel_s", "sampling_rate"]
TEXT = ["format", "codec_id", "duration", "language", "title"]


def _pick(track, keys):
    return {k: getattr(track, k, None) for k in keys}


def main(path: str) -> int:
    try:
        from pymediainfo import MediaInfo
    except Exception as exc:  # missing wheel or missing libmediainfo
        print(exc, file=sys.stderr)
        return 3
    try:
        info = MediaInfo.parse(path, parse_speed=0)
    except Exception as exc:
        print(exc, file=sys.stderr)
        return 2
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
    json.dump(out, sys.stdout, ensure_ascii=False, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
