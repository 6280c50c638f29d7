"""报送 as one zip, written as it is sent: the same works, numbering and names as ``intake export``, each file's
SHA-256 checked before it goes in (a file missing or damaged is left out and said so), then 汇总表.xlsx and the
manifest. ``zipfile`` writes into a sink emptied after every chunk, so at most a chunk is held however large the
export; the videos are stored as they are (``ZIP_STORED``: they do not compress).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from core.timefmt import SHANGHAI
from intake.report.export import SUMMARY, Skip, WorkExport, stored_path, summary_title, write_summary
from intake.report.export_folder import MANIFEST, WrittenFile, file_digest, manifest_data
from storage.filestore import FileStore

CHUNK = 1024 * 1024


class Sink(io.RawIOBase):
    """Where zipfile writes: a stream that cannot seek (zipfile then writes data descriptors), emptied by ``take``."""

    def __init__(self):
        super().__init__()
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def zip_name(exported_at: datetime) -> str:
    """报送材料-20261207-2325.zip (Beijing time)."""
    return f"报送材料-{exported_at.astimezone(SHANGHAI):%Y%m%d-%H%M}.zip"


def zip_chunks(works: list[WorkExport], store: FileStore, contest_name: str, exported_at: datetime,
               written: Callable[[], None]) -> Iterator[bytes]:
    """The zip's bytes chunk by chunk; ``written()`` is called once the last of them is made."""
    sink = Sink()
    files: list[WrittenFile] = []
    stamp = exported_at.astimezone(SHANGHAI).timetuple()[:6]   # local, as the bureau's clocks read it
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for work in works:
            for item in work.exported:
                source = stored_path(store, item.file)
                problem = _verify(source, item.file["sha256"])
                if problem is not None:
                    item.name, item.skipped = None, problem
                    continue
                info = zipfile.ZipInfo(item.name, stamp)
                info.file_size = source.stat().st_size   # zipfile decides on ZIP64 from it
                with source.open("rb") as src, archive.open(info, "w") as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
                        yield sink.take()
                files.append(WrittenFile(item.name, item.file["sha256"], info.file_size))
        with tempfile.TemporaryDirectory() as folder:
            summary = write_summary(works, Path(folder) / SUMMARY, summary_title(contest_name, exported_at))
            archive.write(summary, SUMMARY, compress_type=zipfile.ZIP_DEFLATED)
            files.append(file_digest(summary))
        manifest = json.dumps(manifest_data(files, exported_at), ensure_ascii=False, indent=2)
        archive.writestr(zipfile.ZipInfo(MANIFEST, stamp), manifest, compress_type=zipfile.ZIP_DEFLATED)
        yield sink.take()
    yield sink.take()   # the central directory
    written()


def _verify(path: Path, sha256: str) -> Skip | None:
    """None when the stored file is there with its recorded content; else why it is left out."""
    try:
        with path.open("rb") as fh:
            same = hashlib.file_digest(fh, "sha256").hexdigest() == sha256
    except FileNotFoundError:
        return Skip.MISSING
    return None if same else Skip.CORRUPT
