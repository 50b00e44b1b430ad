"""The rules in force for a team: the YAML folder loaded into `SignalRule` rows (a broken
file keeps the rule it held) and parsed once per change for evaluation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bot import audit, clock
from bot.config import Settings
from bot.signals import rules as rl
from bot.signals.models import SignalRule, SignalRuleset

log = logging.getLogger(__name__)


def rules_folder(settings: Settings) -> Path:
    return Path(settings.signal_rules_dir) if settings.signal_rules_dir else rl.SEED_DIR


def _known_risks(session: Session, team_id: str) -> set[str]:
    from bot.playbooks.service import active_playbooks, ensure_seeded

    ensure_seeded(session, team_id)
    return {p.key for p in active_playbooks(session, team_id)}


@dataclass
class RulesLoad:
    changed: list[str] = field(default_factory=list)
    problems: list[rl.Problem] = field(default_factory=list)
    skipped: bool = False


def load_rules(
    session: Session, team_id: str, folder: Path, *, force: bool = False, actor: str = "system"
) -> RulesLoad:
    """Bring the team's rules in line with the folder. A file with an error changes nothing
    (the rule it held stays in force); its problems are kept for CS admins and logged at
    WARNING with file:line. A rule whose file was removed is retired."""
    out = RulesLoad()
    print_ = rl.fingerprint(folder)
    state = session.exec(select(SignalRuleset).where(SignalRuleset.team_id == team_id)).first()
    if state is not None and state.fingerprint == print_ and not force:
        out.skipped = True
        return out
    files, problems = rl.read_dir(folder, _known_risks(session, team_id))
    out.problems = problems
    for p in problems:
        if p.is_error:
            log.warning("signal rules: %s/%s (the rule in force is kept)", folder, p)
    current = {
        r.key: r for r in session.exec(select(SignalRule).where(SignalRule.team_id == team_id))
    }
    broken = {p.source.rsplit(".", 1)[0] for p in problems if p.is_error}
    seen = set()
    for f in files:
        seen.add(f.rule.key)
        row = current.get(f.rule.key)
        if row is not None and row.sha256 == f.sha256 and not row.retired:
            continue
        row = row or SignalRule(team_id=team_id, key=f.rule.key, version=0)
        row.version, row.definition, row.source = row.version + 1, f.rule.to_json(), f.source
        row.sha256, row.retired, row.loaded_at = f.sha256, False, clock.now()
        session.add(row)
        session.flush()
        audit.record(
            session,
            team_id,
            actor,
            "signal_rule",
            row.id,
            "loaded",
            version=row.version,
            source=f.source,
        )
        out.changed.append(f.rule.key)
    for key, row in current.items():
        if key not in seen and key not in broken and not row.retired:
            row.retired = True
            session.add(row)
            audit.record(session, team_id, actor, "signal_rule", row.id, "retired")
            out.changed.append(key)
    state = state or SignalRuleset(team_id=team_id)
    state.fingerprint, state.checked_at = print_, clock.now()
    state.problems = [
        {
            "source": p.source,
            "line": p.line,
            "column": p.column,
            "message": p.message,
            "severity": p.severity,
        }
        for p in problems
    ]
    session.add(state)
    return out


_PARSED: dict[tuple[str, str], tuple[tuple[Any, ...], list[rl.Rule]]] = {}


def rules_in_force(session: Session, team_id: str) -> list[rl.Rule]:
    """The team's rules; parsed once per change (the key, version and retirement of every
    row is the cheap stamp a batch checks)."""
    rules = SignalRule.__table__  # type: ignore[attr-defined]
    stamp = tuple(
        session.execute(
            sa.select(rules.c.id, rules.c.version, rules.c.retired)
            .where(rules.c.team_id == team_id)
            .order_by(rules.c.id)
        ).all()
    )
    cache_key = (str(session.get_bind().engine.url), team_id)
    hit = _PARSED.get(cache_key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    out = []
    for row in session.exec(
        select(SignalRule).where(SignalRule.team_id == team_id, SignalRule.retired == False)  # noqa: E712
    ):
        try:
            out.append(rl.rule_from_json(row.definition))
        except ValueError:
            log.warning("stored signal rule %s no longer validates; skipped", row.key)
    _PARSED[cache_key] = (stamp, out)
    return out


def rule_problems(session: Session, team_id: str) -> list[str]:
    state = session.exec(select(SignalRuleset).where(SignalRuleset.team_id == team_id)).first()
    if state is None:
        return []
    return [
        f"{p['source']}:{p['line']}:{p['column']}: {p['message']}"
        for p in state.problems
        if p.get("severity") == "error"
    ]
