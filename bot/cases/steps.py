"""The step and case state machines, as pure data and functions.

    step:  planned ─schedule─▶ scheduled ─queue_dm─▶ awaiting ─yes/edit─▶ sending ─delivered─▶ done
                                   ▲ defer ┘  ▲ dm_failed ┘   │done_by_hand ─▶ done
                                                             │no ─▶ skipped
           sending ─undeliverable─▶ awaiting (the recipient could not be reached; decide again)
           reassign: planned ─▶ planned, scheduled/awaiting ─▶ scheduled
           skip: planned/scheduled/awaiting ─▶ skipped
           cancel: planned/scheduled/awaiting ─▶ cancelled

    case:  planned ─start─▶ running ⇄ paused;  running ─last step, not yet─▶ awaiting_close
           running/paused/awaiting_close ─saved/churned─▶ resolved/churned; extend ─▶ running

The tables are the authority: every status write goes through `bot.states.move` /
`move_rows` with one of these transition names. What happens after a decision is decided
here too (`decision_action`, `after_answer`), so the services only persist and notify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.models import Case, CaseStatus, CaseStep, StepStatus
from bot.states import Machine, StateError

S = StepStatus
C = CaseStatus
__all__ = ["StateError"]

STEP_TRANSITIONS: dict[str, dict[str, str]] = {
    "schedule": {S.PLANNED: S.SCHEDULED},
    "queue_dm": {S.SCHEDULED: S.AWAITING},  # due: its DM is handed to the outbox
    "defer": {S.SCHEDULED: S.SCHEDULED},  # due, but off hours / nobody to DM: later
    "follow_up": {S.AWAITING: S.AWAITING},  # reminder or escalation queued
    "dm_failed": {S.AWAITING: S.SCHEDULED},  # Slack refused the DM for good: retry later
    "yes": {S.AWAITING: S.SENDING},
    "edit": {S.AWAITING: S.SENDING},
    "done_by_hand": {S.AWAITING: S.DONE},  # yes/edit on a step the assignee carries out
    "no": {S.AWAITING: S.SKIPPED},
    "delivered": {S.SENDING: S.DONE},
    "undeliverable": {S.SENDING: S.AWAITING},
    "reassign": {S.PLANNED: S.PLANNED, S.SCHEDULED: S.SCHEDULED, S.AWAITING: S.SCHEDULED},
    "skip": {S.PLANNED: S.SKIPPED, S.SCHEDULED: S.SKIPPED, S.AWAITING: S.SKIPPED},
    "drop": {S.PLANNED: S.CANCELLED},  # removed from a plan before it runs
    "cancel": {S.PLANNED: S.CANCELLED, S.SCHEDULED: S.CANCELLED, S.AWAITING: S.CANCELLED},
}

CASE_TRANSITIONS: dict[str, dict[str, str]] = {
    "start": {C.PLANNED: C.RUNNING},
    "pause": {C.RUNNING: C.PAUSED},
    "resume": {C.PAUSED: C.RUNNING},
    "next_step": {C.RUNNING: C.RUNNING},  # "not yet": the next step is scheduled
    "await_close": {C.RUNNING: C.AWAITING_CLOSE},
    "extend": {C.AWAITING_CLOSE: C.RUNNING},
    "saved": {C.RUNNING: C.RESOLVED, C.PAUSED: C.RESOLVED, C.AWAITING_CLOSE: C.RESOLVED},
    "churned": {C.RUNNING: C.CHURNED, C.PAUSED: C.CHURNED, C.AWAITING_CLOSE: C.CHURNED},
}

STEP = Machine("step", CaseStep.__table__, STEP_TRANSITIONS)  # type: ignore[attr-defined]
CASE = Machine(
    "case",
    Case.__table__,  # type: ignore[attr-defined]
    CASE_TRANSITIONS,
    refused="This {name} is {state}; it cannot be {action}.",
)

FINAL_STEP = frozenset({S.DONE, S.SKIPPED, S.CANCELLED})
CLOSED_CASE = frozenset({C.RESOLVED, C.CHURNED, C.CANCELLED})
OUTCOME = {C.RESOLVED: "saved", C.CHURNED: "churned"}


def next_step_state(action: str, current: str) -> str:
    return STEP.to(action, current)


def next_case_state(action: str, current: str) -> str:
    return CASE.to(action, current)


class Delivery(StrEnum):
    """How a Yes is carried out."""

    SLACK_USER = "slack_user"  # the app DMs the recipient
    SLACK_CHANNEL = "slack_channel"  # the app posts in the channel
    SMTP = "smtp"  # the app sends the email
    BY_HAND = "by_hand"  # the assignee does it; the app records it (call, meeting, copy email)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email(value: str | None) -> bool:
    return bool(value and _EMAIL.match(value.strip()))


def delivery_for(medium: str, recipient_ref: str | None, smtp_configured: bool) -> Delivery:
    ref = (recipient_ref or "").strip()
    if medium == "slack" and ref[:1] in {"U", "W"}:
        return Delivery.SLACK_USER
    if medium == "slack" and ref[:1] in {"C", "G", "#"}:
        return Delivery.SLACK_CHANNEL
    if medium == "email" and smtp_configured and is_email(ref):
        return Delivery.SMTP
    return Delivery.BY_HAND


def decision_action(action: str, delivery: Delivery) -> str:
    """The step transition a decision makes: yes/edit send (sending) unless the assignee
    carries the step out by hand (done at once); no skips it."""
    if action == "no":
        return "no"
    if action not in {"yes", "edit"}:
        raise StateError(f"Unknown decision {action!r}.")
    return "done_by_hand" if delivery is Delivery.BY_HAND else action


@dataclass(frozen=True)
class AnswerOutcome:
    """What the resolution answer leads to."""

    case_status: str
    next_position: int | None = None  # the step to schedule next


def after_answer(answer: str, case_status: str, remaining_positions: list[int]) -> AnswerOutcome:
    """Resolved — saved / Churned / Not yet → the case's next state and the next step."""
    if answer in {"saved", "churned"}:
        return AnswerOutcome(next_case_state(answer, case_status))
    if answer != "not_yet":
        raise StateError(f"Unknown answer {answer!r}.")
    if case_status != C.RUNNING:
        raise StateError(f"This case is {case_status.replace('_', ' ')}; nothing to schedule.")
    if remaining_positions:
        return AnswerOutcome(C.RUNNING, min(remaining_positions))
    return AnswerOutcome(next_case_state("await_close", case_status))
