"""``relations migrate``: bring project databases to this release's schema.

The server migrates a project on its first use anyway; this command does it ahead of time
(e.g. in a deploy step before new workers start), for one project, the default one, or all.
It is safe while servers run: the migration lock serialises it with their own attempts.
Exit status: 0 when every database is at the code's revision, 1 otherwise.
"""

from __future__ import annotations

import typer

from service import migrate
from service.dberrors import STORAGE_ERRORS, storage_error
from service.errors import ApiError
from service.projects import Projects
from service.registry import DEFAULT_PROJECT, ProjectInfo, valid_name
from service.settings import Settings


def migrate_one(projects: Projects, info: ProjectInfo, report: bool = True) -> bool:
    """Bring one project's database to head; failures always say why, successes only
    when `report`."""
    where = "postgresql" if info.database_url else "sqlite"
    try:
        engine = projects.engine_for(info)
    except ApiError as err:
        typer.echo(f"{info.name}\t{where}\tfailed: {err.message}", err=True)
        return False
    try:
        outcome = migrate.upgrade(engine)
    except migrate.SchemaTooNew as exc:
        typer.echo(f"{info.name}\t{where}\trefused: {exc}", err=True)
        return False
    except STORAGE_ERRORS as exc:
        typer.echo(f"{info.name}\t{where}\tfailed: {storage_error(exc).message}", err=True)
        return False
    finally:
        engine.dispose()
    if report and outcome.changed:
        typer.echo(f"{info.name}\t{where}\tmigrated {outcome.before or 'empty'} -> "
                   f"{outcome.after}")
    elif report:
        typer.echo(f"{info.name}\t{where}\tup to date at {outcome.after}")
    return True


def migrate_command(
    project: str | None = typer.Option(
        None, "--project", "-p", help="Project key (default: the default project `_`)."
    ),
    all_projects: bool = typer.Option(False, "--all", help="Every registered project."),
) -> None:
    """Apply pending schema migrations (the server also does this on first use)."""
    if project is not None and all_projects:
        typer.echo("give --project or --all, not both", err=True)
        raise typer.Exit(2)
    settings = Settings()
    projects = Projects(settings)
    if all_projects:
        infos = projects.registry.all()
    else:
        name = project or DEFAULT_PROJECT
        info = projects.registry.get(name) if valid_name(name) else None
        if info is None:
            typer.echo(f"unknown project: {name[:64]!r}", err=True)
            raise typer.Exit(2)
        infos = [info]
    typer.echo(f"code schema revision: {migrate.head()}")
    results = [migrate_one(projects, info) for info in infos]
    if not all(results):
        raise typer.Exit(1)
