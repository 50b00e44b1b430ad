"""What every entry point shares: settings, the database, the LLM step and a background pool.

Built once per process by `build_runtime`; listeners and jobs receive it explicitly, so
nothing reaches for globals and tests can build as many as they like.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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
    _busy: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run slow work (LLM, downloads) off Bolt's listener pool; errors are logged.

        The durable state lives in rows, so if this process dies the worker picks the
        work up again after its lease expires.
        """

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
        return self.background.submit(_run)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no background job is running or queued (graceful stops, tests that
        compare the database before and after a request)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        self.background.shutdown(wait=True, cancel_futures=False)


def build_runtime(settings: Settings) -> Runtime:
    return Runtime(settings=settings, engine=engine_for(settings.database_url))
