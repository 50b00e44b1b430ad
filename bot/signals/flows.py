"""Start plan, across services: the suggestion is claimed, the playbook becomes a case
(`cases.report.report_risk`, drafted like a reported risk), the case is started and its
card announced, and the DM shows the result. Runs off the request (drafting may be slow)."""

from __future__ import annotations

import logging

from bot.cases import card_sync, plan_edits
from bot.cases import report as reports
from bot.cases.drafting import drafter_for
from bot.db import session_scope
from bot.notify import DeliveryError, Notifier
from bot.outbox.scheduled import kick
from bot.runtime import Runtime
from bot.signals import decisions

log = logging.getLogger(__name__)


def start_plan(
    rt: Runtime, notifier: Notifier, start: decisions.Starting, actor: str
) -> int | None:
    request = reports.ReportRequest(
        team_id=start.team_id,
        risk_key=start.playbook_key,
        context=start.context,
        reporter_user_id=actor,
        account_id=start.account_id,
    )
    try:
        result = reports.report_risk(rt.engine, request, drafter_for(rt.settings))
    except reports.ReportError as exc:
        decisions.finish_start(rt.engine, start, actor, None, str(exc))
        kick(rt, notifier, start.team_id)
        _tell(notifier, start.team_id, actor, f"I could not make a plan: {exc}")
        return None
    except Exception as exc:  # the suggestion must not stay "starting": reopen it, say so
        log.error("suggested case %s: planning failed: %s", start.suggestion_id, type(exc).__name__)
        decisions.finish_start(rt.engine, start, actor, None, type(exc).__name__)
        kick(rt, notifier, start.team_id)
        _tell(
            notifier,
            start.team_id,
            actor,
            "Something went wrong while drafting the plan; the suggestion is open again. "
            "Try Start plan once more, and tell your Followthrough admin if it keeps happening.",
        )
        return None
    case_id = result.case.id or 0
    if result.created:
        try:
            plan_edits.start(
                rt.engine,
                start.team_id,
                case_id,
                actor,
                rt.settings.cs_admins,
                settings=rt.settings,
            )
        except plan_edits.PlanEditError as exc:  # e.g. every step was dropped: the card says so
            log.info("suggested case %s not started: %s", case_id, exc)
        with session_scope(rt.engine) as s:
            card_sync.announce(s, result.case, rt.settings.cs_channel)
    else:
        _tell(
            notifier,
            start.team_id,
            actor,
            f"Case #{case_id} is already open for this account and risk; "
            "the signals were added to it.",
        )
    decisions.finish_start(rt.engine, start, actor, case_id)
    kick(rt, notifier, start.team_id)
    return case_id


def _tell(notifier: Notifier, team_id: str, user: str, text: str) -> None:
    try:
        notifier.dm(team_id, user, text)
    except DeliveryError as exc:
        log.warning("could not tell %s: %s", user, exc.code)
