"""Benchmark: fetch and record a 300 MB mail attachment, against a naive whole-message fetch.

    python bench/bench_mail.py [--mib 299] [--profile FILE]

Starts a throwaway Dovecot (Debian's dovecot-imapd), writes one mail with a ~300 MB MP4
attachment into its maildir, then measures in separate processes, in the same run:
- baseline: a plain imapclient fetch of the whole message (RFC822), the naive way;
- intake: MailPoller.poll_once() (chunked fetch, decode, store, checks, record).
Targets: peak RSS under 150 MB, and time at most 1.5x the baseline.
Both lines also give the CPU their process (and its children: ffmpeg, MediaInfo, OCR) used. Most of the
baseline's is imaplib formatting the 400 MB literal for imapclient's debug logger (see intake/mail/fetch.py).
``--profile FILE`` writes a cProfile of the intake run (open it with pstats) to see where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import ffmpeg, ratio  # noqa: E402
from tests import mails  # noqa: E402
from tests.dovecot import PASSWORD, USER, Dovecot  # noqa: E402

NAIVE = r"""
import json, sys, time
import imapclient
c = imapclient.IMAPClient("127.0.0.1", port=int(sys.argv[1]), ssl=False)
c.login(sys.argv[2], sys.argv[3])
c.select_folder("INBOX", readonly=True)
start = time.perf_counter()
data = c.fetch(c.search(["ALL"]), ["RFC822"])
elapsed = time.perf_counter() - start
size = sum(len(v[b"RFC822"]) for v in data.values())
import resource
cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
          for f in ("ru_utime", "ru_stime"))
print(json.dumps({"seconds": elapsed, "bytes": size, "cpu": cpu, "peak_mb": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024}))
"""

OURS = r"""
import json, time
from pathlib import Path
from intake.config import load_config
from intake.mail.poller import MailPoller
from intake.pipeline.services import open_services
poller = MailPoller(open_services(load_config(Path("config.yaml"))))
start = time.perf_counter()
results = poller.poll_once()
import resource
cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
          for f in ("ru_utime", "ru_stime"))
print(json.dumps({"seconds": time.perf_counter() - start, "results": len(results), "cpu": cpu,
                  "peak_mb": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024}))
"""


def child(code: str, cwd: Path, *args: str, profile: Path | None = None) -> dict:
    if profile:   # cProfile the child as well (its JSON line still comes last on stdout)
        code = f"import cProfile\ncProfile.run({code!r}, {str(profile)!r})\n"
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO), "INTAKE_IMAP_PASSWORD": PASSWORD})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=299)
    parser.add_argument("--profile", type=Path, help="also write a cProfile of the intake run to this file")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="intake-bench-dovecot-"))
    root.chmod(0o755)
    work = Path(tempfile.mkdtemp(prefix="intake-bench-mail-"))
    server = Dovecot(root).start()
    try:
        clip = work / "clip.mp4"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=5", "-f", "lavfi",
               "-i", "sine=duration=5", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip))
        maildir = server.maildir()
        (maildir / "new").mkdir(parents=True, exist_ok=True)
        size = mails.write_big_mail(maildir / "new" / "1700000000.big.host", clip.read_bytes(), args.mib * 1048576)
        for path in [maildir, *maildir.rglob("*")]:
            shutil.chown(path, "nobody", "nogroup")
        (work / "config.yaml").write_text(
            f"mailbox:\n  host: 127.0.0.1\n  port: {server.port}\n  tls: false\n  username: {USER}\n")

        naive = child(NAIVE, work, str(server.port), USER, PASSWORD)
        ours = child(OURS, work, profile=args.profile.resolve() if args.profile else None)
        assert ours["results"] == 1
        print(f"attachment {size / 1048576:.0f} MiB (message {naive['bytes'] / 1048576:.0f} MiB base64)")
        print(f"baseline: imapclient fetch RFC822   {naive['seconds']:7.2f} s   peak RSS {naive['peak_mb']:7.1f} MB"
              f"   CPU {naive['cpu']:6.2f} s (whole process)")
        print(f"intake: chunked fetch+store+checks  {ours['seconds']:7.2f} s   peak RSS {ours['peak_mb']:7.1f} MB"
              f"   CPU {ours['cpu']:6.2f} s (whole process and its children)")
        print(f"time ratio {ratio(ours['seconds'], naive['seconds'])} (target <= 1.5x); "
              f"peak RSS {ours['peak_mb']:.0f} MB (target < 150 MB)")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
