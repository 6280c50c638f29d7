"""The list page, one page at a time: filter, search and sort on the server over the rows of every work (built
once per state of the database), then one page of them rendered: with 2,000 works the whole table is over a
megabyte of HTML and takes Chromium seconds to lay out. The query string holds the whole state, so that a link, a
reload and the back button keep it; the page's script fetches the same URL with ``part=rows`` to swap the table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Callable
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from intake.desk.guard import allowed, seen
from intake.desk.pages import OUTCOMES, row_of
from intake.desk.scores import NO_SCORE, list_cells
from intake.labels import DECISION_LABELS
from validators.phrase import first_readings
from validators.results import Outcome

PAGE_SIZES = (50, 100, 200, 500)
DEFAULT_SIZE = 100
MAX_QUERY_CHARS = 200
MAX_RENDERED = 64
_OUTCOME_ORDER = {o.value: i for i, o in enumerate(Outcome)}
_DECISION_ORDER = {key: i for i, key in enumerate(DECISION_LABELS)}


@functools.cache
def _readings() -> dict[str, str]:
    return dict(first_readings())


def pinyin_key(text: str) -> str:
    """``text`` spelled by pinyin (柳南区 → "liu nan qu "), as the report's table sorts with the browser's zh-CN
    collation, then the text itself to part same-sounding words. Characters without a reading keep their place."""
    readings = _readings()
    return "".join(readings.get(ch, ch.lower()) + " " for ch in text) + "\0" + text


# The sortable columns, in the table's order: (key, header, sort key of a row). Text sorts by pinyin.
COLUMNS: list[tuple[str, str, Callable[[dict[str, Any]], Any]]] = [
    ("id", "编号", lambda r: r["id"]),
    ("unit", "单位", lambda r: pinyin_key(r["unit"])),
    ("title", "作品名", lambda r: pinyin_key(r["title"])),
    ("contact", "联系人 / 电话", lambda r: pinyin_key(r["contact"])),
    ("duration", "时长", lambda r: r["duration"]),
    ("size", "大小", lambda r: r["size"]),
    ("received", "收件时间", lambda r: r["received_at"]),
    ("outcome", "结果", lambda r: _OUTCOME_ORDER.get(r["outcome"], 9)),
    ("decision", "评审决定", lambda r: _DECISION_ORDER.get(r["decision"], 9)),
    ("score", "得分", lambda r: r["score"]),
    ("rank", "名次", lambda r: r["rank"]),
]
SORT_KEYS = {key: by for key, _, by in COLUMNS}


@dataclass(frozen=True)
class ListRow:
    """A row of the list, built once per database change; its sort keys are made on the first sort by each
    column (the pinyin table loads only when someone sorts by a text column)."""

    row: dict[str, Any]
    text: str
    keys: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: dict[str, Any]) -> ListRow:
        """The row, and its text as shown, lower-cased, for a search to look through."""
        parts = [f"#{row['id']}", row["unit"], row["unit_raw"], row["title"], row["contact"], row["phone"],
                 row["sender"], row["duration_text"], row["size_text"], row["received_at"], row["outcome_label"],
                 row["decision_label"], *row["problems"]]
        return cls(row, "\n".join(p for p in parts if p).lower())

    def key(self, column: str) -> Any:
        if column not in self.keys:
            self.keys[column] = SORT_KEYS[column](self.row)
        return self.keys[column]


@dataclass(frozen=True)
class ListQuery:
    """What one list page shows; built from the query string, every value checked."""

    q: str = ""
    outcome: str = ""
    decision: str = ""
    unit: str = ""
    sort: str = "id"
    dir: str = "asc"
    page: int = 1
    size: int = DEFAULT_SIZE

    @classmethod
    def of(cls, params: QueryParams) -> ListQuery:
        def number(name: str, default: int) -> int:
            try:
                return int(params.get(name, default))
            except ValueError:
                return default

        outcome, decision = params.get("outcome", ""), params.get("decision", "")
        size = number("size", DEFAULT_SIZE)
        return cls(q=params.get("q", "").strip()[:MAX_QUERY_CHARS],
                   outcome=outcome if outcome in _OUTCOME_ORDER else "",
                   decision=decision if decision in _DECISION_ORDER or decision == "none" else "",
                   unit=params.get("unit", "")[:MAX_QUERY_CHARS],
                   sort=params.get("sort") if params.get("sort") in SORT_KEYS else "id",
                   dir="desc" if params.get("dir") == "desc" else "asc",
                   page=max(1, number("page", 1)), size=size if size in PAGE_SIZES else DEFAULT_SIZE)

    def url(self, **changes: Any) -> str:
        """This query's list URL with ``changes``; defaults are left out, so that URLs stay short."""
        defaults = ListQuery().__dict__
        changed = {k: v for k, v in {**self.__dict__, **changes}.items() if v != defaults[k]}
        return "/list?" + urlencode(changed) if changed else "/list"

    def sort_url(self, key: str) -> str:
        """Sorting by ``key``: ascending first, the other way round when it is already the order."""
        flip = "desc" if self.sort == key and self.dir == "asc" else "asc"
        return self.url(sort=key, dir=flip, page=1)

    def matches(self, row: dict[str, Any], text: str) -> bool:
        return ((not self.q or self.q.lower() in text) and (not self.outcome or row["outcome"] == self.outcome)
                and (not self.decision or (row["decision"] or "none") == self.decision)
                and (not self.unit or row["unit"] == self.unit))


