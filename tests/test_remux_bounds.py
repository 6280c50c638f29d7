"""The lossless remux against hostile files and a full disk (issue 23, items 12 and 13): a Matroska track with
header stripping and a QuickTime sample table that lists one frame many times made small files into huge MP4s
that filled the store; the copy is now bounded and such files are refused. A store that fills up during a
remux is our fault, not the sender's: the item waits and is tried again, and `intake recheck` tries again a
conversion that failed before. Real ffmpeg-made files, the real commands, a real full file system (tmpfs)."""

from __future__ import annotations

from core.errors import OutputTooLarge
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import media
from tests.cli import INTAKE, listing, run
from tests.configs import add_config
from tests.conftest import require_tool
from tests.folders import write_folder_config
from validators.opened import OpenedFile
from validators.remux import output_cap, probe_streams, remux_to_mp4

GROWN_BY = 20   # the attack files: a plain copy is at least this many times larger than the file


@pytest.fixture(scope="module")
def hostile(ffmpeg_bin, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile")
    return {"stripped": media.header_stripped_mkv(d / "作品.mkv"), "repeated": media.repeated_frame_mov(d / "作品.mov"),
            "mov": media.clip(d / "正常.mov", 2, fmt="mov", size="160x120", rate=10)}


def plain_copy_size(source: Path, tmp_path: Path) -> int:
    """What ffmpeg's own copy into an MP4 makes of ``source`` (the attack, without our bounds)."""
    out = tmp_path / "plain.mp4"
    media.ffmpeg("-i", str(source), "-c", "copy", "-f", "mp4", str(out))
    return out.stat().st_size


def store_files(workdir: Path) -> list[Path]:
    return [p for p in (workdir / "data" / "store").rglob("*") if p.is_file() and "thumbs" not in p.parts]


@pytest.mark.parametrize("name, why", [
    ("stripped", "其中的音视频轨道使用了 Matroska 的内容编码（如头部剥离、zlib 压缩），转换时数据会成倍放大，不能无损转换"),
    ("repeated", "文件的样本表反复引用同一段数据（样本合计 4.5 MB，而文件只有 117.5 KB），转换时数据会成倍放大，不能无损转换")])
def test_a_file_that_would_repeat_its_bytes_is_not_copied(workdir, hostile, tmp_path, name, why):
    source = hostile[name]
    assert plain_copy_size(source, tmp_path) > GROWN_BY * source.stat().st_size   # the attack is real
    out = run("ingest", source, "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000")
    assert out.returncode == 4, out.output
    [work] = listing()
    [container] = [c for c in work["checks"] if c["id"] == "container"]
    assert container["status"] == "fail" and why in container["message"]
    # the original is kept as evidence, as always; nothing larger than it was written
    assert [p.stat().st_size for p in store_files(workdir)] == [source.stat().st_size]
    assert work["files"][0]["repair"] is None


def test_the_copy_itself_stops_at_its_cap(hostile, tmp_path):
    """Past the checks above (a trick they do not know), ffmpeg's -fs stops the copy at about twice its source."""
    source = hostile["stripped"]
    with OpenedFile.open(source) as opened:
        streams = probe_streams(opened, "mkv", 30)
        with pytest.raises(OutputTooLarge):
            remux_to_mp4(opened, "mkv", streams, tmp_path / "capped.mp4", 30, max_size=300 * 1024 * 1024)
    made = (tmp_path / "capped.mp4").stat().st_size
    assert made < 2 * source.stat().st_size + 2 * 1024 * 1024 < plain_copy_size(source, tmp_path) / 4
    # a large source is bounded by the size limit instead: a copy stops soon past what would be refused anyway
    limit = 300 * 1024 * 1024
    assert output_cap(250 * 1024 * 1024, limit, None) == limit + 16 * 1024 * 1024


def full_store_run(workdir: Path, store_bytes: int) -> subprocess.CompletedProcess:
    """`intake run --once` with the store on a file system of ``store_bytes`` (tmpfs, in a mount namespace of its
    own: nothing is mounted for anyone else)."""
    require_tool("unshare")
    store = workdir / "data" / "store"
    store.mkdir(parents=True, exist_ok=True)
    script = 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"'
    out = subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(store_bytes),
                          str(store), *INTAKE, "run", "--once"], cwd=workdir, capture_output=True, text=True,
                         timeout=300)
    if "mount" in out.stderr and ("ermission" in out.stderr or "not permitted" in out.stderr):
        pytest.skip(f"no private tmpfs here: {out.stderr.strip()}")
    return out


def test_a_full_store_during_a_remux_is_waited_out_not_blamed_on_the_sender(workdir, hostile):
    write_folder_config(workdir)
    inbox = workdir / "inbox"
    inbox.mkdir()
    dropped = inbox / "融安县-覃六-13800138006-守护秘密.mov"
    shutil.copy(hostile["mov"], dropped)
    # room for the file as it came, not for its MP4 copy
    room = -(-(dropped.stat().st_size + 8 * 1024) // 4096) * 4096
    out = full_store_run(workdir, room)
    assert "无损转换时文件库所在的磁盘出错（" in out.stderr and "No space left on device" in out.stderr, out.stderr
    assert "这不是作品的问题" in out.stderr
    assert listing() == []                                   # not recorded as 不合格
    assert dropped.exists() and not [p for p in (workdir / "done").rglob("*") if p.is_file()]   # to be tried again
    assert run("list").returncode == 0
    # space freed: the next pass records it as any near miss, converted
    out = run("run", "--once")
    assert out.returncode == 0, out.stderr
    [work] = listing()
    assert work["outcome"] == "needs_review" and work["files"][0]["repair"] == "remux"
    assert not dropped.exists() and list((workdir / "done" / "待复核").rglob("*.mov"))


def test_recheck_tries_again_a_conversion_that_failed_before(workdir, hostile):
    add_config(workdir, "rules:\n  repair:\n    remux: false\n")
    assert run("ingest", hostile["mov"], "--unit", "柳南区", "--contact", "张三", "--phone", "13800138000").returncode == 4
    [before] = listing()
    assert before["outcome"] == "rejected" and before["files"][0]["repair"] is None
    (workdir / "config.yaml").write_text((workdir / "config.yaml").read_text(encoding="utf-8")
                                         .replace("remux: false", "remux: true"), encoding="utf-8")
    out = run("recheck", "--all")
    assert out.returncode == 0, out.output
    [after] = listing()
    assert after["outcome"] == "needs_review" and after["check_run"] == 2
    file = after["files"][0]
    assert file["repair"] == "remux" and file["container"] == "mp4"
    assert file["original"]["sha256"] == before["files"][0]["sha256"]
    [container] = [c for c in after["checks"] if c["id"] == "container"]
    assert container["code"] == "remuxed"
    from intake.config import load_config
    from intake.pipeline.services import open_services

    db = open_services(load_config(workdir / "config.yaml")).db
    [rechecked] = [e for e in db.audit.events(after["id"]) if e.kind == "rechecked"]
    assert rechecked.data["repaired"] == [{"file": 0, "repair": "remux",
                                           "before": {"sha256": before["files"][0]["sha256"],
                                                      "size_bytes": before["files"][0]["size_bytes"]},
                                           "new": {"sha256": file["sha256"], "size_bytes": file["size_bytes"]}}]
