"""Which workspace (team) a command acts on, and the workspace row itself: created from what
Slack says about a token, deactivated when the app is uninstalled or its token revoked."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import audit, clock
from bot.config import Settings
from bot.db import session_scope
from bot.models import Workspace
from bot.workspaces.installations import changed

log = logging.getLogger(__name__)
TEAM_ID_RE = re.compile(r"^T[A-Z0-9]+$")


class NoWorkspace(RuntimeError):
    """The command cannot tell which workspace it is for; the message says how to."""


@dataclass(frozen=True)
class Identity:
    """Who a bot token belongs to, as `auth.test` answers (plus its granted scopes)."""

    team_id: str
    team_name: str | None
    bot_user_id: str | None
    bot_id: str | None
    scopes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.team_id} · {self.team_name}" if self.team_name else self.team_id


def ensure_workspace(
    session: Session,
    team_id: str,
    name: str | None = None,
    bot_user_id: str | None = None,
    bot_id: str | None = None,
) -> Workspace:
    ws = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
    if ws is None:
        ws = Workspace(team_id=team_id, name=name, bot_user_id=bot_user_id, bot_id=bot_id)
        session.add(ws)
        session.flush()
        return ws
    changed = False
    for attr, value in (("name", name), ("bot_user_id", bot_user_id), ("bot_id", bot_id)):
        if value and getattr(ws, attr) != value:
            setattr(ws, attr, value)
            changed = True
    if changed:
        session.add(ws)
    return ws


def remember(session: Session, identity: Identity, *, actor: str = "system") -> Workspace:
    """The workspace a working token belongs to; a workspace that had uninstalled the app and
    now answers again (reinstalled) is active again."""
    ws = ensure_workspace(
        session, identity.team_id, identity.team_name, identity.bot_user_id, identity.bot_id
    )
    if not ws.active:
        changed()
        ws.active, ws.deactivated_at, ws.deactivated_reason = True, None, None
        session.add(ws)
        audit.record(session, ws.team_id, actor, "workspace", ws.id, "reactivated")
    return ws


def deactivate(engine: Engine, team_id: str, reason: str) -> bool:
    """Stop all work for a workspace (app_uninstalled, tokens_revoked); its rows stay for
    export or purge. Returns False when it was already inactive (a repeated event)."""
    with session_scope(engine) as session:
        ws = ensure_workspace(session, team_id)
        if not ws.active:
            return False
        changed()
        ws.active, ws.deactivated_at, ws.deactivated_reason = False, clock.now(), reason
        session.add(ws)
        audit.record(session, team_id, "slack", "workspace", ws.id, "deactivated", reason=reason)
    return True


def stop_workspace(engine: Engine, settings: Settings, team_id: str, reason: str) -> bool:
    """The workspace uninstalled the app or revoked its bot token: deactivate it, forget its
    tokens, keep its data (say how to export or purge it). Idempotent."""
    from bot.workspaces.installations import delete_team_tokens

    changed = deactivate(engine, team_id, reason)
    delete_team_tokens(engine, team_id)
    if changed:
        days = settings.uninstalled_retention_days
        keep = (
            f"it is deleted in {days} day(s) (UNINSTALLED_RETENTION_DAYS)"
            if days is not None
            else "it is kept until you purge it"
        )
        log.warning(
            "workspace %s: %s — nothing more is sent there; its data stays for export "
            "(`followthrough export --team %s`), %s (`followthrough purge --team %s --yes`)",
            team_id,
            reason,
            team_id,
            keep,
            team_id,
        )
    return changed


def is_active(session: Session, team_id: str) -> bool:
    """A workspace we never saw counts as active (the token check decides); only a recorded
    uninstall or revocation makes it inactive."""
    active = session.exec(select(Workspace.active).where(Workspace.team_id == team_id)).first()
    return active is None or bool(active)


def inactive_teams() -> sa.Select:
    """Sub-select of the uninstalled/revoked teams, for `team_id NOT IN (…)` in due-work
    queries: scheduled jobs never pick work of a workspace that is gone."""
    return sa.select(col(Workspace.team_id)).where(col(Workspace.active).is_(False))


def active_only(team_column: Any) -> sa.ColumnElement[bool]:
    """`WHERE` clause keeping rows of active workspaces only."""
    return team_column.not_in(inactive_teams())


def workspaces(session: Session) -> list[Workspace]:
    return list(session.exec(select(Workspace).order_by(Workspace.team_id)))


def get_workspace(session: Session, team_id: str) -> Workspace | None:
    return session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()


def set_cs_channel(session: Session, team_id: str, channel_id: str | None) -> Workspace:
    ws = ensure_workspace(session, team_id)
    ws.cs_channel_id = channel_id
    session.add(ws)
    audit.record(session, team_id, "cli", "workspace", ws.id, "cs_channel_set", channel=channel_id)
    return ws


def _names(rows: list[Workspace]) -> str:
    return ", ".join(f"{w.team_id} {w.name}" if w.name else w.team_id for w in rows)


def resolve_team(session: Session, explicit: str | None) -> str:
    """Offline (no Slack to ask): `--team` must be a Slack team id, and one this database
    already knows when it knows any; without `--team`, the only active workspace."""
    known = workspaces(session)
    active = [w for w in known if w.active]
    if explicit:
        team = explicit.strip()
        if not TEAM_ID_RE.match(team):
            raise NoWorkspace(
                f"--team '{explicit}' is not a Slack team id (T followed by letters and digits; "
                "set SLACK_BOT_TOKEN and leave --team out to have it read from Slack)"
            )
        if known and team not in {w.team_id for w in known}:
            raise NoWorkspace(
                f"--team {team} is not a workspace of this database (known: {_names(known)})"
            )
        return team
    if len(active) == 1:
        return active[0].team_id
    if not active:
        raise NoWorkspace(
            "No workspace yet: set SLACK_BOT_TOKEN (see `followthrough doctor`) so it is read "
            "from Slack, or pass --team T… (your Slack team id)."
        )
    raise NoWorkspace(f"Several workspaces ({_names(active)}): pass --team.")


def resolve_installed(session: Session, explicit: str | None, installed: list[str]) -> str:
    """OAuth mode: `--team` must be an installed, active workspace; without it, the only one."""
    known = {w.team_id: w for w in workspaces(session)}
    live = [t for t in installed if known.get(t) is None or known[t].active]
    rows = [known.get(t) or Workspace(team_id=t) for t in live]
    if explicit:
        if explicit in live:
            return explicit
        why = (
            "has uninstalled the app"
            if explicit in known and not known[explicit].active
            else "has not installed the app"
        )
        listed = _names(rows) if rows else "none yet"
        raise NoWorkspace(f"--team {explicit} {why} (installed: {listed})")
    if len(live) == 1:
        return live[0]
    if not live:
        raise NoWorkspace(
            "No workspace has installed the app yet: open /slack/install on the public URL "
            "of `followthrough serve` from the workspace."
        )
    raise NoWorkspace(f"Several workspaces ({_names(rows)}): pass --team.")
