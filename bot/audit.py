"""The append-only audit log: every state change writes a row in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from bot.models import AuditEvent


def record(
    session: Session,
    team_id: str,
    actor: str,
    entity: str,
    entity_id: int | None,
    action: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        team_id=team_id,
        actor=actor or "system",
        entity=entity,
        entity_id=entity_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        detail={k: v for k, v in detail.items() if v is not None},
    )
    session.add(event)
    return event


def history(session: Session, team_id: str, entity: str, entity_id: int) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(
            AuditEvent.team_id == team_id,
            AuditEvent.entity == entity,
            AuditEvent.entity_id == entity_id,
        )
        .order_by(AuditEvent.id)  # type: ignore[arg-type]
    )
    return list(session.exec(stmt))
