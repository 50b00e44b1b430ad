"""The pure state machines of steps and cases."""

from __future__ import annotations

import pytest

from bot.cases.steps import (
    STEP,
    Delivery,
    StateError,
    after_answer,
    decision_action,
    delivery_for,
    next_case_state,
    next_step_state,
)


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("schedule", "planned", "scheduled"),
        ("queue_dm", "scheduled", "awaiting"),
        ("defer", "scheduled", "scheduled"),
        ("dm_failed", "awaiting", "scheduled"),
        ("yes", "awaiting", "sending"),
        ("done_by_hand", "awaiting", "done"),
        ("no", "awaiting", "skipped"),
        ("delivered", "sending", "done"),
        ("undeliverable", "sending", "awaiting"),
        ("reassign", "awaiting", "scheduled"),
        ("skip", "scheduled", "skipped"),
        ("cancel", "awaiting", "cancelled"),
    ],
)
def test_step_transitions(action: str, before: str, after: str) -> None:
    assert next_step_state(action, before) == after


@pytest.mark.parametrize(
    ("action", "before"),
    [
        ("yes", "done"),
        ("yes", "sending"),
        ("no", "skipped"),
        ("schedule", "scheduled"),
        ("cancel", "done"),
        ("skip", "sending"),
        ("queue_dm", "awaiting"),
        ("cancel", "sending"),  # a delivery in flight finishes
    ],
)
def test_refused_step_transitions(action: str, before: str) -> None:
    with pytest.raises(StateError, match="already"):
        next_step_state(action, before)


def test_case_transitions() -> None:
    assert next_case_state("start", "planned") == "running"
    assert next_case_state("pause", "running") == "paused"
    assert next_case_state("resume", "paused") == "running"
    assert next_case_state("saved", "paused") == "resolved"
    assert next_case_state("churned", "awaiting_close") == "churned"
    for action, before in (("start", "running"), ("resume", "running"), ("saved", "churned")):
        with pytest.raises(StateError):
            next_case_state(action, before)


def test_delivery_depends_on_medium_recipient_and_smtp() -> None:
    assert delivery_for("slack", "U0LI", False) is Delivery.SLACK_USER
    assert delivery_for("slack", "C0CSRISK", False) is Delivery.SLACK_CHANNEL
    assert delivery_for("slack", "dana@acme.com", False) is Delivery.BY_HAND
    assert delivery_for("email", "dana@acme.com", False) is Delivery.BY_HAND
    assert delivery_for("email", "dana@acme.com", True) is Delivery.SMTP
    assert delivery_for("email", "not an address", True) is Delivery.BY_HAND
    for medium in ("call", "meeting", "internal"):
        assert delivery_for(medium, "U0LI", True) is Delivery.BY_HAND


def test_decision_action_names_a_transition_of_the_table() -> None:
    cases = [
        ("yes", Delivery.SLACK_CHANNEL, "sending"),
        ("edit", Delivery.SMTP, "sending"),
        ("yes", Delivery.BY_HAND, "done"),
        ("edit", Delivery.BY_HAND, "done"),
        ("no", Delivery.SLACK_USER, "skipped"),
    ]
    for decision, delivery, after in cases:
        assert STEP.to(decision_action(decision, delivery), "awaiting") == after
    with pytest.raises(StateError):
        decision_action("maybe", Delivery.BY_HAND)


def test_after_answer() -> None:
    assert after_answer("not_yet", "running", [4, 3]).next_position == 3
    last = after_answer("not_yet", "running", [])
    assert last.case_status == "awaiting_close" and last.next_position is None
    assert after_answer("saved", "running", [3]).case_status == "resolved"
    assert after_answer("churned", "paused", []).case_status == "churned"
    with pytest.raises(StateError):
        after_answer("not_yet", "paused", [3])
