"""A command whose handler misses Slack's deadline is acked empty; its answer, when it comes,
goes to the response_url — late, never lost."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from bot.slack.listeners.base import _DeadlineAck, _SignallingAck


class _Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


def test_an_answer_after_the_deadline_goes_to_the_response_url() -> None:
    ack, respond, ready = _Recorded(), _Recorded(), threading.Event()
    signalling = _SignallingAck(ack, ready, respond)
    assert signalling.give_up()  # the deadline passed first: Slack got an empty answer
    signalling(text="No account matches 'x'.", response_type="ephemeral")
    assert ack.calls == [((), {})]
    [(_, said)] = respond.calls
    assert said["text"] == "No account matches 'x'." and said["replace_original"] is False


def test_an_answer_in_time_is_the_ack_and_the_deadline_changes_nothing() -> None:
    ack, respond, ready = _Recorded(), _Recorded(), threading.Event()
    signalling = _SignallingAck(ack, ready, respond)
    signalling("Use `/case list`.")
    assert ready.is_set() and not signalling.give_up()
    assert ack.calls == [(("Use `/case list`.",), {})] and respond.calls == []


def test_an_ack_on_the_request_thread_after_its_deadline_goes_to_the_response_url() -> None:
    """`run_here` (a command run on the HTTP edge's thread) cannot answer before the handler
    returns; an ack that comes after the deadline answers the request empty and sends its
    text to the response_url, once."""
    ack, respond = _Recorded(), _Recorded()
    late = _DeadlineAck(ack, time.monotonic() - 0.1, respond)
    late(text="No account matches 'x'.")
    assert late.late and ack.calls == [((), {})]
    [(_, said)] = respond.calls
    assert said["text"] == "No account matches 'x'." and said["response_type"] == "ephemeral"
    ack, respond = _Recorded(), _Recorded()
    in_time = _DeadlineAck(ack, time.monotonic() + 60, respond)
    in_time("Use `/case list`.")
    assert not in_time.late and ack.calls == [(("Use `/case list`.",), {})] and not respond.calls


@pytest.mark.parametrize("world", ["slack", "slack_http"])
def test_a_command_slower_than_slack_waits_answers_through_its_response_url(
    world: str, database_url: str, request: pytest.FixtureRequest
) -> None:
    """Slack waits 3 s for a command's answer. Behind Bolt (`dispatch`) the request is
    answered empty at 2.5 s; at the HTTP edge (`run_here`) when the handler returns. Either
    way the note reaches the person once, through the command's response_url."""
    w: Any = request.getfixturevalue(world)
    w.standin.fail("views.open", timeout_seconds=3.5)  # Slack slow; a second past the 2.5 s
    resp = w.driver.command("/report-risk", "Nosuchco")
    assert resp.status == 200 and resp.json is None, resp.body_text
    w.standin.wait_reply(resp, contains="couldn't find an account called 'Nosuchco'")
    w.standin.wait_view(resp, callback_id="report_risk_modal")
    said = [e for e in w.standin.ephemerals(user="U0MAYA") if "Nosuchco" in e["text"]]
    assert len(said) == 1
