"""Durable clicks (`bot.inbox`): a Yes is written down before Slack hears back and carried
out off the request; a click whose carrier died is carried out by the next tick — once, with
no false refusal; one that cannot be carried out is given up and the person is told."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.cases import blocks as msgs
from bot.cases.engine import start_case
from bot.cases.report import ReportRequest, report_risk
from bot.inbox import service as inbox
from bot.inbox.scheduled import GIVEN_UP
from bot.models import AuditEvent, CaseStep, InboundAction
from tests.slack_listeners.conftest import MON_9AM_NY

YES_ROUTE = "bot.slack.listeners.steps.on_yes"


def _rows(world: Any) -> list[InboundAction]:
    with world.session() as s:
        return list(s.exec(select(InboundAction).order_by(InboundAction.id)))  # type: ignore[arg-type]


def _step(world: Any, case_id: int, position: int) -> CaseStep:
    with world.session() as s:
        return s.exec(
            select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.position == position)
        ).one()


def _decisions(world: Any, step_id: int) -> int:
    with world.session() as s:
        return len(
            s.exec(
                select(AuditEvent).where(
                    AuditEvent.entity == "case_step",
                    AuditEvent.entity_id == step_id,
                    AuditEvent.action == "decided_yes",
                )
            ).all()
        )


def _second_case(world: Any) -> CaseStep:
    """Globex's champion left too: its step 1 DMed to Maya."""
    account = world.seed_account("Globex", "globex.com", csm="U0MAYA")
    result = report_risk(
        world.rt.engine,
        ReportRequest(world.team_id, "champion_left", "Lee left.", "U0MAYA", account_id=account.id),
    )
    with world.session() as s:
        start_case(
            s, world.team_id, result.case.id or 0, "U0MAYA", MON_9AM_NY, settings=world.settings
        )
    world.tick(MON_9AM_NY)
    step = _step(world, result.case.id or 0, 1)
    assert step.status == "awaiting"
    return step


def _yes(world: Any, case_id: int) -> tuple[InboundAction, CaseStep]:
    """Maya clicks Yes on step 1: returns the inbox row and the step once it is carried out."""
    dm = world.standin.wait_message("U0MAYA", lambda m: m["text"].startswith("Step 1"))
    step = _step(world, case_id, 1)
    resp = world.driver.block_action(msgs.YES, f"{step.id}:awaiting", user_id="U0MAYA", message=dm)
    assert resp.status == 200
    [row] = [r for r in _rows(world) if r.route == YES_ROUTE]  # written down by the ack
    done = world.wait_db(
        lambda s: (
            s.get(InboundAction, row.id) if s.get(InboundAction, row.id).status == "done" else None
        ),  # type: ignore[union-attr]
        "the click carried out",
    )
    return done, _step(world, case_id, 1)


@contextmanager
def _listening_worker(world: Any, database_url: str, carry: Callable[..., int]) -> Iterator[Any]:
    """A worker's own runtime listening for wake-ups (PostgreSQL), handing them to `carry`;
    entered once the web side sees it listen, and stopped on the way out."""
    from bot.db import engine_for
    from bot.outbox import scheduled
    from bot.runtime import Runtime

    worker = Runtime(settings=world.settings, engine=engine_for(database_url))
    listener = scheduled.listen_for_kicks(worker, world.notifier, carry)
    assert listener is not None
    try:

        def listening() -> bool:
            scheduled._listeners.clear()
            return scheduled.workers_listen(world.rt)

        world.standin.wait_until(listening, what="the worker listening", poll=0.05)
        yield worker
    finally:
        listener.stop()
        worker.close()
        scheduled._listeners.clear()


def test_a_yes_is_written_down_by_the_ack_and_carried_out_once(
    slack_http: Any, start_a_case: Any
) -> None:
    world = slack_http
    case_id = start_a_case(world)
    row, step = _yes(world, case_id)
    assert row.team_id == world.team_id and row.attempts == 1
    assert row.body["actions"][0]["action_id"] == msgs.YES
    assert step.decision == "yes" and step.decided_by == "U0MAYA"
    assert _decisions(world, step.id or 0) == 1


