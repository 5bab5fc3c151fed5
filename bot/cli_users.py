"""Console logins from the shell: ``embudo admin create`` (the first admin) and ``embudo users ...``.

Passwords are asked for twice without echo, or read from the first line of standard input with
``--password-stdin`` (for scripts: ``printf '%s\\n' "$PASSWORD" | embudo admin create --email ...``).
They are never taken as a command-line argument, where they would show in the process list and history.
"""

import sys
from typing import Annotated

import typer

from crm_core.db import unit_of_work
from crm_core.errors import CrmError
from crm_core.models import UserRole
from crm_core.people import users

admin_app = typer.Typer(help="Console administrators.", no_args_is_help=True)
users_app = typer.Typer(help="Console logins of admins and reps.", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _create(email: str, role: UserRole, rep_id: int | None, from_stdin: bool) -> None:
    password = _password(from_stdin)
    try:
        with unit_of_work() as session:
            user = users.create_user(session, email, password, role, rep_id=rep_id)
    except CrmError as error:
        raise _fail(f"Cannot create the login: {error}") from None
    for_rep = f" for rep {user.rep_name} ({user.rep_id})" if user.rep_id else ""
    typer.echo(f"created {user.role.value} login {user.id}: {user.email}{for_rep}")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The administrator's e-mail (their login name).")],
    rep_id: Annotated[int | None, typer.Option(help="Also this rep's login (sees their inbox).")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an administrator login (the first one, or another)."""
    _create(email, UserRole.ADMIN, rep_id, password_stdin)


@users_app.command("add-rep")
def users_add_rep(
    email: Annotated[str, typer.Option(help="The rep's e-mail (their login name).")],
    rep_id: Annotated[int, typer.Option(help="The rep (see `embudo reps list`).")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Give a rep a console login; they will see only their own leads."""
    _create(email, UserRole.REP, rep_id, password_stdin)


@users_app.command("list")
def users_list() -> None:
    """Every login with its role, rep and last sign-in."""
    with unit_of_work() as session:
        found = users.list_users(session)
    if not found:
        typer.echo("no logins yet: create the first admin with `embudo admin create --email EMAIL`")
    for user in found:
        rep = f"rep {user.rep_id} {user.rep_name}" if user.rep_id else "-"
        last = f"{user.last_login:%Y-%m-%d %H:%M}" if user.last_login else "never"
        state = "active" if user.active else "inactive"
        typer.echo(f"{user.id:>4}  {user.email:<32} {user.role.value:<5} {rep:<24} {state:<8} last {last}")


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Argument(help="The login's e-mail.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Reset a login's password; the user is signed out everywhere."""
    password = _password(password_stdin)
    try:
        with unit_of_work() as session:
            users.set_password(session, users.find_user(session, email).id, password)
    except CrmError as error:
        raise _fail(f"Cannot set the password: {error}") from None
    typer.echo(f"password of {email.strip()} changed; its sessions ended")


def _set_active(email: str, active: bool) -> None:
    try:
        with unit_of_work() as session:
            user = users.set_active(session, users.find_user(session, email).id, active)
    except CrmError as error:
        raise _fail(str(error)) from None
    typer.echo(f"{user.email} is {'active' if user.active else 'deactivated and signed out'}")


@users_app.command("deactivate")
def users_deactivate(email: Annotated[str, typer.Argument(help="The login's e-mail.")]) -> None:
    """Stop a login from signing in (ends its sessions)."""
    _set_active(email, False)


@users_app.command("activate")
def users_activate(email: Annotated[str, typer.Argument(help="The login's e-mail.")]) -> None:
    """Let a deactivated login sign in again."""
    _set_active(email, True)


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
    app.add_typer(users_app, name="users")
