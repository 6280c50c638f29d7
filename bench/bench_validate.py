"""Benchmark: `intake validate --no-ocr` on a 110 s 1080p H.264/AAC MP4 of about 300 MB, end to end.

    python bench/bench_validate.py [--work DIR] [--rounds N] [--gop 50|250]

``--gop 250``: the same file with keyframes 250 frames apart (a long-GOP export), where the integrity check's
tail decode must not grow with the GOP.

Each round times, interleaved so that load from elsewhere hits all of them alike:
- baseline: a hashlib SHA-256 read of the file (1 MiB reads, in this process);
- baseline: MediaConch with a policy equivalent to the format checks (only when `mediaconch` is
  installed: `apt-get install mediaconch`; `--Force` so that its report cache is never used);
- intake: a whole `python -m intake validate --no-ocr FILE` process, interpreter start included.
Targets: validate <= 4x the SHA-256 read, and no slower than MediaConch.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import INTAKE, bench_arguments, contest_mp4, ratio, timed, timed_cpu  # noqa: E402
from validators.rules import RulesConfig  # noqa: E402


def sha_read(path: Path) -> None:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)


def mediaconch_policy(rules: RulesConfig) -> str:
    """The format checks as a MediaConch policy: MP4 with an allowed brand, size, duration, both streams, codecs.

    MediaConch 23.03's `!=` fails on every value, so "not QuickTime" is said as "the brand is one we allow".
    """
    def rule(name: str, value: str, track: str, op: str, wanted: str | None = None) -> str:
        op = op.replace("<", "&lt;")
        if wanted is None:
            return f'  <rule name="{name}" value="{value}" tracktype="{track}" occurrence="*" operator="{op}"/>'
        return f'  <rule name="{name}" value="{value}" tracktype="{track}" occurrence="*" operator="{op}">{wanted}</rule>'

    def any_of(name: str, value: str, track: str, choices) -> str:
        inner = "\n".join("  " + rule(c, value, track, "=", c) for c in choices)
        return f'  <policy type="or" name="{name}">\n{inner}\n  </policy>'

    longest_ms = int((rules.max_duration_seconds + rules.duration_grace_seconds) * 1000)
    return "\n".join([
        '<?xml version="1.0"?>',
        '<policy type="and" name="contest format checks">',
        rule("MP4", "Format", "General", "=", "MPEG-4"),
        any_of("brand", "CodecID", "General", [b.strip() for b in rules.allowed_brands]),
        rule("size", "FileSize", "General", "<=", str(rules.max_size_bytes)),
        rule("duration", "Duration", "General", "<=", str(longest_ms)),
        rule("not truncated", "IsTruncated", "General", "must not exist"),
        rule("video", "Format", "Video", "exists"),
        rule("audio", "Format", "Audio", "exists"),
        any_of("video codec", "Format", "Video", rules.video_codecs),
        any_of("audio codec", "Format", "Audio", rules.audio_codecs),
        "</policy>", ""])


def main() -> None:
    args = bench_arguments(rounds=7)
    src = contest_mp4(args.work, gop=args.gop).resolve()
    conch = shutil.which("mediaconch")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(dir=args.work) as d:
        folder = Path(d)
        (folder / "config.yaml").write_text("{}\n")
        policy = folder / "policy.xml"
        policy.write_text(mediaconch_policy(RulesConfig()))
        validate_cmd = INTAKE + ["validate", "--no-ocr", str(src)]
        conch_cmd = [conch, "--Force", "-p", str(policy), str(src)] if conch else None

        def run(cmd: list[str]) -> subprocess.CompletedProcess:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=folder, env=env)

        first = run(validate_cmd)   # also warms the page cache, as every baseline read does
        if first.returncode not in (0, 3):
            sys.exit(f"intake validate failed ({first.returncode}):\n{first.stdout}{first.stderr}")
        if conch_cmd:
            verdict = run(conch_cmd).stdout.split()[:1]
            print(f"MediaConch {verdict[0] if verdict else '?'} on the equivalent policy")
        sha, validate, mediaconch, cpu, conch_cpu = [], [], [], [], []
        for _ in range(args.rounds):
            sha.append(timed(lambda: sha_read(src)))
            wall, used = timed_cpu(lambda: run(validate_cmd))
            validate.append(wall)
            cpu.append(used)
            if conch_cmd:
                wall, used = timed_cpu(lambda: run(conch_cmd))
                mediaconch.append(wall)
                conch_cpu.append(used)

    m = statistics.median
    print(f"file: {src.name} ({src.stat().st_size / 1e6:.0f} MB), {args.rounds} rounds, medians")
    print(f"baseline sha256 read       {m(sha):7.3f} s")
    if mediaconch:
        print(f"baseline MediaConch        {m(mediaconch):7.3f} s   (policy: {policy.name} as written by this bench)")
    else:
        print("baseline MediaConch        not installed here (apt-get install mediaconch); not measured")
    print(f"intake validate --no-ocr   {m(validate):7.3f} s   {ratio(m(validate), m(sha))} of the sha256 read "
          f"(target <= 4x)")
    if mediaconch:
        print(f"                                       {ratio(m(validate), m(mediaconch))} of MediaConch (target <= 1x)")
    print(f"  CPU: validate and its children {m(cpu):.3f} s"
          + (f", MediaConch {m(conch_cpu):.3f} s" if conch_cpu else "") + " (on a busy machine, wall time grows with load)")
    print(f"  all rounds: validate {' '.join(f'{v:.2f}' for v in validate)}"
          + (f"; MediaConch {' '.join(f'{v:.2f}' for v in mediaconch)}" if mediaconch else ""))


if __name__ == "__main__":
    main()
