"""Playbook templates in the database: one row per (team, key, version).

A template's content decides its version: loading the same content again changes nothing,
changed content becomes version + 1, and older versions stay so a running case keeps the
exact steps it started with (`Case.playbook_id` points at the version row). The latest
version of a key is the active one unless the key is retired.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from bot import audit
from bot.db import session_scope
from bot.models import Playbook
from bot.people.service import is_cs_admin as is_admin  # the one rule, under the name callers use
from bot.playbooks.parse import SEED_DIR, PlaybookError, Problem, parse_playbook, validate_dir
from bot.playbooks.schema import PlaybookTemplate

log = logging.getLogger(__name__)


class PlaybookStoreError(ValueError):
    """A change to a stored playbook that cannot be made; the message is safe to show.
    `field` names the step field at fault when one is (for field-level modal errors)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Loaded:
    key: str
    version: int
    outcome: str  # created | new_version | unchanged


@dataclass
class LoadReport:
    loaded: list[Loaded] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    def lines(self) -> list[str]:
        out = [
            f"{item.key}: v{item.version} {item.outcome.replace('_', ' ')}" for item in self.loaded
        ]
        out += [str(p) for p in self.problems]
        return out


def definition_of(template: PlaybookTemplate) -> dict[str, Any]:
    """The stored JSON form of a template; `version` lives on the row, not in the content."""
    data = template.model_dump(mode="json", exclude={"version"})
    for step in data["steps"]:
        step.pop("order", None)  # position in the list is the order once validated
    return data


def template_of(row: Playbook) -> PlaybookTemplate:
    """Rebuild the validated template from a stored version (checked again on the way out)."""
    return PlaybookTemplate.model_validate({**row.definition, "version": row.version})


def _versions(session: Session, team_id: str, key: str) -> list[Playbook]:
    stmt = (
        select(Playbook)
        .where(Playbook.team_id == team_id, Playbook.key == key)
        .order_by(col(Playbook.version).desc())
    )
    return list(session.exec(stmt))


def latest(session: Session, team_id: str, key: str) -> Playbook | None:
    """The newest version of `key`, retired or not."""
    rows = _versions(session, team_id, key)
    return rows[0] if rows else None


def get_playbook(session: Session, team_id: str, key: str) -> Playbook | None:
    """The active version of `key`, or None when unknown or retired."""
    row = latest(session, team_id, key)
    return row if row is not None and not row.retired else None


def get_version(session: Session, team_id: str, playbook_id: int) -> Playbook | None:
    row = session.get(Playbook, playbook_id)
    return row if row is not None and row.team_id == team_id else None


def active_playbooks(session: Session, team_id: str) -> list[Playbook]:
    """The active version of every non-retired key, sorted by name."""
    newest: dict[str, Playbook] = {}
    for row in session.exec(select(Playbook).where(Playbook.team_id == team_id)):
        if row.key not in newest or row.version > newest[row.key].version:
            newest[row.key] = row
    return sorted((r for r in newest.values() if not r.retired), key=lambda r: r.name.lower())


# --- what /report-risk offers, cached per workspace ------------------------------------------
#
# Every /report-risk and shortcut shows the team's active playbooks (key, name). Reading them
# means loading every version's JSON; they change a few times a year. So each process keeps
# the list per workspace for CHOICES_TTL seconds, and a write in this process (save, retire,
# load, purge) drops its team's entry once it commits. Another process's write (the CLI's
# `playbooks load`, a second web process) is seen within the TTL: a version check would cost
# a query on every command, the thing this cache saves. Stale at worst means a just-retired
# playbook offered for a few seconds — the form's submit checks the store itself and asks for
# another risk — or a new one not offered yet.

CHOICES_TTL = 30.0
REFRESH_SECONDS = 5.0  # how long a burst is served the expired list while one request reads
_choices: dict[tuple[str, str], tuple[float, list[tuple[str, str]]]] = {}  # (database, team)
_choices_lock = threading.Lock()
_STALE_KEY = "ft_playbooks_changed"


def _where(session: Session | OrmSession, team_id: str) -> tuple[str, str]:
    return _place(session.get_bind().engine, team_id)


def _place(engine: Engine, team_id: str) -> tuple[str, str]:
    return (engine.url.render_as_string(hide_password=True), team_id)


def cached_choices(engine: Engine, team_id: str) -> list[tuple[str, str]] | None:
    """`choices` while the cached list is fresh, without a session; None when it must be read."""
    with _choices_lock:
        hit = _choices.get(_place(engine, team_id))
    return list(hit[1]) if hit is not None and hit[0] > time.monotonic() else None


def choices_changed(session: Session | OrmSession, team_id: str) -> None:
    """This transaction changes `team_id`'s playbooks: forget its cached choices on commit."""
    session.info.setdefault(_STALE_KEY, set()).add(_where(session, team_id))


