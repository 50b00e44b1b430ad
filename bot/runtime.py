"""What every entry point shares: settings, the database, the LLM step and its thread pools.

Built once per process by `build_runtime`; listeners and jobs receive it explicitly, so
nothing reaches for globals and tests can build as many as they like.

Three kinds of work, three places, so that none waits behind another:
- `listeners`: Slack handlers (`bot.slack.listeners.base`): short, and the request waits for
  their `ack()`;
- `soon(key, fn)`: small follow-ups a request asks for (send what it just wrote to the
  outbox), coalesced by key and run on one thread, never queued behind slow work;
- `submit(fn)` / `background`: slow work (LLM, downloads, drafting).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.db import engine_for

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    background: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="ft-bg")
    )
    listeners: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=32, thread_name_prefix="ft-listener")
    )
    _busy: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)
    _soon: SoonQueue = field(init=False)

    def __post_init__(self) -> None:
        self._soon = SoonQueue()

    def listen(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run a Slack handler on the listener pool (counted by `wait_idle`)."""
        return self._counted(self.listeners, fn, *args)

    def soon(self, key: Hashable, fn: Callable[[], Any]) -> None:
        """Run `fn` shortly on the follow-up thread; asking again with the same `key` before
        it ran runs it once (the latest `fn`)."""
        self._soon.put(key, fn)

    def drain_soon(self, timeout: float = 30.0) -> bool:
        """Wait until every follow-up asked for so far has run (tests, shutdown)."""
        return self._soon.drain(timeout)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run slow work (LLM, downloads) off Bolt's listener pool; errors are logged.

        The durable state lives in rows, so if this process dies the worker picks the
        work up again after its lease expires.
        """

        return self._counted(self.background, fn, *args, **kwargs)

    def _counted(
        self, pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Future:
        def _run() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                log.error(  # one line at ERROR; the traceback only at DEBUG
                    "background job %s failed: %s",
                    getattr(fn, "__name__", fn),
                    type(exc).__name__,
                )
                log.debug("background job failure", exc_info=True)
                raise
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

        with self._idle:
            self._busy += 1
        return pool.submit(_run)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no handler, background job or follow-up is running or queued
        (graceful stops, tests that compare the database before and after a request)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._idle:
                if not self._idle.wait_for(
                    lambda: self._busy == 0, max(0.0, deadline - time.monotonic())
                ):
                    return False
            if not self._soon.drain(max(0.0, deadline - time.monotonic())):
                return False
            with self._idle:
                if self._busy == 0:  # no follow-up started more work meanwhile
                    return True

    def close(self) -> None:
        self.listeners.shutdown(wait=True, cancel_futures=False)
        self._soon.close()
        self.background.shutdown(wait=True, cancel_futures=False)


class SoonQueue:
    """Keyed, coalescing follow-ups on one daemon thread (started on first use).

    A burst of fifty clicks for one workspace becomes one or two sends of its outbox, not
    fifty: what a key asked for while its previous run was going is run once more after it.
    """

    def __init__(self) -> None:
        self._pending: dict[Hashable, Callable[[], Any]] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def put(self, key: Hashable, fn: Callable[[], Any]) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the runtime is closed")
            self._pending[key] = fn
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ft-soon", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait()
                if not self._pending:  # closed and nothing left
                    self._busy = False
                    self._cond.notify_all()
                    return
                batch, self._pending = self._pending, {}
                self._busy = True
            for fn in batch.values():
                try:
                    fn()
                except Exception:
                    log.exception("follow-up %s failed", getattr(fn, "__name__", fn))

    def drain(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=60)


def build_runtime(settings: Settings) -> Runtime:
    return Runtime(settings=settings, engine=engine_for(settings.database_url))
