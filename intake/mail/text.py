"""Readable text from a mail body part: HTML tags dropped, links kept beside their text."""

from __future__ import annotations

import html
from html.parser import HTMLParser

BLOCK_TAGS = {"br", "p", "div", "tr", "li", "table", "h1", "h2", "h3", "h4", "blockquote", "section"}
SKIP_TAGS = {"script", "style", "head", "title"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self.skip += 1
        elif tag in BLOCK_TAGS:
            self.out.append("\n")
        elif tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.out.append(f" {href} ")

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS and self.skip:
            self.skip -= 1
        elif tag in BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient, but never let a body stop the intake
        return html.unescape(markup)
    lines = ("".join(parser.out)).replace("\xa0", " ").splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())
