"""Thread-safe record of every request the stand-in served, with condition-based waits.

Tests assert on what the app sent to "Slack"; post-ack work runs on Bolt's threads, so
`wait_for` blocks on a condition variable instead of sleeping for a fixed time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

REDACTED = "<redacted>"


@dataclass(frozen=True)
class Call:
    """One request: `method` is the Web API method, or `response_url`, `upload`, `file_download`;
    `path` is the URL path it was sent to (for a response_url, the one the app was given)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    team_id: str | None
    time: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return self.response.get("error")


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Lower-case header names and hide the token value (never keep secrets in records)."""
    clean: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname == "authorization":
            scheme = value.split(" ", 1)[0] if value else ""
            clean[lname] = f"{scheme} {REDACTED}".strip()
        else:
            clean[lname] = value
    return clean


class Recorder:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._cond = threading.Condition()
        self._served = 0  # bumped by every request, so a waiter never misses one

    def add(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._served += 1
            self._cond.notify_all()

    def calls(self, method: str | None = None, team_id: str | None = None) -> list[Call]:
        with self._cond:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method)
                and (team_id is None or c.team_id == team_id)
            ]

    def reset(self) -> None:
        with self._cond:
            self._calls.clear()

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool],
        timeout: float = 30.0,
    ) -> list[Call]:
        """Block until a `method` call for which `predicate` holds exists; return every such
        call, oldest first. The predicate says which call the test needs: waiting for a
        number of calls would let an unrelated one (a late refresh, a retry) satisfy it."""
        if not callable(predicate):
            raise TypeError(
                "wait_for waits for a specific call: pass a predicate that identifies it "
                "(counting calls is not a state)"
            )

        def matching() -> list[Call]:
            return [c for c in self.calls(method) if predicate(c)]

        return self.wait_until(matching, timeout, f"a {method} call matching the predicate")

    def wait_until(
        self, check: Callable[[], T | None], timeout: float, what: str, poll: float = 0.5
    ) -> T:
        """Block until `check()` returns something truthy; AssertionError on timeout.

        `check` is re-run after every request the stand-in serves (only requests change its
        state) and at least every `poll` seconds (for state kept elsewhere, e.g. the
        database). It runs outside the recorder's lock, so a slow check never holds up a
        request the app is making."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                served = self._served
            found = check()
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"waited {timeout}s for {what}; it never happened")
            with self._cond:
                if self._served == served:
                    self._cond.wait(min(remaining, poll))
