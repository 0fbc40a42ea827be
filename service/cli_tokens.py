"""``relations token ...``: create, list and revoke the API tokens of a project.

A token is printed once, by ``create``, as the last line of its output (scripts can take
``| tail -n 1``); only its SHA-256 is stored, in the project's own database. ``serve`` calls
:func:`ensure_first_admin` so that a newcomer's first ``make run`` prints a working token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from service import tokens
from service.errors import ApiError
from service.projects import Project, Projects
from service.registry import DEFAULT_PROJECT
from service.settings import Settings

token_cli = typer.Typer(help="Manage API tokens (admin or read, per project).",
                        no_args_is_help=True)

PROJECT_OPTION = typer.Option(DEFAULT_PROJECT, "--project", "-p", help="Project key.")


@contextlib.contextmanager
def _open(name: str) -> Iterator[Project]:
    """The project `name`, opened for one command; an API error ends it with status 1."""
    projects = Projects(Settings())
    try:
        yield projects.get(name)
    except ApiError as err:
        typer.echo(f"{err.message} ({name[:64]!r})", err=True)
        raise typer.Exit(1) from None
    finally:
        projects.dispose()


@token_cli.command("create")
def token_create(
    project: str = PROJECT_OPTION,
    role: str = typer.Option(..., "--role", "-r", help="admin (everything) or read (GET only)."),
    label: str | None = typer.Option(None, "--label", "-l", help="A note for `token list`."),
) -> None:
    """Create a token; the token itself is the last line printed (and is shown only once)."""
    if role not in ("admin", "read"):
        typer.echo("--role takes admin or read", err=True)
        raise typer.Exit(2)
    if label is not None and len(label) > 200:
        typer.echo("--label is at most 200 characters", err=True)
        raise typer.Exit(2)
    with _open(project) as proj:
        info, token = tokens.create(proj, role, label)
    typer.echo(f"created {role} token {info.id} of project {project} "
               f"(hash {info.hash_prefix}); it is shown only now:")
    typer.echo(token)


@token_cli.command("list")
def token_list(project: str = PROJECT_OPTION) -> None:
    """List the tokens of a project (never the tokens themselves)."""
    with _open(project) as proj:
        rows = tokens.listing(proj)
    typer.echo("id\trole\tstatus\tcreated\thash\tlabel")
    for t in rows:
        status = "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%dT%H:%M:%S}"
        typer.echo(f"{t.id}\t{t.role}\t{status}\t{t.created_at:%Y-%m-%dT%H:%M:%S}\t"
                   f"{t.hash_prefix}\t{t.label or ''}")


@token_cli.command("revoke")
def token_revoke(
    key: str = typer.Argument(..., metavar="ID_OR_PREFIX",
                              help="Token id, hash prefix (8+ hex digits) or the token itself."),
    project: str = PROJECT_OPTION,
) -> None:
    """Revoke a token: it is refused from the next request on, by every server process."""
    with _open(project) as proj:
        found = tokens.find(proj, key)
        if len(found) > 1:
            typer.echo(f"{key!r} matches {len(found)} tokens; give more digits or the id",
                       err=True)
            raise typer.Exit(1)
        if not found:
            typer.echo(f"no token {key[:64]!r} in project {project}", err=True)
            raise typer.Exit(1)
        revoked = tokens.revoke(proj, found[0].id)
    state = "revoked" if revoked else "was already revoked:"
    typer.echo(f"{state} token {found[0].id} ({found[0].role}) of project {project}")


def ensure_first_admin(settings: Settings, host: str, port: int) -> None:
    """Create and print an admin token for `_` when it has no active one (first start)."""
    projects = Projects(settings)
    try:
        project = projects.get(DEFAULT_PROJECT)
        if tokens.has_active_admin(project):
            return
        _, token = tokens.create(project, "admin", "first start")
    except ApiError as err:
        typer.echo(f"relations: could not check the admin token of project _: {err.message}",
                   err=True)
        return
    finally:
        projects.dispose()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{shown}:{port}/{DEFAULT_PROJECT}/relations"
    typer.echo(
        "\nProject _ had no admin token, so one was created. It is shown only this once;\n"
        "keep it (more with `relations token create --project _ --role admin|read`):\n\n"
        f"    export TOKEN={token}\n"
        f'    curl -H "Authorization: Bearer $TOKEN" {url}\n'
    )
