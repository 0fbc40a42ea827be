"""The ``relations`` command: serve the API and manage projects."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from service.cli_check import check
from service.cli_migrate import migrate_command, migrate_one
from service.cli_tokens import ensure_first_admin, token_cli
from service.projects import Projects
from service.registry import ProjectInfo, Registry, valid_name
from service.settings import Settings

cli = typer.Typer(help="relations-api: a Directus 7 compatible Relations API server.",
                  no_args_is_help=True, add_completion=False)
project_cli = typer.Typer(help="Manage projects.", no_args_is_help=True)
cli.add_typer(project_cli, name="project")
cli.command("check")(check)
cli.add_typer(token_cli, name="token")
cli.command("migrate")(migrate_command)


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Serve the API (settings from RELATIONS_* environment variables)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl ..." is noise
    Settings().data_dir.mkdir(parents=True, exist_ok=True)
    ensure_first_admin(Settings(), host, port)
    uvicorn.run(
        "service.asgi:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="info",
        proxy_headers=False,
        http="service.httpproto:EnvelopeHttpToolsProtocol",
    )


@project_cli.command("create")
def project_create(
    names: Annotated[list[str], typer.Argument(help="Project keys: [a-z0-9_][a-z0-9_-]{0,63}.")],
    database_url: str | None = typer.Option(
        None, "--database-url", help="PostgreSQL URL (default: an SQLite file in the data dir)."
    ),
    public: str | None = typer.Option(
        None, "--public", help="Role of anonymous callers: 'read' (default: none)."
    ),
) -> None:
    """Create one project, or several at once: each database is made at the current schema
    (so a project's first request only opens it), then all are registered in one write.
    A database that cannot be made is reported and nothing is registered."""
    bad = [n for n in names if not valid_name(n)]
    if bad:
        typer.echo(f"invalid project name: {bad[0]!r}", err=True)
        raise typer.Exit(2)
    if public not in (None, "read"):
        typer.echo("--public takes 'read'", err=True)
        raise typer.Exit(2)
    if database_url and len(names) > 1:
        typer.echo("--database-url names one database: give one project", err=True)
        raise typer.Exit(2)
    settings = Settings()
    registry = Registry(settings.data_dir)
    infos = [ProjectInfo(n, database_url, public) for n in names]  # type: ignore[arg-type]
    projects = Projects(settings)
    new = [i for i in infos if not registry.registered(i.name)]
    if not all(migrate_one(projects, info, report=False) for info in new):
        typer.echo("nothing was registered", err=True)
        raise typer.Exit(1)
    existing = registry.add_many(infos)
    for name in names:
        if name in existing:
            typer.echo(f"project {name} already exists", err=True)
        else:
            typer.echo(f"created project {name}")
    if existing:
        raise typer.Exit(1)


@project_cli.command("list")
def project_list() -> None:
    """List the projects."""
    for info in Registry(Settings().data_dir).all():
        where = "postgresql" if info.database_url else "sqlite"
        typer.echo(f"{info.name}\t{where}\tpublic={info.public or 'none'}")


def main() -> None:
    """Entry point of the ``relations`` script."""
    cli()


if __name__ == "__main__":
    main()
