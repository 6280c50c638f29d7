"""Parameter types the commands share."""

from __future__ import annotations

import click

from storage.records import ID_DIGITS


class SubmissionNumber(click.ParamType):
    """A submission's number as people copy it: ``4``, ``#4`` (as ``intake list`` prints it) or ``＃4``."""

    name = "作品编号"

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lstrip("#＃").strip()
        if text.isascii() and text.isdigit() and int(text) > 0:
            if len(text.lstrip("0")) > ID_DIGITS:
                self.fail(f"没有第 {text} 号作品（作品编号最多 {ID_DIGITS} 位），请用 intake list 查看作品编号。", param, ctx)
            return int(text)
        self.fail(f"“{value}”不是作品编号，请写成 4 或 #4（见 intake list）。", param, ctx)


SUBMISSION_NUMBER = SubmissionNumber()


class OneChoiceCommand(click.Command):
    """A command whose flags sharing one destination (such as --shortlist/--reject/--pending) may not be mixed:
    click would quietly keep the last one, and a reviewer's decision must never be a guess."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _, _, order = self.make_parser(ctx).parse_args(args=list(args))
        seen: dict[str, set[str]] = {}
        for param in order:
            if isinstance(param, click.Option) and param.flag_value is not None and not param.is_bool_flag:
                seen.setdefault(param.name, set()).add(param.opts[0])
        for flags in seen.values():
            if len(flags) > 1:
                raise click.UsageError(f"{' 和 '.join(sorted(flags))} 不能同时使用，请只指定一个。", ctx=ctx)
        return super().parse_args(ctx, args)
