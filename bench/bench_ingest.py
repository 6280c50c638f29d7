"""Benchmark: storing inside a real `intake ingest` of a ~300 MB MP4, against a durable copy, in the same run.

    python bench/bench_ingest.py [--work DIR] [--rounds N]

Each round, interleaved so that load from elsewhere and disk write-back hit all of them alike:
- baseline: a durable copy of the file (shutil.copyfile, then fsync);
- end to end, in a fresh folder whose database is already migrated (`intake migrate`, not timed):
  a whole `python -m intake ingest FILE` process, and a whole `intake validate FILE` process with the
  same config; storing = ingest - validate (OCR is off in both: bench_scan.py measures it);
- in process: the pipeline's stages timed one by one (storing = all stages - inspect_files), for where
  the time goes, and the peak RSS of the ingest;
- once more, the peak RSS of the `intake ingest` process and of the database helper it starts
  (intake/database_process.py: SQLAlchemy loads there, beside the command's own start-up).
Targets: storing end to end <= 1.3x the durable copy; peak memory < 150 MB.
`intake validate` against its own baselines: bench_validate.py.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import INTAKE, bench_arguments, contest_mp4, process_tree_peaks, ratio, timed, timed_cpu  # noqa: E402

CONFIG = "rules:\n  opening:\n    ocr: false\n  sensitive:\n    scan: false\n"
INGEST = ["ingest", "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000"]

# Runs in a fresh process per round so that its peak RSS is the ingest's own.
INGEST_CHILD = r"""
import json, sys, time
from datetime import datetime, timezone
from pathlib import Path
from intake.pipeline import stages as pipeline
from intake.config import load_config
from intake.pipeline.services import open_services
from intake.pipeline.task import MediaTask, SubmissionTask

src = Path(sys.argv[1])
services = open_services(load_config())
task = SubmissionTask(source="cli", received_at=datetime.now(timezone.utc), unit="柳南区", contact="张三",
                      phone="13800138000", files=[MediaTask(source_path=src, original_name=src.name)])
times = {}
for stage in pipeline.STAGES:
    start = time.perf_counter()
    stage(task, services)
    times[stage.__name__] = time.perf_counter() - start
print(json.dumps({"total": sum(times.values()), "validate": times["inspect_files"], "outcome": task.outcome.value,
                  "stages": times,
                  "peak_rss_mb": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024}))
"""


def durable_copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with dst.open("rb+") as fh:
        os.fsync(fh.fileno())
    dst.unlink()


def fresh_folder(work: Path) -> tempfile.TemporaryDirectory:
    """A folder with the bench's config.yaml and an up-to-date database."""
    folder = tempfile.TemporaryDirectory(dir=work)
    Path(folder.name, "config.yaml").write_text(CONFIG)
    intake(folder.name, "migrate")
    return folder


def intake(cwd: str, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run(INTAKE + list(args), cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    if out.returncode not in (0, 3):
        sys.exit(f"intake {args[0]} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out


def stages_once(src: Path, work: Path) -> dict:
    with fresh_folder(work) as d:
        out = subprocess.run([sys.executable, "-c", INGEST_CHILD, str(src)], cwd=d, check=True,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        return json.loads(out.stdout)


def ingest_tree_peak(src: Path, work: Path) -> tuple[float, float]:
    """(the peak RSS of the `intake ingest` process, of its database helper), in MB, in one more run."""
    with fresh_folder(work) as d:
        proc = subprocess.Popen(INTAKE + INGEST + [str(src)], cwd=d, stdout=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        with process_tree_peaks(proc.pid) as peaks:
            proc.wait()
    ingest = max((mb for argv, mb in peaks.values() if b"intake" in argv and b"ingest" in argv), default=0.0)
    helper = max((mb for argv, mb in peaks.values() if any(b"intake.database_process" in a for a in argv)),
                 default=0.0)
    return ingest, helper


def main() -> None:
    args = bench_arguments(rounds=5)
    src = contest_mp4(args.work).resolve()
    print(f"file: {src.name} ({src.stat().st_size / 1e6:.0f} MB), {args.rounds} rounds, medians")

    copy, ingest, validate, stages, cpu = [], [], [], [], []
    for _ in range(args.rounds):
        copy.append(timed(lambda: durable_copy(src, args.work / "copy.tmp")))
        with fresh_folder(args.work) as d:
            wall_i, cpu_i = timed_cpu(lambda: intake(d, *INGEST, str(src)))
            wall_v, cpu_v = timed_cpu(lambda: intake(d, "validate", str(src)))
        ingest.append(wall_i)
        validate.append(wall_v)
        cpu.append((cpu_i, cpu_v))
        stages.append(stages_once(src, args.work))

    m = statistics.median
    copy_s, ingest_s, validate_s = m(copy), m(ingest), m(validate)
    storing = m(i - v for i, v in zip(ingest, validate))
    print(f"baseline durable copy        {copy_s:7.3f} s")
    print(f"intake ingest (process)      {ingest_s:7.3f} s")
    print(f"intake validate (process)    {validate_s:7.3f} s")
    print(f"storing = ingest - validate  {storing:7.3f} s   {ratio(storing, copy_s)} of the durable copy "
          "(target <= 1.3x)")
    print(f"  CPU of the processes: ingest {m(c for c, _ in cpu):.3f} s, validate {m(v for _, v in cpu):.3f} s "
          "(on a busy machine, wall time grows with load)")
    print(f"  all rounds: ingest {' '.join(f'{v:.2f}' for v in ingest)}; validate "
          f"{' '.join(f'{v:.2f}' for v in validate)}; copy {' '.join(f'{v:.2f}' for v in copy)}")
    in_process = m(r["total"] - r["validate"] for r in stages)
    print(f"in process: stages but inspect_files {in_process:6.3f} s   {ratio(in_process, copy_s)} of the durable copy")
    for name in stages[0]["stages"]:
        times = [r["stages"][name] for r in stages]
        if max(times) >= 0.001:
            print(f"    {name:24} {m(times):7.3f} s")
    peak = max(r["peak_rss_mb"] for r in stages)
    print(f"peak RSS of the ingest     {peak:7.1f} MB  (in process; target < 150 MB; ffmpeg/MediaInfo run in "
          "child processes)")
    process, helper = ingest_tree_peak(src, args.work)
    print(f"peak RSS of `intake ingest` {process:6.1f} MB, of its database helper {helper:.1f} MB")


if __name__ == "__main__":
    main()
