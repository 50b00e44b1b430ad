"""A command whose handler misses Slack's deadline is acked empty; its answer, when it comes,
goes to the response_url — late, never lost."""

from __future__ import annotations

import threading
from typing import Any

from bot.slack.listeners.base import _SignallingAck


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
