"""Multi-step work around a case that runs after the click has been acknowledged:
read the attached transcript, draft and write the plan, post its card; redraft a step."""

from __future__ import annotations

import dataclasses
import logging

from bot.capture.ingest import FileRef
from bot.cases import attachment, card_sync, redraft
from bot.cases import report as reports
from bot.cases.drafting import drafter_for
from bot.cases.plan_blocks import divider, existing_case_text, section
from bot.cases.records import Outbox, get_case
from bot.cases.report_form import is_repeat_submission
from bot.db import session_scope
from bot.notify import DeliveryError, Notifier
from bot.outbox.scheduled import kick
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def make_case(
    rt: Runtime,
    notifier: Notifier,
    request: reports.ReportRequest,
    attached: FileRef | None = None,
) -> None:
    """Read the attached transcript first (bounded wait), then draft and create the case and
    post its card — or show the reporter the case already open for that account and risk."""
    if attached is not None and request.account_id is not None:

        def with_attachment(found: attachment.Attachment) -> None:
            make_case(
                rt,
                notifier,
                dataclasses.replace(
                    request,
                    attachment=found.to_json(),
                    attached_transcript_id=found.context_transcript_id,
                ),
            )

        attachment.attach(
            rt,
            notifier,
            request.team_id,
            request.reporter_user_id,
            request.account_id,
            attached,
            with_attachment,
        )
        return
    try:
        result = reports.report_risk(rt.engine, request, drafter_for(rt.settings))
    except reports.ReportError as exc:
        _tell(notifier, request, f"I could not make a plan: {exc}")
        return
    if result.created:
        with session_scope(rt.engine) as s:
            card_sync.announce(s, result.case, rt.settings.cs_channel)
        kick(rt, notifier, request.team_id)
        return
    if is_repeat_submission(result, request) or not request.reporter_user_id:
        return
    with session_scope(rt.engine) as session:
        text, blocks = card_sync.card_for(session, result.case)
    intro = existing_case_text(result.case, result.account.name, result.playbook.name)
    _tell(notifier, request, intro, [section(intro), divider(), *blocks][:50])


def _tell(
    notifier: Notifier, request: reports.ReportRequest, text: str, blocks: list | None = None
) -> None:
    """A direct answer to the reporter's own submission (not worker-initiated: no outbox)."""
    if not request.reporter_user_id:
        return
    try:
        notifier.dm(request.team_id, request.reporter_user_id, text, blocks)
    except DeliveryError as exc:
        log.warning("could not tell the reporter about their report: %s", exc.code)


def redraft_and_refresh(
    rt: Runtime, notifier: Notifier, team_id: str, case_id: int, position: int, actor: str
) -> None:
    """The reassigned step's draft written for its new assignee, then the card."""
    try:
        redraft.redraft_step(rt.engine, team_id, case_id, position, actor, drafter_for(rt.settings))
    finally:
        refresh_card(rt, notifier, team_id, case_id)


def refresh_card(rt: Runtime, notifier: Notifier, team_id: str, case_id: int) -> None:
    """Re-render the case card wherever it was posted, now."""
    with session_scope(rt.engine) as s:
        Outbox(s, get_case(s, team_id, case_id))
    kick(rt, notifier, team_id)
