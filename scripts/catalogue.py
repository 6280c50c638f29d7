"""Compile intake/cli/locale/zh_CN/LC_MESSAGES/messages.po (click's words in Chinese) to messages.mo.

    python scripts/catalogue.py

Run after editing the .po; tests/test_docs.py fails while the committed .mo is stale.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).resolve().parents[1] / "intake" / "cli" / "locale" / "zh_CN" / "LC_MESSAGES"


def compiled() -> bytes:
    """The .mo the .po makes."""
    with (CATALOGUE / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


if __name__ == "__main__":
    (CATALOGUE / "messages.mo").write_bytes(compiled())
    print(f"已生成 {CATALOGUE / 'messages.mo'}")
