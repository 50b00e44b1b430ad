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
    """One request: `method` is the Web API method, or `response_url`, `upload`, `file_download`."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    team_id: str | None
    time: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

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

    def add(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
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
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Block until `count` matching calls exist and return them; AssertionError on timeout."""
        deadline = time.monotonic() + timeout

        def matching() -> list[Call]:
            return [
                c for c in self._calls if c.method == method and (predicate is None or predicate(c))
            ]

        with self._cond:
            found = matching()
            while len(found) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self._calls]
                    raise AssertionError(
                        f"expected {count} {method} call(s), got {len(found)} in {timeout}s; "
                        f"calls so far: {seen}"
                    )
                self._cond.wait(remaining)
                found = matching()
            return found

    def wait_until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Block until `check()` returns something truthy (re-checked after every request the
        stand-in serves, since only requests change its state); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = check()
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"waited {timeout}s for {what}; it never happened")
                self._cond.wait(min(remaining, 0.5))
