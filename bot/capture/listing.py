"""`/commitments`: the caller's open commitments, or someone's (`@someone`), or an account's.

The items reuse the digest's rows and controls (Done · Snooze · Reassign), so a commitment
looks and behaves the same in the digest, on App Home and here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.accounts.service import find_account, search_accounts
from bot.capture.blocks import list_message
from bot.commitments import service as cm
from bot.config import Settings
from bot.db import session_scope
from bot.models import Account, Person
from bot.slack.blocks.common import context, escape
from bot.slack.payload import BadInput, parse_id, user_id_ok

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


@dataclass(frozen=True)
class Listed:
    """Whose (or which account's) open commitments a list shows. `code` travels in each
    row's block id, so a click on the list (an ephemeral: Slack sends no copy of it back)
    can show the same list again: an owner's user id, or `a<account id>`."""

    code: str
    title: str
    empty: str
    owner: str | None = None
    account_id: int | None = None


def _resolve(session: Session, team_id: str, caller: str, text: str | None) -> Listed:
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
        return _account_list(account)
    owner = caller if q.kind == "mine" else _owner_id(session, team_id, q.value or "")
    return _owner_list(owner, caller)


def _account_list(account: Account) -> Listed:
    name = escape(account.name)
    return Listed(
        f"a{account.id}",
        f"Open commitments for {name}",
        f"No open commitments for {name}.",
        account_id=account.id,
    )


def _owner_list(owner: str, caller: str) -> Listed:
    if owner == caller:
        return Listed(owner, "Your open commitments", "You have no open commitments. :tada:", owner)
    return Listed(
        owner, f"Open commitments of <@{owner}>", f"<@{owner}> has no open commitments.", owner
    )


LIST_GONE = "That list is out of date, so nothing changed; type `/commitments` again."


def check_code(code: str) -> str:
    """A list code as `Listed.code` writes it (a user id or `a<account id>`); BadInput if not
    (checked before a click on the list changes anything)."""
    if user_id_ok(code) or (code.startswith("a") and parse_id(code[1:], LIST_GONE)):
        return code
    raise BadInput(LIST_GONE)


def _by_code(session: Session, team_id: str, caller: str, code: str) -> Listed:
    """The list a row's block id names again; ListError when it names nothing any more."""
    if check_code(code).startswith("a"):
        account = session.get(Account, parse_id(code[1:]))
        if account is None or account.team_id != team_id:
            raise ListError("That account is gone; type `/commitments` again.")
        return _account_list(account)
    return _owner_list(code, caller)


def _render(
    session: Session, team_id: str, listed: Listed, today: dt.date
) -> tuple[str, list[dict[str, Any]]]:
    from bot.digest.blocks import item_blocks
    from bot.digest.service import commitment_item

    if listed.account_id is not None:
        rows = cm.open_for(session, team_id, account_id=listed.account_id)
    else:
        rows = cm.open_for(session, team_id, owner_user_id=listed.owner)
    names = {
        a.id: a.name
        for a in session.exec(
            select(Account).where(
                Account.team_id == team_id,
                col(Account.id).in_({c.account_id for c in rows if c.account_id} or {-1}),
            )
        )
    }
    blocks = [
        item_blocks(commitment_item(c, names.get(c.account_id or 0)), today, listed.code)
        for c in rows
    ]
    return list_message(listed.title, blocks, len(rows), listed.empty)


def open_list(
    session: Session, team_id: str, caller: str, text: str | None, today: dt.date
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for `/commitments …`; ListError when the filter is unknown."""
    return _render(session, team_id, _resolve(session, team_id, caller, text), today)


def _today(
    session: Session, settings: Settings, team_id: str, user: str, now: dt.datetime
) -> dt.date:
    from bot.digest.service import local_now
    from bot.people.service import get_person

    return local_now(get_person(session, team_id, user), settings, now).date()


def commitments_list(
    engine: Engine, settings: Settings, team_id: str, caller: str, text: str, now: dt.datetime
) -> tuple[str, list[dict[str, Any]]]:
    """`/commitments <text>` as of `now` in the caller's timezone."""
    with session_scope(engine) as session:
        today = _today(session, settings, team_id, caller, now)
        return open_list(session, team_id, caller, text, today)


def list_again(
    engine: Engine,
    settings: Settings,
    team_id: str,
    caller: str,
    code: str,
    now: dt.datetime,
    note: str,
) -> tuple[str, list[dict[str, Any]]]:
    """The list a click came from, as it is now, with `note` (what the click did) on top."""
    with session_scope(engine) as session:
        today = _today(session, settings, team_id, caller, now)
        text, blocks = _render(session, team_id, _by_code(session, team_id, caller, code), today)
    return f"{note} — {text}", [context(note), *blocks][:50]
