"""Child process: OCR the caption band of one local MP4 until the opening phrase shows up; print JSON.

Run by validators.opening so that the OCR runtime's memory (hundreds of MB on 1080p input) and any
crash in it stay out of the long-running intake process. Argument: one JSON object.
"""

from __future__ import annotations

import json
import sys
import time


def main(raw: str) -> int:
    from validators.ocr import caption_frames, ocr_captions
    from validators.phrase import find_phrase

    args = json.loads(raw)
    deadline = time.monotonic() + args["timeout"]
    # "path" may be /proc/self/fd/N for a descriptor this process inherited: pass it on, never resolve it.
    frames = caption_frames(args["path"], args["width"], args["height"], args["scan_seconds"], args["fps"],
                            args["band"], args["out_width"], args["timeout"], tuple(args.get("fds", ())))
    lines: list[tuple[float, str]] = []
    hit = None
    for seconds, found in ocr_captions(frames, deadline):
        lines += [(seconds, line) for line in found if not lines or line != lines[-1][1]]
        # a phrase may run over the last few caption lines
        match = find_phrase("\n".join(text for _, text in lines[-6:]), args["max_errors"])
        if match:
            hit = {"speaker": match.speaker, "topic": match.topic, "errors": match.errors,
                   "matched": match.matched, "seconds": seconds}
            break
    json.dump({"lines": lines, "hit": hit}, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except Exception as exc:  # the parent reports the last stderr line: make it the reason, not a traceback
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
