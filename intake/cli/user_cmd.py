"""``intake user``: the desk's accounts (add, list, passwd, remove, unlock)."""

from __future__ import annotations

import sys

import click

from core.errors import UsageError
from core.textsafe import for_terminal
from intake.cli.context import AppContext, pass_app
from intake.cli.render import echo, echo_each

ROLE_HELP = "角色：clerk 登记员（登记、修改、补登）、reviewer 评委（评分、决定）、admin 管理员（账号、导出，及以上全部）。"


def read_password(from_stdin: bool) -> str:
    """One line from standard input, or typed twice at a prompt without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UsageError("标准输入中没有密码。")
        return line.rstrip("\r\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再输入一次密码", err=True)


@click.group("user", options_metavar="[选项]", subcommand_metavar="add|list|passwd|remove|unlock")
def user() -> None:
    """管理浏览器工作台（intake serve）的账号。"""


@user.command("add", options_metavar="[选项]")
@click.argument("name", metavar="账号")
@click.option("--role", type=click.Choice(["clerk", "reviewer", "admin"]), required=True, help=ROLE_HELP)
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）；不加时提示输入两次。")
@pass_app
def add(app: AppContext, name: str, role: str, password_stdin: bool) -> int:
    """创建账号。密码至少 8 个字符，只保存其加盐哈希（scrypt）。退出码：0 完成；2 账号已存在或用法错误。"""
    from intake.desk.accounts import ROLES, account_name, add_account, new_password

    account_name(name)
    password = new_password(read_password(password_stdin))
    add_account(app.database(), name, role, password)
    echo(f"已创建账号 {name}（{ROLES[role]}）。")
    return 0


@user.command("list", options_metavar="[选项]")
@pass_app
def list_users(app: AppContext) -> int:
    """列出账号及其角色。"""
    from core.timefmt import local_text
    from intake.desk.accounts import ROLES

    users = app.database().accounts.all()
    if not users:
        click.echo("还没有任何账号。请用 intake user add 名字 --role admin 创建。")
    echo_each(f"{u.name}  {ROLES.get(u.role, u.role)}  创建于 {local_text(u.created_at)}" for u in users)
    return 0


@user.command("passwd", options_metavar="[选项]")
@click.argument("name", metavar="账号")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码（一行）；不加时提示输入两次。")
@pass_app
def passwd(app: AppContext, name: str, password_stdin: bool) -> int:
    """修改账号的密码；该账号已登录的浏览器需要重新登录。退出码：0 完成；2 没有这个账号。"""
    from intake.desk.accounts import change_password, new_password

    db = app.database()
    if db.accounts.get(name) is None:
        raise UsageError(f"没有名为“{for_terminal(name)}”的账号。", "请用 intake user list 查看账号。")
    change_password(db, name, new_password(read_password(password_stdin)))
    echo(f"已修改账号 {name} 的密码。")
    return 0


@user.command("remove", options_metavar="[选项]")
@click.argument("name", metavar="账号")
@pass_app
def remove(app: AppContext, name: str) -> int:
    """删除账号；它已登录的浏览器随即退出。审计日志中以该账号名义的记录保留。退出码：0 完成；2 没有这个账号。"""
    from intake.desk.accounts import remove_account

    remove_account(app.database(), name)
    echo(f"已删除账号 {name}。")
    return 0


@user.command("unlock", options_metavar="[选项]")
@click.argument("name", metavar="账号")
@pass_app
def unlock(app: AppContext, name: str) -> int:
    """解除账号的登录锁定：清除它的登录失败记录，账号的主人可以立即再登录（正在运行的工作台随即生效）。

    记入审计日志。退出码：0 完成；2 没有这个账号。
    """
    from intake.desk.accounts import unlock_account

    cleared = unlock_account(app.database(), name)
    echo(f"已解除账号 {name} 的登录锁定（清除了 {cleared} 次失败的登录）。" if cleared
         else f"账号 {name} 没有被锁定（没有失败的登录记录）。")
    return 0
