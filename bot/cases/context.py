"""What we know about an account when a risk is reported, bounded so drafts and cards stay small.

`gather` reads the database (account, contacts, transcripts, commitments, earlier cases);
`relevant_lines` and `render_facts` are pure. The result is stored on the case
(`Case.gathered`) so the team can later see what the plan was based on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from bot import clock
from bot.accounts.service import contacts_by_role
from bot.crm.service import crm_facts
from bot.models import (
    Account,
    Case,
    Commitment,
    CommitmentStatus,
    Playbook,
    Transcript,
)

MAX_COMMITMENTS = 10
MAX_CASES = 5
MAX_TRANSCRIPTS = 3
MAX_EXCERPT_LINES = 4
MAX_LINE_CHARS = 300
MAX_EXCERPT_CHARS = 1500
MAX_CONTACTS_PER_ROLE = 5

_WORD = re.compile(r"[a-z][a-z'-]{3,}")
_STOP = frozenset(
    """
    about after again also been before being could does doing from have having here into just
    like more most much only other over said same some such than that their them then there
    these they this those very want were what when where which while will with would your
    yours thanks thank okay yeah really think going know right good great well sure
""".split()
)


@dataclass
class Excerpt:
    transcript_id: int
    call_date: str | None
    lines: list[str]


@dataclass
class Gathered:
    """The account's context at report time, JSON-safe (stored on the case)."""

    account: dict[str, Any]
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    excerpts: list[Excerpt] = field(default_factory=list)
    open_commitments: list[str] = field(default_factory=list)
    overdue_commitments: list[str] = field(default_factory=list)
    previous_cases: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Gathered:
        """What a case stored (`Case.gathered`) back as the context it was planned from."""
        return cls(
            account=dict(data.get("account") or {}),
            contacts=dict(data.get("contacts") or {}),
            excerpts=[
                Excerpt(
                    int(e.get("transcript_id") or 0), e.get("call_date"), list(e.get("lines") or [])
                )
                for e in data.get("excerpts") or []
                if isinstance(e, Mapping)
            ],
            open_commitments=list(data.get("open_commitments") or []),
            overdue_commitments=list(data.get("overdue_commitments") or []),
            previous_cases=list(data.get("previous_cases") or []),
        )

    @property
    def last_call_excerpt(self) -> str | None:
        if not self.excerpts:
            return None
        return "\n".join(f"> {line}" for line in self.excerpts[0].lines) or None


def keywords(*texts: str) -> set[str]:
    """Content words (4+ letters, no filler) of the reporter's words and the risk name."""
    words: set[str] = set()
    for text in texts:
        words |= {w.strip("'-") for w in _WORD.findall((text or "").lower())}
    return {w for w in words if w not in _STOP and len(w) >= 4}


