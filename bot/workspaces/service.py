"""Which workspace (team) a command acts on, and the workspace row itself."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.models import Workspace


class NoWorkspace(RuntimeError):
    pass


def ensure_workspace(
    session: Session, team_id: str, name: str | None = None, bot_user_id: str | None = None
) -> Workspace:
    ws = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
    if ws is None:
        ws = Workspace(team_id=team_id, name=name, bot_user_id=bot_user_id)
        session.add(ws)
        session.flush()
    elif (name and ws.name != name) or (bot_user_id and ws.bot_user_id != bot_user_id):
        ws.name, ws.bot_user_id = name or ws.name, bot_user_id or ws.bot_user_id
        session.add(ws)
    return ws


def resolve_team(session: Session, explicit: str | None) -> str:
    """--team wins; otherwise the only workspace this database knows."""
    if explicit:
        return explicit
    teams = list(session.exec(select(Workspace.team_id)))
    if len(teams) == 1:
        return teams[0]
    if not teams:
        raise NoWorkspace(
            "No workspace yet: pass --team T… (your Slack team id), or start the app once."
        )
    raise NoWorkspace(f"Several workspaces ({', '.join(teams)}): pass --team.")
