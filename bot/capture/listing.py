"""`/commitments`: the caller's open commitments, or someone's (`@someone`), or an account's.

The items reuse the digest's rows and controls (Done · Snooze · Reassign), so a commitment
looks and behaves the same in the digest, on App Home and here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, col, select

from bot.accounts.service import find_account, search_accounts
from bot.capture.blocks import list_message
from bot.commitments import service as cm
from bot.models import Account, Person
from bot.slack.blocks.common import escape

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
Kind = Literal["mine", "owner", "account", "settings"]


@dataclass(frozen=True)
class Query:
    kind: Kind
    value: str | None = None


class ListError(ValueError):
    """The filter names nobody and nothing; the message says what to type instead."""


def parse_query(text: str | None) -> Query:
    """Pure: what `/commitments <text>` asks for (Slack escapes mentions: `<@U123|name>`)."""
    text = (text or "").strip()
    if not text:
        return Query("mine")
    if text.lower() in {"settings", "setting", "digest"}:
        return Query("settings")
    m = _MENTION.match(text)
    if m:
        return Query("owner", m.group(1))
    if text.startswith("@"):
        return Query("owner", text[1:].strip())  # unescaped "@maya": resolved by name
    return Query("account", text)


def _owner_id(session: Session, team_id: str, value: str) -> str:
    if re.fullmatch(r"[UW][A-Z0-9]{2,}", value):
        return value
    wanted = value.lower()
    hits = [
        p
        for p in session.exec(select(Person).where(Person.team_id == team_id))
        if wanted in {(p.name or "").lower(), (p.real_name or "").lower()}
    ]
    if len(hits) != 1:
        raise ListError(
            f"I don't know who @{value} is. Type `/commitments @` and pick them from the list."
        )
    return hits[0].slack_user_id


def open_list(
    session: Session, team_id: str, caller: str, text: str | None, today: dt.date
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for `/commitments …`; ListError when the filter is unknown."""
    from bot.digest.blocks import item_blocks
    from bot.digest.service import commitment_item

    q = parse_query(text)
    if q.kind == "account":
        account = find_account(session, team_id, q.value or "")
        if account is None:
            close = search_accounts(session, team_id, q.value or "", limit=3)
            hint = (
                " Did you mean " + ", ".join(f"*{escape(a.name)}*" for a in close) + "?"
                if close
                else ""
            )
            raise ListError(f"No account matches “{escape(q.value)}”.{hint}")
        rows = cm.open_for(session, team_id, account_id=account.id)
        title = f"Open commitments for {escape(account.name)}"
        empty = f"No open commitments for {escape(account.name)}."
    else:
        owner = caller if q.kind == "mine" else _owner_id(session, team_id, q.value or "")
        rows = cm.open_for(session, team_id, owner_user_id=owner)
        title = "Your open commitments" if owner == caller else f"Open commitments of <@{owner}>"
        empty = (
            "You have no open commitments. :tada:"
            if owner == caller
            else f"<@{owner}> has no open commitments."
        )
    names = {
        a.id: a.name
        for a in session.exec(
            select(Account).where(
                Account.team_id == team_id,
                col(Account.id).in_({c.account_id for c in rows if c.account_id} or {-1}),
            )
        )
    }
    blocks = [item_blocks(commitment_item(c, names.get(c.account_id or 0)), today) for c in rows]
    return list_message(title, blocks, len(rows), empty)