def test_a_click_whose_carrier_died_is_carried_out_by_the_next_tick(
    slack_http: Any, start_a_case: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = slack_http
    case_id = start_a_case(world)
    first, step1 = _yes(world, case_id)
    seen = len(world.standin.ephemerals(user="U0MAYA"))
    # A worker took this click, did it, and died before marking it done: its lease expires.
    with world.rt.engine.begin() as conn:
        conn.execute(
            sa.update(InboundAction)  # type: ignore[arg-type]
            .where(InboundAction.id == first.id)  # type: ignore[arg-type]
            .values(status="pending", due_at=MON_9AM_NY - dt.timedelta(seconds=1))
        )
    # Another died before doing anything: a Yes on another case's step, never carried out.
    step2 = _second_case(world)
    body = dict(first.body)
    body["actions"] = [dict(body["actions"][0], value=f"{step2.id}:awaiting")]
    with world.rt.engine.begin() as conn:
        conn.execute(
            sa.insert(InboundAction).values(  # type: ignore[arg-type]
                team_id=world.team_id,
                route=YES_ROUTE,
                body=body,
                status="pending",
                attempts=1,
                due_at=MON_9AM_NY - dt.timedelta(seconds=1),
                created_at=MON_9AM_NY,
            )
        )
    world.tick(MON_9AM_NY)
    assert {r.status for r in _rows(world)} == {"done"}
    assert _step(world, step2.case_id, 1).decision == "yes"
    assert _decisions(world, step1.id or 0) == 1 and _decisions(world, step2.id or 0) == 1
    # The repeated Yes on step 1 was refused by the step's guard, and nobody was told so.
    assert len(world.standin.ephemerals(user="U0MAYA")) == seen
    for record in caplog.records:
        assert record.exc_info is None and record.levelno < logging.ERROR, record.getMessage()


def test_a_click_that_cannot_be_carried_out_is_given_up_and_told(
    slack_http: Any, start_a_case: Any, caplog: pytest.LogCaptureFixture
) -> None:
    world = slack_http
    case_id = start_a_case(world)
    first, _ = _yes(world, case_id)
    with world.rt.engine.begin() as conn:
        for route, attempts in (
            ("bot.slack.listeners.steps.gone", 0),
            (YES_ROUTE, inbox.MAX_ATTEMPTS),
        ):
            conn.execute(
                sa.insert(InboundAction).values(  # type: ignore[arg-type]
                    team_id=world.team_id,
                    route=route,
                    body=first.body,
                    status="pending",
                    attempts=attempts,
                    due_at=MON_9AM_NY - dt.timedelta(seconds=1),
                    created_at=MON_9AM_NY,
                )
            )
    world.tick(MON_9AM_NY)
    assert [r.status for r in _rows(world)] == ["done", "failed", "failed"]
    world.standin.wait_until(
        lambda: (
            len([e for e in world.standin.ephemerals(user="U0MAYA") if e["text"] == GIVEN_UP]) == 2
        ),
        what="both clicks told as given up",
    )
    assert [r.levelno for r in caplog.records if "given up" in r.getMessage()] == [40, 40]


def test_finished_clicks_are_forgotten_after_a_day(slack_http: Any, start_a_case: Any) -> None:
    world = slack_http
    _yes(world, start_a_case(world))
    world.tick(MON_9AM_NY + inbox.KEEP - dt.timedelta(minutes=1))
    assert len(_rows(world)) == 1
    world.tick(MON_9AM_NY + inbox.KEEP + dt.timedelta(minutes=5))
    assert _rows(world) == []


def test_where_a_worker_listens_it_carries_the_click_out(
    slack_http: Any, start_a_case: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("wake-ups are PostgreSQL's LISTEN/NOTIFY")
    from bot.inbox.scheduled import carry_out_due
    from bot.runtime import Runtime

    world = slack_http
    case_id = start_a_case(world)
    carriers: list[Runtime] = []

    def carry(rt: Runtime, notifier: Any) -> int:
        carriers.append(rt)
        return carry_out_due(rt, notifier)

    with _listening_worker(world, database_url, carry) as worker:
        row, step = _yes(world, case_id)
        assert step.decision == "yes" and _decisions(world, step.id or 0) == 1
        assert carriers and all(rt is worker for rt in carriers)


def test_the_edge_writes_down_a_durable_click_only_for_a_listening_worker(
    slack_http: Any, start_a_case: Any, database_url: str
) -> None:
    """`AtEdge.written_down` (the HTTP edge's path for a Yes, past Bolt) takes a durable
    click of a workspace we serve when a worker listens, and leaves everything else to Bolt:
    another button, another workspace, no worker (always so on SQLite) — writing nothing."""
    from bot.inbox.scheduled import carry_out_due
    from bot.outbox import scheduled
    from bot.slack.listeners import listener_modules
    from bot.slack.listeners.edge import AtEdge

    world = slack_http
    edge = AtEdge(world.rt, world.clients, listener_modules())
    assert msgs.YES in edge.durable and edge.durable[msgs.YES].key == YES_ROUTE
    case_id = start_a_case(world)
    dm = world.standin.wait_message("U0MAYA", lambda m: m["text"].startswith("Step 1"))
    step = _step(world, case_id, 1)
    click = world.driver.block_action_payload(msgs.YES, f"{step.id}:awaiting", "U0MAYA", message=dm)
    other_button = {**click, "actions": [{**click["actions"][0], "action_id": "not_durable"}]}
    stranger = {**click, "team": {"id": "T0STRANGER", "domain": "strangers"}}

    def at_edge(body: dict[str, Any]) -> bool:
        return edge.written_down(body)

    scheduled._listeners.clear()
    assert not at_edge(other_button) and not at_edge(stranger)
    assert not at_edge(click)  # no worker listens yet
    assert _rows(world) == []
    if not database_url.startswith("postgresql"):
        return
    with _listening_worker(world, database_url, carry_out_due):
        assert not at_edge(other_button) and not at_edge(stranger)
        assert at_edge(click)
        [row] = _rows(world)
        assert (row.route, row.attempts) == (YES_ROUTE, 0)  # pending, for the worker
        world.wait_db(
            lambda s: s.get(InboundAction, row.id).status == "done" or None,  # type: ignore[union-attr]
            "the worker carrying the click out",
        )
        assert _step(world, case_id, 1).decision == "yes" and _decisions(world, step.id or 0) == 1
