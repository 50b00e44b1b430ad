"""The step and case state machines, as pure data and functions.

    step:  planned ─schedule─▶ scheduled ─claim─▶ claimed ─posted─▶ awaiting
                                   ▲                 │release          │yes/edit ─▶ sending ─▶ done
                                   └─────────────────┘                 │no ─▶ skipped
           reassign: scheduled/awaiting ─▶ scheduled (the new assignee is DMed by the worker)
           skip: planned/scheduled/awaiting ─▶ skipped;  cancel: any open ─▶ cancelled

    case:  planned ─start─▶ running ⇄ paused;  running ─last step, not yet─▶ awaiting_close
           running/paused/awaiting_close ─saved/churned─▶ resolved/churned; extend ─▶ running

What happens after a decision is decided here too (`after_decision`, `after_answer`), so the
engine only persists and notifies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.models import CaseStatus, StepStatus

S = StepStatus
C = CaseStatus

STEP_TRANSITIONS: dict[str, dict[str, str]] = {
    "schedule": {S.PLANNED: S.SCHEDULED},
    "claim": {S.SCHEDULED: S.CLAIMED, S.CLAIMED: S.CLAIMED},  # CLAIMED: lease expired
    "posted": {S.CLAIMED: S.AWAITING},
    "release": {S.CLAIMED: S.SCHEDULED},
    "yes": {S.AWAITING: S.SENDING},
    "edit": {S.AWAITING: S.SENDING},
    "no": {S.AWAITING: S.SKIPPED},
    "delivered": {S.SENDING: S.DONE},
    "undeliverable": {S.SENDING: S.AWAITING},
    "reassign": {S.PLANNED: S.PLANNED, S.SCHEDULED: S.SCHEDULED, S.AWAITING: S.SCHEDULED},
    "skip": {S.PLANNED: S.SKIPPED, S.SCHEDULED: S.SKIPPED, S.AWAITING: S.SKIPPED},
    "cancel": {
        S.PLANNED: S.CANCELLED,
        S.SCHEDULED: S.CANCELLED,
        S.CLAIMED: S.CANCELLED,
        S.AWAITING: S.CANCELLED,
    },
}

CASE_TRANSITIONS: dict[str, dict[str, str]] = {
    "start": {C.PLANNED: C.RUNNING},
    "pause": {C.RUNNING: C.PAUSED},
    "resume": {C.PAUSED: C.RUNNING},
    "await_close": {C.RUNNING: C.AWAITING_CLOSE},
    "extend": {C.AWAITING_CLOSE: C.RUNNING},
    "saved": {C.RUNNING: C.RESOLVED, C.PAUSED: C.RESOLVED, C.AWAITING_CLOSE: C.RESOLVED},
    "churned": {C.RUNNING: C.CHURNED, C.PAUSED: C.CHURNED, C.AWAITING_CLOSE: C.CHURNED},
}

FINAL_STEP = frozenset({S.DONE, S.SKIPPED, S.CANCELLED})
CLOSED_CASE = frozenset({C.RESOLVED, C.CHURNED, C.CANCELLED})
OUTCOME = {C.RESOLVED: "saved", C.CHURNED: "churned"}


class StateError(ValueError):
    """A refused transition; the message is shown to the person who tried it."""


def next_step_state(action: str, current: str) -> str:
    allowed = STEP_TRANSITIONS.get(action)
    if allowed is None:
        raise StateError(f"Unknown step action {action!r}.")
    if current not in allowed:
        raise StateError(f"This step is already {current}; nothing to {action}.")
    return allowed[current]


def next_case_state(action: str, current: str) -> str:
    allowed = CASE_TRANSITIONS.get(action)
    if allowed is None:
        raise StateError(f"Unknown case action {action!r}.")
    if current not in allowed:
        raise StateError(f"This case is {current.replace('_', ' ')}; it cannot be {action}.")
    return allowed[current]


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


def after_decision(action: str, delivery: Delivery) -> str:
    """The step's state once a decision is taken: sending when the app must deliver."""
    if action == "no":
        return S.SKIPPED
    if action not in {"yes", "edit"}:
        raise StateError(f"Unknown decision {action!r}.")
    return S.DONE if delivery is Delivery.BY_HAND else S.SENDING


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
