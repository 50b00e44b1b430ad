"""`followthrough playbooks validate|load|list`: author playbooks as files, load them per team."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.playbooks.parse import SEED_DIR, validate_dir

playbooks_app = typer.Typer(
    help="Validate, load and list playbook templates.", no_args_is_help=True
)

TeamOpt = Annotated[
    str | None, typer.Option("--team", help="Slack team id (default: the only one)")
]
DirArg = Annotated[Path, typer.Argument(help="Folder of *.yaml playbooks")]


def _check_folder(folder: Path) -> None:
    from bot.clikit import fail

    if not folder.is_dir():
        raise fail(f"{folder}: not a folder", 2)


@playbooks_app.command("validate")
def validate(folder: DirArg = SEED_DIR) -> None:
    """Check every playbook in FOLDER; print each problem as file:line:column and exit 1 on
    any error (warnings alone exit 0)."""
    _check_folder(folder)
    templates, problems = validate_dir(folder)
    for problem in problems:
        typer.echo(str(problem), err=problem.is_error)
    errors = sum(p.is_error for p in problems)
    typer.echo(
        f"{len(templates)} playbook(s) valid, {errors} error(s), "
        f"{len(problems) - errors} warning(s)"
    )
    if errors:
        raise typer.Exit(1)


@playbooks_app.command("load")
def load(folder: DirArg = SEED_DIR, team: TeamOpt = None) -> None:
    """Store FOLDER's playbooks for a team: unchanged files keep their version, changed ones
    become a new version (running cases keep theirs). Exit 1 if any file had errors."""
    from bot.clikit import checked_runtime, command_team, settings_or_exit
    from bot.db import session_scope
    from bot.playbooks.service import load_dir

    _check_folder(folder)
    settings = settings_or_exit()
    rt = checked_runtime(settings)
    team_id, _ = command_team(settings, rt, team)
    with session_scope(rt.engine) as session:
        report = load_dir(session, team_id, folder)
    for line in report.lines():
        typer.echo(line)
    if report.errors:
        raise typer.Exit(1)


@playbooks_app.command("list")
def list_(team: TeamOpt = None) -> None:
    """List the team's active playbooks (key, version, steps, name)."""
    from bot.clikit import checked_runtime, command_team, settings_or_exit
    from bot.db import session_scope
    from bot.playbooks.service import active_playbooks, ensure_seeded

    settings = settings_or_exit()
    rt = checked_runtime(settings)
    team_id, _ = command_team(settings, rt, team)
    with session_scope(rt.engine) as session:
        ensure_seeded(session, team_id)
        for row in active_playbooks(session, team_id):
            steps = len(row.definition.get("steps", []))
            typer.echo(f"{row.key:<22} v{row.version:<3} {steps} steps  {row.name}")


def register(app: typer.Typer) -> None:
    app.add_typer(playbooks_app, name="playbooks")