def relevant_lines(text: str, words: set[str], limit: int = MAX_EXCERPT_LINES) -> list[str]:
    """The transcript lines that share most words with the report, in call order; the last
    lines of the call when nothing matches (how a call ends is usually the latest news)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    scored = []
    for index, line in enumerate(lines):
        score = len(words & keywords(line))
        if score:
            scored.append((score, index))
    if scored:
        best = sorted(i for _, i in sorted(scored, key=lambda s: (-s[0], s[1]))[:limit])
    else:
        best = list(range(max(0, len(lines) - min(limit, 2)), len(lines)))
    return [_clip(lines[i], MAX_LINE_CHARS) for i in best]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _commitment_line(c: Commitment) -> str:
    who = c.owner_name or "someone"
    due = f" (due {c.due_date.isoformat()})" if c.due_date else ""
    return _clip(f"{who}: {c.text}{due}", 200)


def gather(
    session: Session,
    team_id: str,
    account: Account,
    *,
    report_text: str = "",
    risk_name: str = "",
    today: dt.date | None = None,
    attached_transcript_id: int | None = None,
) -> Gathered:
    """Everything a plan may draw on, each part capped (see the MAX_* constants).

    `attached_transcript_id` is a call sent with this very report: it is quoted first,
    whatever its call date, because the reporter chose it as the evidence."""
    today = today or clock.now().date()
    assert account.id is not None
    gathered = Gathered(account=account_facts(account, today))
    gathered.account.update(crm_facts(session, team_id, account))
    for role, people in sorted(contacts_by_role(session, team_id, account.id).items()):
        gathered.contacts[role] = [
            {"name": c.name, "email": c.email, "title": c.title}
            for c in people[:MAX_CONTACTS_PER_ROLE]
        ]
    words = keywords(report_text, risk_name)
    transcripts = _transcripts(session, team_id, account.id, attached_transcript_id)
    budget = MAX_EXCERPT_CHARS
    for t in transcripts:
        lines = []
        for line in relevant_lines(t.text or "", words):
            if len(line) > budget:
                break
            lines.append(line)
            budget -= len(line)
        if lines:
            gathered.excerpts.append(
                Excerpt(t.id or 0, t.call_date.isoformat() if t.call_date else None, lines)
            )
    commitments = session.exec(
        select(Commitment)
        .where(
            Commitment.team_id == team_id,
            Commitment.account_id == account.id,
            Commitment.status == CommitmentStatus.OPEN,
        )
        .order_by(col(Commitment.due_date).asc(), col(Commitment.id).asc())
        .limit(50)
    )
    for c in commitments:
        if c.due_date is not None and c.due_date < today:
            if len(gathered.overdue_commitments) < MAX_COMMITMENTS:
                gathered.overdue_commitments.append(_commitment_line(c))
        elif len(gathered.open_commitments) < MAX_COMMITMENTS:
            gathered.open_commitments.append(_commitment_line(c))
    gathered.previous_cases = previous_cases(session, team_id, account.id)
    return gathered


def _transcripts(
    session: Session, team_id: str, account_id: int, attached_id: int | None
) -> list[Transcript]:
    """The attached call (team-scoped, read) first, then the account's latest calls."""
    first: list[Transcript] = []
    if attached_id is not None:
        first = list(
            session.exec(
                select(Transcript).where(
                    Transcript.team_id == team_id,
                    Transcript.id == attached_id,
                    col(Transcript.text).is_not(None),
                )
            )
        )
    query = (
        select(Transcript)
        .where(
            Transcript.team_id == team_id,
            Transcript.account_id == account_id,
            col(Transcript.text).is_not(None),
        )
        .order_by(col(Transcript.call_date).desc(), col(Transcript.id).desc())
        .limit(MAX_TRANSCRIPTS)
    )
    if attached_id is not None:
        query = query.where(Transcript.id != attached_id)
    return [*first, *session.exec(query)][:MAX_TRANSCRIPTS]


def previous_cases(session: Session, team_id: str, account_id: int) -> list[str]:
    rows = session.exec(
        select(Case, Playbook.name)
        .join(Playbook, col(Playbook.id) == Case.playbook_id)
        .where(Case.team_id == team_id, Case.account_id == account_id)
        .order_by(col(Case.opened_at).desc())
        .limit(MAX_CASES)
    )
    out = []
    for case, name in rows:
        opened = clock.as_utc(case.opened_at).date().isoformat()
        how = case.outcome if case.outcome != "open" else case.status
        at_step = f" at step {case.resolution_step}" if case.resolution_step else ""
        out.append(f"{name} (opened {opened}): {how}{at_step}")
    return out


def account_facts(account: Account, today: dt.date) -> dict[str, Any]:
    days = (account.renewal_date - today).days if account.renewal_date else None
    return {
        "id": account.id,
        "name": account.name,
        "domain": account.domain,
        "arr": account.arr,
        "renewal_date": account.renewal_date.isoformat() if account.renewal_date else None,
        "days_to_renewal": days,
        "tier": account.tier,
        "notes": _clip(account.notes, 500) if account.notes else None,
    }


def person_facts(
    name: str | None, email: str | None = None, title: str | None = None
) -> dict[str, Any] | None:
    """Placeholder facts for one person; None when we do not know who it is."""
    if not name or not name.strip():
        return None
    name = name.strip()
    facts: dict[str, Any] = {"name": name, "first_name": name.split()[0]}
    if email:
        facts["email"] = email
    if title:
        facts["title"] = title
    return facts


def render_facts(
    gathered: Gathered,
    *,
    risk_name: str,
    context_text: str,
    csm: dict[str, Any] | None,
    reporter: dict[str, Any] | None,
) -> dict[str, Any]:
    """The case-wide placeholder facts (see bot/playbooks/placeholders.py)."""
    account = dict(gathered.account)
    if account.get("renewal_date"):
        account["renewal_date"] = dt.date.fromisoformat(account["renewal_date"])
    facts: dict[str, Any] = {
        "account": account,
        "days_to_renewal": account.get("days_to_renewal"),
        "risk": {"name": risk_name},
        "context": context_text,
        "open_commitments": list(gathered.open_commitments),
        "overdue_commitments": list(gathered.overdue_commitments),
        "last_call_excerpt": gathered.last_call_excerpt,
        "previous_cases": list(gathered.previous_cases),
    }
    if csm:
        facts["csm"] = csm
    if reporter:
        facts["reporter"] = reporter
    return facts


def bounded(text: str, limit: int) -> str:
    """Context text for a draft: whole when short, else the first `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
