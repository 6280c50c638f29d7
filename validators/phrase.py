"""Find 我是保密法治代言人XXX，今天我要讲的是…… in text that OCR, subtitles or people got slightly wrong: up to
``max_errors`` wrong, missing or extra characters, where a homophone (保蜜 for 保密) costs nothing.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

PREFIX = "我是保密法治代言人"
MIDDLE = "今天我要讲的是"
SENTENCE_END = set("。！？!?；;\n")
MAX_SPEAKER = 8
MAX_TOPIC = 40
# The search is quadratic-ish in Python; the phrase opens a video, so text past this is never the opening.
MAX_TEXT_CHARS = 5000
_TABLE_LINE = re.compile(r'^"(\d+)": "([^"]+)"')


@dataclass(frozen=True)
class PhraseMatch:
    speaker: str | None
    topic: str | None
    errors: float
    matched: str


@functools.cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """Full-width to half-width, traditional to simplified, spaces out; line breaks kept as boundaries."""
    text = unicodedata.normalize("NFKC", text)
    text = _t2s().convert(text)
    lines = ["".join(ch for ch in line if not ch.isspace() and unicodedata.category(ch) != "Cf")
             for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _is_letter(ch: str) -> bool:
    return ch != "\n" and unicodedata.category(ch)[0] in ("L", "N")


def _toneless(reading: str) -> str:
    """A pinyin reading without tone marks, as pypinyin's Style.NORMAL writes it (ü as v)."""
    plain = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(ch for ch in plain if unicodedata.category(ch) != "Mn")


def first_readings() -> Iterator[tuple[str, str]]:
    """(character, its first pinyin reading without tones) for every character pypinyin knows.

    Read line by line from pypinyin's character table: importing pypinyin would also load its phrase
    dictionary (about 55 MB) into whichever process compares a caption, for 16 characters' sake.
    """
    spec = importlib.util.find_spec("pypinyin")
    table = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"
    with table.open(encoding="utf-8") as lines:
        for line in lines:
            if entry := _TABLE_LINE.match(line):
                yield chr(int(entry[1])), _toneless(entry[2].split(",")[0])


@functools.cache
def _sound_alikes() -> dict[str, frozenset[str]]:
    """For each character of the phrase, the characters whose first reading (tones aside) is the same."""
    wanted = {ch: "" for ch in PREFIX + MIDDLE}
    for ch, reading in first_readings():
        if ch in wanted:
            wanted[ch] = reading
    alike: dict[str, set[str]] = {reading: set() for reading in wanted.values() if reading}
    for ch, reading in first_readings():
        if reading in alike:
            alike[reading].add(ch)
    return {ch: frozenset(alike.get(reading, ())) for ch, reading in wanted.items()}


def _homophone_cost(a: str, b: str) -> float:
    """0 when ``b`` in the text sounds like ``a`` in the phrase (保蜜 for 保密), else 1."""
    if a == b:
        return 0.0
    return 0.0 if b in _sound_alikes().get(a, ()) else 1.0


def fuzzy_find(text: str, pattern: str, max_errors: float) -> tuple[int, int, float] | None:
    """(start, end, errors) of the best approximate occurrence of ``pattern`` in ``text``; a pass where
    homophones cost nothing only if a plain one fails (the homophone table is read only then)."""
    plain = _sellers(text, pattern, max_errors, lambda a, b: 0.0 if a == b else 1.0)
    return plain or _sellers(text, pattern, max_errors, _homophone_cost)


def _sellers(text: str, pattern: str, max_errors: float, cost) -> tuple[int, int, float] | None:
    """Semi-global edit distance: the pattern may start anywhere in the text."""
    m = len(pattern)
    previous = [float(i) for i in range(m + 1)]
    start_prev = [0] * (m + 1)
    best: tuple[int, int, float] | None = None
    for j, ch in enumerate(text, start=1):
        current = [0.0] * (m + 1)
        start_cur = [j] * (m + 1)
        for i in range(1, m + 1):
            options = (
                (previous[i - 1] + cost(pattern[i - 1], ch), start_prev[i - 1]),    # match / substitute
                (previous[i] + 1, start_prev[i]),                                   # extra character in text
                (current[i - 1] + 1, start_cur[i - 1]),                             # missing character
            )
            current[i], start_cur[i] = min(options, key=lambda o: o[0])
        if current[m] <= max_errors and (best is None or current[m] < best[2]):
            best = (start_cur[m], j, current[m])
            if current[m] == 0:
                break
        previous, start_prev = current, start_cur
    return best


def find_phrase(text: str, max_errors: float = 2) -> PhraseMatch | None:
    clean = normalise(text[:MAX_TEXT_CHARS])
    positions = [i for i, ch in enumerate(clean) if _is_letter(ch)]
    letters = "".join(clean[i] for i in positions)
    head = fuzzy_find(letters, PREFIX, max_errors)
    if head is None:
        return None
    start, end, errors = head
    rest = letters[end:end + MAX_SPEAKER + len(MIDDLE) + 2]
    middle = fuzzy_find(rest, MIDDLE, max_errors)
    if middle is not None and middle[0] <= MAX_SPEAKER:
        speaker = rest[: middle[0]] or None
        topic = _topic(clean, positions, end + middle[1])
        errors += middle[2]
        matched_end = end + middle[1]
    else:
        speaker = _until_boundary(clean, positions, end, MAX_SPEAKER)
        topic = None
        matched_end = end
    return PhraseMatch(speaker=speaker, topic=topic, errors=errors,
                       matched=clean[positions[start]: positions[matched_end - 1] + 1] if matched_end else "")


def _until_boundary(clean: str, positions: list[int], letter_index: int, limit: int) -> str | None:
    if letter_index >= len(positions):
        return None
    start = positions[letter_index]
    return "".join(itertools.takewhile(_is_letter, clean[start:start + limit])) or None


def _topic(clean: str, positions: list[int], letter_index: int) -> str | None:
    """What follows 今天我要讲的是, to the end of its sentence (or of the next line, if the line broke there)."""
    if letter_index >= len(positions):
        return None
    i = positions[letter_index]
    out: list[str] = []
    while i < len(clean) and len(out) < MAX_TOPIC:
        ch = clean[i]
        if ch in SENTENCE_END and (out or ch != "\n"):
            break
        if ch != "\n":
            out.append(ch)
        i += 1
    topic = "".join(out).strip("…。，,、：:“”\"'《》 ")
    return topic or None