@event.listens_for(OrmSession, "after_commit")
def _forget_changed(session: OrmSession) -> None:
    places = session.info.pop(_STALE_KEY, None)
    if places:
        with _choices_lock:
            for place in places:
                _choices.pop(place, None)


@event.listens_for(OrmSession, "after_rollback")
def _keep_unchanged(session: OrmSession) -> None:
    session.info.pop(_STALE_KEY, None)


def choices(session: Session, team_id: str) -> list[tuple[str, str]]:
    """(key, name) of the team's active playbooks, sorted by name — cached (see above). Empty
    for a team with none yet: the caller seeds them in a transaction of its own
    (`ensure_seeded_once`), since on SQLite a read that turns into a write fails at once when
    another connection wrote in between ("database is locked", whatever the busy timeout)."""
    now = time.monotonic()
    place = _where(session, team_id)
    with _choices_lock:
        hit = _choices.get(place)
        if hit is not None and hit[0] > now:
            return list(hit[1])
        if hit is not None:  # expired: this request reads; the others keep the list meanwhile
            _choices[place] = (now + REFRESH_SECONDS, hit[1])
    rows = active_playbooks(session, team_id)
    found = [(p.key, p.name) for p in rows]
    if found and place not in session.info.get(_STALE_KEY, ()):
        with _choices_lock:
            _choices[place] = (now + CHOICES_TTL, found)
    return list(found)


