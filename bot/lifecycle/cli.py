"""`followthrough export --team T` and `followthrough purge --team T --yes`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        team: Annotated[str, typer.Option("--team", help="Slack team id to export")],
        out: Annotated[
            Path, typer.Option("--out", help="Directory for the JSON-lines files")
        ] = Path("export"),
    ) -> None:
        """Write every row of one workspace, one JSON-lines file per table."""
        from bot.clikit import checked_runtime, settings_or_exit
        from bot.lifecycle.service import export_team

        rt = checked_runtime(settings_or_exit())
        target = out / team
        counts = export_team(rt.engine, team, target)
        for name, n in counts.items():
            typer.echo(f"{name:<16} {n:>8} rows")
        typer.echo(f"Exported {sum(counts.values())} rows to {target}/")

    @app.command("purge")
    def purge(
        team: Annotated[str, typer.Option("--team", help="Slack team id to delete")],
        yes: Annotated[bool, typer.Option("--yes", help="Really delete everything")] = False,
    ) -> None:
        """Delete ALL of one workspace's data (every table, one transaction). Export first."""
        from bot.clikit import checked_runtime, fail, settings_or_exit
        from bot.lifecycle.service import count_team, purge_team

        rt = checked_runtime(settings_or_exit())
        counts = count_team(rt.engine, team)
        total = sum(counts.values())
        if total == 0:
            typer.echo(f"Nothing stored for workspace {team}.")
            return
        if not yes:
            raise fail(
                f"This would delete {total} rows of workspace {team} "
                f"({', '.join(f'{k} {v}' for k, v in counts.items() if v)}). "
                "Run `followthrough export --team` first, then add --yes.",
                1,
            )
        deleted = purge_team(rt.engine, team)
        typer.echo(f"Deleted {sum(deleted.values())} rows of workspace {team}.")
