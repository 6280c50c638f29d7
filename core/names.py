"""File names as senders give them, and the one rule for what counts as an extension.

The last dot-part of a name is its extension only when it is one to five ASCII letters and digits with at least
one letter (.mp4, .MOV, .3gp, .m4v). ``守护秘密 2024.4.3 韦小宝`` has none: its last dot-part, ``.3 韦小宝``, is
part of the name (and of the names and dates in it), so it is neither quoted as an extension nor kept when a
name is hidden. Everything that splits a name (messages, download names, the blind masks, titles) uses this.
"""

from __future__ import annotations

import re

EXTENSION = re.compile(r"\.(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,5}")


def base_name(name: str | None) -> str:
    """The last part of a path as sent (``作品.zip/文件夹/视频.mp4`` → ``视频.mp4``; backslashes too)."""
    return (name or "").replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def split_extension(name: str | None) -> tuple[str, str]:
    """(stem, extension) of a name's last part; the extension keeps its dot and case, and is empty when the
    last dot-part is not one (see the module's docstring)."""
    last = base_name(name)
    stem, dot, rest = last.rpartition(".")
    if dot and stem and EXTENSION.fullmatch("." + rest):
        return stem, "." + rest
    return last, ""


def extension_of(name: str | None) -> str:
    """The extension, lower case (``.mov``), or empty."""
    return split_extension(name)[1].lower()


def stem_of(name: str | None) -> str:
    return split_extension(name)[0]