def save_template(
    session: Session,
    team_id: str,
    template: PlaybookTemplate,
    *,
    source: str = "file",
    actor: str = "cli",
) -> tuple[Playbook, Loaded]:
    """Store a template: same content → same version; changed → version + 1."""
    definition = definition_of(template)
    current = latest(session, team_id, template.key)
    if current is not None and current.definition == definition:
        return current, Loaded(template.key, current.version, "unchanged")
    version = current.version + 1 if current is not None else 1
    row = Playbook(
        team_id=team_id,
        key=template.key,
        version=version,
        name=template.name,
        summary=template.summary,
        definition=definition,
        source=source,
        retired=False,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    choices_changed(session, team_id)
    outcome = "created" if current is None else "new_version"
    audit.record(
        session,
        team_id,
        actor,
        "playbook",
        row.id,
        outcome,
        to_state=f"v{version}",
        key=template.key,
        source=source,
    )
    return row, Loaded(template.key, version, outcome)


def load_templates(
    session: Session,
    team_id: str,
    templates: Iterable[PlaybookTemplate],
    *,
    source: str = "file",
    actor: str = "cli",
) -> list[Loaded]:
    return [save_template(session, team_id, t, source=source, actor=actor)[1] for t in templates]


def load_dir(
    session: Session, team_id: str, path: str | Path = SEED_DIR, *, actor: str = "cli"
) -> LoadReport:
    """Validate a folder and store every usable template; problems are reported, not raised."""
    templates, problems = validate_dir(path)
    report = LoadReport(problems=problems)
    report.loaded = load_templates(session, team_id, templates, source="file", actor=actor)
    return report


def ensure_seeded(session: Session, team_id: str) -> int:
    """Load the seed playbooks the first time a team has none, so a fresh install works.

    Two first reports at once may both try: the loser's savepoint rolls back and it uses
    the winner's rows. Returns how many templates were stored.
    """
    if session.exec(select(Playbook.id).where(Playbook.team_id == team_id).limit(1)).first():
        return 0
    templates, problems = validate_dir(SEED_DIR)
    if any(p.is_error for p in problems):
        log.warning("seed playbooks have problems: %s", "; ".join(map(str, problems)))
    try:
        with session.begin_nested():
            load_templates(session, team_id, templates, source="seed", actor="system")
    except IntegrityError:
        log.info("seed playbooks for %s were loaded concurrently", team_id)
        return 0
    return len(templates)


def ensure_seeded_once(engine: Engine, team_id: str, attempts: int = 3) -> int:
    """`ensure_seeded` in its own transaction, retried when another worker seeds the same
    team at the same moment (SQLite reports that as a lock error, PostgreSQL as a duplicate)."""
    for attempt in range(attempts):
        try:
            with session_scope(engine) as session:
                return ensure_seeded(session, team_id)
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            log.info("seeding %s raced with another worker; checking again", team_id)
    return 0


def retire(session: Session, team_id: str, key: str, actor: str) -> Playbook:
    """Hide `key` from /report-risk; open cases keep their version. Loading changed content
    later brings it back as a new version."""
    rows = _versions(session, team_id, key)
    if not rows:
        raise PlaybookStoreError(f"No playbook '{key}'.")
    if rows[0].retired:
        raise PlaybookStoreError(f"Playbook '{key}' is already retired.")
    for row in rows:
        row.retired = True
        session.add(row)
    choices_changed(session, team_id)
    audit.record(
        session,
        team_id,
        actor,
        "playbook",
        rows[0].id,
        "retired",
        from_state="active",
        to_state="retired",
        key=key,
    )
    return rows[0]


def save_yaml(
    session: Session, team_id: str, text: str, actor: str, source_name: str = "playbook.yaml"
) -> tuple[Playbook, Loaded]:
    """Create or update a playbook from YAML typed in Slack; `PlaybookError` lists problems
    with their lines."""
    template = parse_playbook(text, source_name)
    return save_template(session, team_id, template, source="slack", actor=actor)


def _revise(
    session: Session, team_id: str, key: str, actor: str, change: dict[str, Any]
) -> tuple[Playbook, Loaded]:
    current = get_playbook(session, team_id, key)
    if current is None:
        raise PlaybookStoreError(f"No active playbook '{key}'.")
    try:
        template = PlaybookTemplate.model_validate({**current.definition, **change})
    except ValidationError as exc:
        err = exc.errors()[0]
        names = [p for p in err["loc"] if isinstance(p, str)]
        msg = str(err.get("ctx", {}).get("error") or err["msg"]).removeprefix("Value error, ")
        raise PlaybookStoreError(msg, names[-1] if names else None) from None
    return save_template(session, team_id, template, source="slack", actor=actor)


def edit_step(
    session: Session, team_id: str, key: str, step_id: str, changes: dict[str, Any], actor: str
) -> tuple[Playbook, Loaded]:
    """A new version with one step's fields changed (validated like a file)."""
    current = get_playbook(session, team_id, key)
    if current is None:
        raise PlaybookStoreError(f"No active playbook '{key}'.")
    steps = [dict(s) for s in current.definition["steps"]]
    match = [s for s in steps if s["id"] == step_id]
    if not match:
        raise PlaybookStoreError(f"Playbook '{key}' has no step '{step_id}'.")
    cleaned = {k: v for k, v in changes.items() if v not in (None, "")}
    for optional in ("recipient", "subject", "after"):  # emptied in the form = removed
        if optional in changes and changes[optional] in (None, ""):
            cleaned[optional] = None
    match[0].update(cleaned)
    return _revise(session, team_id, key, actor, {"steps": steps})


def reorder(
    session: Session, team_id: str, key: str, order: Sequence[str], actor: str
) -> tuple[Playbook, Loaded]:
    """A new version with the steps in `order` (every step id exactly once)."""
    current = get_playbook(session, team_id, key)
    if current is None:
        raise PlaybookStoreError(f"No active playbook '{key}'.")
    by_id = {s["id"]: s for s in current.definition["steps"]}
    if sorted(order) != sorted(by_id) or len(set(order)) != len(order):
        raise PlaybookStoreError("List every step id exactly once: " + ", ".join(by_id))
    return _revise(session, team_id, key, actor, {"steps": [by_id[i] for i in order]})


# --- one-transaction wrappers for the Slack layer ------------------------------------------


def may_change(engine: Engine, team_id: str, user_id: str, cs_admins: Iterable[str]) -> bool:
    with session_scope(engine) as session:
        return is_admin(session, team_id, user_id, cs_admins)


def list_active(engine: Engine, team_id: str) -> list[Playbook]:
    with session_scope(engine) as session:
        return active_playbooks(session, team_id)


def find_active(
    engine: Engine, team_id: str, key: str, *, retire_it_as: str | None = None
) -> Playbook | None:
    """The active playbook `key` (None if there is none); retired first when `retire_it_as`
    names who retires it."""
    with session_scope(engine) as session:
        row = get_playbook(session, team_id, key)
        if row is not None and retire_it_as:
            retire(session, team_id, row.key, retire_it_as)
        return row


def save_yaml_text(engine: Engine, team_id: str, text: str, actor: str) -> tuple[Playbook, Loaded]:
    with session_scope(engine) as session:
        return save_yaml(session, team_id, text, actor)


def edit_step_of(
    engine: Engine, team_id: str, key: str, step_id: str, changes: dict[str, Any], actor: str
) -> Playbook:
    with session_scope(engine) as session:
        return edit_step(session, team_id, key, step_id, changes, actor)[0]


def reorder_steps(
    engine: Engine, team_id: str, key: str, order: Sequence[str], actor: str
) -> Playbook:
    with session_scope(engine) as session:
        return reorder(session, team_id, key, order, actor)[0]


__all__ = [
    "LoadReport",
    "Loaded",
    "PlaybookError",
    "PlaybookStoreError",
    "active_playbooks",
    "choices",
    "choices_changed",
    "definition_of",
    "edit_step",
    "ensure_seeded",
    "ensure_seeded_once",
    "get_playbook",
    "get_version",
    "is_admin",
    "latest",
    "load_dir",
    "load_templates",
    "reorder",
    "retire",
    "save_template",
    "save_yaml",
    "template_of",
]
