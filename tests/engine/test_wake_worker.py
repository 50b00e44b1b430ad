"""A click's messages are sent by a worker when one listens (PostgreSQL): the web process
only wakes it. Without a listening worker the web process sends them itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import select

from bot.config import load_settings
from bot.db import engine_for, session_scope
from bot.devtools.memory_slack import MemorySlack
from bot.models import OutboundMessage
from bot.outbox import scheduled
from bot.outbox.service import enqueue
from bot.runtime import Runtime

TEAM = "T0WAKE"


def runtime(url: str) -> Runtime:
    settings = load_settings(
        database_url=url, slack_bot_token="xoxb-x", run_scheduler=False, _env_file=None
    )
    return Runtime(settings=settings, engine=engine_for(url))


def queue(rt: Runtime, key: str) -> None:
    with session_scope(rt.engine) as s:
        enqueue(s, TEAM, key, user="U1", text=f"hello {key}", now=dt.datetime.now(dt.UTC))


def status(rt: Runtime, key: str) -> str | None:
    with session_scope(rt.engine) as s:
        row = s.exec(select(OutboundMessage).where(OutboundMessage.key == key)).first()
        return row.status if row else None


def test_a_listening_worker_sends_what_the_web_process_wrote(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("wake-ups are PostgreSQL's LISTEN/NOTIFY")
    web, worker = runtime(database_url), runtime(database_url)
    worker_slack, web_slack = MemorySlack(), MemorySlack()
    scheduled._listeners.clear()
    listener = scheduled.listen_for_kicks(worker, worker_slack)  # type: ignore[arg-type]
    assert listener is not None
    seen: dict[str, Any] = {}

    def listening() -> bool:
        scheduled._listeners.clear()
        seen["yes"] = scheduled.workers_listen(web)
        return seen["yes"]

    import time

    deadline = time.monotonic() + 20
    while not listening() and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker's thread opens its connection: poll the database's view
    assert seen["yes"], "the worker never listened"
    queue(web, "k1")
    scheduled.kick_soon(web, web_slack, TEAM)  # type: ignore[arg-type]
    deadline = time.monotonic() + 20
    while status(web, "k1") != "sent" and time.monotonic() < deadline:
        time.sleep(0.05)  # another process's work: poll the row's state
    assert status(web, "k1") == "sent"
    assert [m.text for m in worker_slack.live()] == ["hello k1"] and web_slack.live() == []
    listener.stop()
    worker.close()
    web.close()


def test_without_a_worker_the_web_process_sends_it(database_url: str) -> None:
    web, slack = runtime(database_url), MemorySlack()
    scheduled._listeners.clear()
    queue(web, "k2")
    scheduled.kick_soon(web, slack, TEAM)  # type: ignore[arg-type]
    assert web.drain_soon()
    assert status(web, "k2") == "sent" and [m.text for m in slack.live()] == ["hello k2"]
    web.close()
