"""``intake list``: the recorded submissions."""

from __future__ import annotations

import json

import unicodedata

import click

from core.errors import UsageError
from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, echo_each, terminal_json
from intake.labels import OUTCOME_LABELS, actor_label
from intake.pipeline.secrecy import secrecy_marks
from validators.results import Outcome

OUTCOMES = [o.value for o in Outcome]


@click.command("list", options_metavar="[选项]")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（供脚本使用）。")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="只列出某种结果：accepted 通过 / needs_review 待复核 / rejected 不合格。")
@click.option("--unit", metavar="单位", help="只列出某个单位的作品。")
@click.option("--units", "by_unit", is_flag=True,
              help="改为列出各单位报送情况：未报送、仅有不合格作品、已报送、超过名额、已入围。")
@pass_app
def list_submissions(app: AppContext, as_json: bool, outcome: str | None, unit: str | None, by_unit: bool) -> int:
    """列出已登记的作品、检查结果和评审决定；加 --units 时列出各单位报送情况。"""
    from intake.pipeline.views import submission_views

    contest = app.config.contest
    db = app.database()
    if by_unit:
        if outcome:
            raise UsageError("--units 不能与 --outcome 同时使用：各单位报送情况总是统计全部作品。")
        return list_units(submission_views(db), contest, as_json, unit)
    views = submission_views(db, outcome=outcome, unit=unit, contest=contest)
    if as_json:
        click.echo(terminal_json(json.dumps(views, ensure_ascii=False, indent=2)))
        return 0
    if not views:
        everything = submission_views(db) if outcome or unit else views
        if not everything:
            click.echo("还没有登记任何作品。")
        elif unit:
            echo(no_works_of(unit, contest, everything, outcome))
        else:
            click.echo(f"没有结果为“{OUTCOME_LABELS[Outcome(outcome)]}”的作品。")
        return 0
    for v in views:
        label = OUTCOME_LABELS[Outcome(v["outcome"])]
        names = "、".join(f["original_name"] for f in v["files"]) or "（无文件）"
        sender = f"  发件人：{v['sender']}" if v["sender"] else ""
        flags = "".join(f"【{flag}】" for flag in secrecy_marks(v["secrecy"]))
        echo(f"#{v['id']}  {v['received_at'][:16].replace('T', ' ')}  {v['unit'] or '（未注明单位）'}  "
             f"{v['contact'] or ''} {v['phone'] or ''}{sender}  【{label}】{flags}  {names}")
        if v["decision"]:
            d = v["decision"]
            note = f"（{d['note']}）" if d["note"] else ""
            echo(f"     评审决定：{d['label']}{note} —— {actor_label(d['reviewer'])}，{d['at'][:16].replace('T', ' ')}")
            if d["forced"]:
                echo(f"     强制入围：{'；'.join(d['reasons']) or '检查结果是不合格'}")
        if v["speaker"] or v["topic"]:
            echo(f"     代言人：{v['speaker'] or '—'}  主题：{v['topic'] or '—'}")
        for check in v["checks"]:
            if check["status"] != "pass":
                mark = "✗" if check["status"] == "fail" else "!"
                echo_lines(f"     {mark} [{check['id']}] ", check["message"])
    return 0


def echo_lines(first: str, text: str) -> None:
    """A message of several lines (a list of links) as lines of its own below ``first``, each still
    shown safely (a forged line cannot start at the left margin)."""
    lines = [line for line in str(text).splitlines() if line.strip()] or [""]
    echo(first + lines[0])
    echo_each("       " + line for line in lines[1:])


def unit_choices(contest, views: list[dict]) -> list[str]:
    """The units a filter can name: those on the list, then those outside it that sent a work."""
    listed = [u.name for u in contest.units]
    return listed + sorted({v["unit"] for v in views if v["unit"] and v["unit"] not in listed})


def no_works_of(unit: str, contest, views: list[dict], outcome: str | None = None) -> str:
    """Why ``--unit`` found nothing, and which units there are (``views``: every recorded work)."""
    from intake.pipeline.views import listed_unit

    known = listed_unit(unit, contest)
    sent = [u for u in unit_choices(contest, views) if any(v["unit"] == u for v in views)]
    tail = f"已登记作品的单位：{'、'.join(sent)}。" if sent else "已登记的作品都未注明单位。"
    if known is None and unit not in sent:
        listed = "、".join(u.name for u in contest.units) or "（空）"
        return f"应报送单位名单中没有“{unit}”，也没有作品注明这个单位。名单中的单位：{listed}。{tail}"
    said = unit if known in (None, unit) else f"{known}（“{unit}”）"
    what = f"结果为“{OUTCOME_LABELS[Outcome(outcome)]}”的作品" if outcome else "作品"
    return f"没有{said}的{what}。{tail}"


def list_units(views: list[dict], contest, as_json: bool, unit: str | None) -> int:
    """The unit coverage as a text table (or JSON); ``unit`` keeps only that unit's row."""
    from intake.review.unit_coverage import numbers, state_text, unit_coverage, warning_text
    from intake.pipeline.views import unit_names

    found = unit_coverage(views, contest)
    if unit:
        names = unit_names(unit, contest)
        found.units = [u for u in found.units if u.unit in names]
    if as_json:
        click.echo(terminal_json(json.dumps(found.as_json(), ensure_ascii=False, indent=2)))
        return 0
    if not found.units:
        echo(f"应报送单位名单中没有“{unit}”，也没有作品注明这个单位。"
             f"可查看的单位：{'、'.join(unit_choices(contest, views)) or '（无）'}。")
        return 0
    table = [("单位", "状态", "作品（不含不合格）", "入围")]
    table += [(u.unit + ("（名单外）" if not u.listed else ""), state_text(u), numbers(u.submitted),
               numbers(u.shortlisted)) for u in found.units]
    widths = [max(display_width(row[i]) for row in table) for i in range(3)]
    for row in table:
        echo(("  ".join(pad(cell, widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]).rstrip())
    for u in found.units:
        if warning_text(u):
            echo(f"注意：{u.unit}{warning_text(u)}")
    tail = f"每单位名额 {found.quota} 件。"
    if found.without_unit and not unit:
        tail += f"另有 {len(found.without_unit)} 件作品未注明单位：{numbers(found.without_unit)}。"
    echo(tail)
    return 0


def display_width(text: str) -> int:
    """Columns the text takes in a terminal: two for a Chinese character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))
