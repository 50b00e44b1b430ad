"""One authority for every status change: a state machine is a table of named transitions
(`action → {from: to}`), and the only way to write a status is `move` / `move_rows` (or the
statement `moving` builds once for a hot path), which look the transition up and write it as
a guarded UPDATE (`… WHERE status IN (from …)`).

So a stale click, a second worker or a late retry cannot move a row from a state the table
does not allow: the UPDATE finds nothing and the caller is told. `tests/core/test_states.py`
walks every table and checks the code writes statuses nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.db import Db


class StateError(ValueError):
    """A refused transition; the message is shown to the person who tried it."""


@dataclass(frozen=True)
class Machine:
    """The named transitions of one status column."""

    name: str  # "step", "case", "commitment" … (used in messages)
    table: sa.Table
    transitions: Mapping[str, Mapping[str, str]]
    refused: str = "This {name} is already {state}; nothing to {action}."

    def to(self, action: str, current: str) -> str:
        """Pure: the state after `action` from `current`, or StateError saying why not."""
        allowed = self.transitions.get(action)
        if allowed is None:
            raise StateError(f"Unknown {self.name} action {action!r}.")
        if current not in allowed:
            shown = str(current).replace("_", " ")
            raise StateError(self.refused.format(name=self.name, state=shown, action=action))
        return allowed[current]

    def sources(self, action: str) -> list[str]:
        if action not in self.transitions:
            raise StateError(f"Unknown {self.name} action {action!r}.")
        return list(self.transitions[action])

    def states(self) -> set[str]:
        return {s for pairs in self.transitions.values() for pair in pairs.items() for s in pair}


def _target(machine: Machine, action: str) -> Any:
    """The new status as SQL: one target, or a CASE over the row's current status."""
    pairs = machine.transitions[action]
    status = machine.table.c.status
    targets = set(pairs.values())
    if len(targets) == 1:
        return next(iter(targets))
    return sa.case({src: dst for src, dst in pairs.items()}, value=status)


def moving(
    machine: Machine, action: str, *where: Any, values: Mapping[str, Any] | None = None
) -> Any:
    """The guarded UPDATE that applies `action` to the rows matching `where`: what
    `move_rows` runs, for a hot path to build once (with bound parameters) and execute many
    times."""
    t = machine.table
    return (
        sa.update(t)
        .where(t.c.status.in_(machine.sources(action)), *where)
        .values(status=_target(machine, action), **dict(values or {}))
        .execution_options(synchronize_session=False)
    )


def move_rows(
    session: Db,
    machine: Machine,
    action: str,
    *where: Any,
    values: Mapping[str, Any] | None = None,
    returning: tuple[Any, ...] = (),
) -> Any:
    """Apply `action` to every row matching `where` that is in one of its source states.
    Returns the rowcount, or the RETURNING rows when `returning` is given."""
    stmt = moving(machine, action, *where, values=values)
    if returning:
        return session.execute(stmt.returning(*returning)).all()
    return session.execute(stmt).rowcount  # type: ignore[attr-defined]


def move(
    session: Session,
    machine: Machine,
    obj: Any,
    action: str,
    *where: Any,
    **values: Any,
) -> str:
    """Move one loaded row: checks the transition against the object's status, writes it
    guarded (`id` and the object's current status), and keeps the object in step without
    marking it dirty. Raises StateError when the row moved meanwhile. Returns the old status."""
    before = str(obj.status)
    after = machine.to(action, before)
    t = machine.table
    session.flush()
    done = session.execute(
        sa.update(t)
        .where(t.c.id == obj.id, t.c.status == before, *where)
        .values(status=after, **values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if done != 1:
        session.expire(obj)
        raise StateError(
            f"This {machine.name} changed meanwhile (it is {obj.status} now); nothing was done."
        )
    set_committed_value(obj, "status", after)
    computed = [k for k, v in values.items() if isinstance(v, sa.sql.ClauseElement)]
    for key, value in values.items():
        if key not in computed:
            set_committed_value(obj, key, value)
    if computed:
        session.expire(obj, computed)
    return before
