"""Fault injection and the per-channel posting rate limit of the stand-in."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class Fault:
    """One planned failure of `method` ("*" = any method; also `upload`, `response_url`,
    `file_download`). `times=None` keeps failing until cleared."""

    method: str
    error: str = "ratelimited"
    status: int | None = None
    timeout_seconds: float | None = None
    times: int | None = 1
    retry_after: int = 0
    team_id: str | None = None

    def matches(self, method: str, team_id: str | None) -> bool:
        return (self.method in ("*", method)) and (self.team_id in (None, team_id))


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, team_id: str | None) -> Fault | None:
        """Consume one use of the first fault matching this call, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, team_id):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


class ChannelRateLimiter:
    """Token bucket per (team, channel): `rate` posts per second, bursts up to `burst`.

    Slack documents ~1 message per second per channel with short bursts allowed.
    """

    def __init__(self, rate: float = 1.0, burst: int = 5) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, team_id: str, channel: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        key = (team_id, channel)
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