def page_of(rows: list[ListRow], query: ListQuery) -> dict[str, Any]:
    """The rows of ``query``'s page, with the counts and links the pager shows."""
    found = [r for r in rows if query.matches(r.row, r.text)]
    if query.sort != "id" or query.dir != "asc":   # the rows are in id order already
        found.sort(key=lambda r: r.key(query.sort), reverse=query.dir == "desc")
    pages = max(1, -(-len(found) // query.size))
    query = replace(query, page=min(query.page, pages))
    start = (query.page - 1) * query.size
    return {"query": query, "rows": [r.row for r in found[start:start + query.size]], "matched": len(found), "total": len(rows),
            "pages": pages, "first": start + 1 if found else 0, "last": min(start + query.size, len(found)),
            "prev_url": query.url(page=query.page - 1) if query.page > 1 else None,
            "next_url": query.url(page=query.page + 1) if query.page < pages else None,
            "columns": [(key, label, query.sort_url(key)) for key, label, _ in COLUMNS]}


@allowed()
def listing(request: Request) -> Response:
    desk, account = seen(request), request.user

    def build(views: list[dict[str, Any]]) -> list[ListRow]:
        cells = list_cells(desk)   # score and rank: the same for every account (a judge's own scores stay private)
        return [ListRow.of({**row_of(v), **cells.get(v["id"], NO_SCORE)}) for v in views]

    # ``desk`` is the account's view of the desk: under blind review a reviewer's rows (and so the search, the
    # filters and the sort) are built from blind views, and name no unit.
    rows = desk.derived("list_rows", build)   # a judge's own, while scoring is open (see Seen)
    query = ListQuery.of(request.query_params)
    # Pages without a search are the same for everyone until the next change: rendered once (a few dozen).
    rendered: dict[ListQuery, Markup] = desk.derived("list_pages", lambda views: {})
    region = rendered.get(query) if not query.q else None
    if region is None:
        shown = page_of(rows, query)
        if desk.sealed:   # the judge's own totals until scoring is closed, and no ranking to show
            shown["columns"] = [(key, "我的总分" if key == "score" else label, url)
                                for key, label, url in shown["columns"] if key != "rank"]
        shown["ranked"] = not desk.sealed
        region = Markup(desk.env.get_template("list_region.html.j2").render(**shown))
        if not query.q and len(rendered) < MAX_RENDERED:
            rendered[query] = region
    if request.query_params.get("part") == "rows":
        return HTMLResponse(region)
    units = [] if desk.blind else desk.derived(
        "list_units", lambda views: sorted({v["unit"] for v in views if v["unit"]}, key=pinyin_key))
    return desk.render("list.html.j2", account, query=query, region=region, outcomes=OUTCOMES,
                       decisions=DECISION_LABELS, units=units, sizes=PAGE_SIZES)
