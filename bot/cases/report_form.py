"""What the /report-risk modal needs: the risks to offer, the typed account, field errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.cases.report import ReportError, ReportRequest, ReportResult, check_request, find_account
from bot.db import autocommit, session_scope
from bot.playbooks.service import cached_choices, choices, ensure_seeded_once, get_playbook

log = logging.getLogger(__name__)

# --- what the /report-risk modal needs ---------------------------------------------------


@dataclass(frozen=True)
class ReportForm:
    risks: list[tuple[str, str]]  # (key, name) of the team's active playbooks
    account: tuple[int, str] | None  # pre-filled account
    note: str | None  # said to the user before the modal opens (e.g. unknown account)


def report_form(engine: Engine, team_id: str, text: str = "") -> ReportForm:
    """Playbooks to choose from (cached per workspace; seeded on first use) and the account
    typed after the command, if it names exactly one. With the list cached that is one
    indexed query on an autocommit connection (no session, no transaction): the modal
    must open within Slack's 3 s, under load too."""
    from bot.accounts.service import account_ref

    typed = " ".join((text or "").split())
    for first_use in (False, True):
        risks = cached_choices(engine, team_id)
        if risks is None:
            with session_scope(engine) as session:
                risks = choices(session, team_id)
        if risks or first_use:
            break
        ensure_seeded_once(engine, team_id)  # a team's first report: the seed playbooks
    found = None
    if typed:
        with autocommit(engine) as conn:
            found = account_ref(conn, team_id, typed)
    note = None
    if typed and found is None:
        note = (
            f"I couldn't find an account called '{typed[:80]}'. Pick it from the list in "
            "the form (search by name or domain), or import it first with "
            "`followthrough accounts import`."
        )
    return ReportForm(risks or [], found, note)


def form_errors(engine: Engine, request: ReportRequest) -> dict[str, str]:
    """Field-level problems (modal block id → message), checked before the modal closes."""
    errors: dict[str, str] = {}
    if request.account_id is None:
        errors["account"] = "Pick the account at risk."
    if not request.risk_key or request.risk_key == "-":
        errors["risk"] = "Pick the kind of risk."
    try:
        check_request(request)
    except ReportError as exc:
        errors[exc.field or "context"] = str(exc)
    if errors:
        return errors
    with session_scope(engine) as session:
        try:
            find_account(session, request)
        except ReportError as exc:
            errors["account"] = "That account no longer exists; pick another one."
            log.info("report form: %s", exc)
        if get_playbook(session, request.team_id, request.risk_key) is None:
            errors["risk"] = "That playbook was retired; pick another risk type."
    return errors


def is_repeat_submission(result: ReportResult, request: ReportRequest) -> bool:
    """The same person sent the same report twice (a double-clicked modal): say nothing new."""
    return (
        not result.created
        and result.case.reporter_user_id == request.reporter_user_id
        and result.case.context == request.context.strip()
    )
