"""Write-back, exactly once: a confirmed commitment becomes one CRM task (closed when done),
a closed case leaves one note; retries, lost answers and an hour-long outage never make a
second; failures reach the CSM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys

import pytest
from sqlmodel import select

from bot.cases.control import resolve
from bot.commitments.service import transition
from bot.models import Account, CaseStatus, Commitment, CommitmentStatus, CrmWrite

from .conftest import later, seed_hubspot, sync


def _commitment(world, text: str = "Send Acme the SSO rollout plan") -> int:  # type: ignore[no-untyped-def]
    with world.session() as s:
        account = s.exec(select(Account).where(Account.name == "Acme Corp")).one()
        c = Commitment(
            team_id=world.team_id,
            account_id=account.id,
            owner_name="Maya Chen",
            owner_user_id="U0MAYA",
            side="vendor",
            text=text,
            due_date=dt.date(2026, 11, 13),
            evidence="I'll send you the SSO rollout plan by next Friday.",
            status=CommitmentStatus.PROPOSED,
            created_by="U0MAYA",
        )
        s.add(c)
        s.flush()
        return c.id or 0


def _act(world, commitment_id: int, action: str) -> None:  # type: ignore[no-untyped-def]
    with world.session() as s:
        transition(s, world.team_id, commitment_id, action, "U0MAYA")


def _tasks(hs, key: str):  # type: ignore[no-untyped-def]
    return hs.objects("tasks", followthrough_id=key)


def _row(world, key: str) -> CrmWrite:  # type: ignore[no-untyped-def]
    with world.session() as s:
        return s.exec(select(CrmWrite).where(CrmWrite.key == key)).one()


def test_confirmed_commitment_becomes_one_task_and_closes_when_done(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    ids = seed_hubspot(hs)
    sync(world)
    cid = _commitment(world)
    _act(world, cid, "confirm")
    key = f"ft-commitment-{cid}"
    assert _row(world, key).status == "pending"  # intent written with the confirmation
    world.tick(later(1))
    (task,) = _tasks(hs, key)
    assert task.props["hs_task_subject"] == "Send Acme the SSO rollout plan"
    assert task.props["hs_task_status"] == "NOT_STARTED"
    assert task.props["hubspot_owner_id"] == "77001"
    assert task.props["hs_timestamp"].startswith("2026-11-13")
    assert "SSO rollout plan by next Friday" in task.props["hs_task_body"]
    assert hs.associations_of("tasks", task.id, "companies") == {ids["acme"]: {192}}
    assert hs.associations_of("tasks", task.id, "contacts") == {ids["dana"]: {204}}
    row = _row(world, key)
    assert row.status == "done" and row.external_id == str(task.id)
    world.tick(later(10))  # nothing due: no second task, no request
    assert len(_tasks(hs, key)) == 1
    _act(world, cid, "done")
    world.tick(later(1))
    (task,) = _tasks(hs, key)
    assert task.props["hs_task_status"] == "COMPLETED"
    assert hs.count("POST", "/crm/v3/objects/tasks") == 1


def test_closed_case_leaves_one_note(hs_world) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.conftest import make_case

    world, hs = hs_world, hs_world.hubspot
    ids = seed_hubspot(hs)
    sync(world)
    case_id = make_case(
        world.rt.engine, team_id=world.team_id, status=CaseStatus.RUNNING, people=False
    )
    with world.session() as s:
        from bot.models import Case

        case = s.get(Case, case_id)
        acme = s.exec(select(Account).where(Account.crm_id == str(ids["acme"]))).one()
        case.account_id = acme.id  # type: ignore[union-attr]
        s.add(case)
    with world.session() as s:
        resolve(s, world.team_id, case_id, "U0MAYA", world.settings, "saved")
    world.tick(later(1))
    world.tick(later(10))
    (note,) = hs.objects("notes", followthrough_id=f"ft-case-{case_id}-note")
    body = note.props["hs_note_body"]
    assert "Outcome: saved" in body and "Steps taken:" in body and "Playbook:" in body
    assert "Resolved at step:" in body
    assert hs.associations_of("notes", note.id, "companies") == {ids["acme"]: {190}}


def test_lost_answer_after_create_is_adopted_not_repeated(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    cid = _commitment(world)
    _act(world, cid, "confirm")
    hs.lose_answer(lambda r: r.method == "POST" and r.path == "/crm/v3/objects/tasks")
    world.tick(later(1))
    key = f"ft-commitment-{cid}"
    assert len(_tasks(hs, key)) == 1 and _row(world, key).status == "pending"
    world.tick(later(5))  # retried: finds the task by our id instead of creating another
    (task,) = _tasks(hs, key)
    assert _row(world, key).external_id == str(task.id) and _row(world, key).status == "done"
    assert hs.count("POST", "/crm/v3/objects/tasks") == 1


def test_crm_down_for_an_hour_queues_then_writes_once_and_tells_the_csm(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    first, second = _commitment(world, "Send the plan"), _commitment(world, "Book the QBR")
    _act(world, first, "confirm")
    _act(world, second, "confirm")
    hs.go_down()
    for _ in range(7):  # an hour of ticks every ten minutes
        world.tick(later(10))
    assert all(_row(world, f"ft-commitment-{c}").status == "pending" for c in (first, second))
    dms = [m for m in world.standin.messages("U0MAYA") if "Could not write" in m.get("text", "")]
    assert len(dms) == 2  # each failed write told once, after a few attempts
    assert "nothing is lost" in dms[0]["text"]
    hs.come_back()
    world.tick(later(30))
    for c in (first, second):
        key = f"ft-commitment-{c}"
        assert len(_tasks(hs, key)) == 1 and _row(world, key).status == "done"
    world.tick(later(30))
    assert hs.count("POST", "/crm/v3/objects/tasks") == 2


def test_write_back_off_for_the_workspace_queues_nothing(hs_world) -> None:  # type: ignore[no-untyped-def]
    from bot.models import CrmConnection

    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    with world.session() as s:
        conn = s.exec(select(CrmConnection)).one()
        conn.write_back = False
        s.add(conn)
    cid = _commitment(world)
    _act(world, cid, "confirm")
    with world.session() as s:
        assert s.exec(select(CrmWrite)).all() == []


def test_worker_killed_mid_write_makes_one_task(hs_world, database_url) -> None:  # type: ignore[no-untyped-def]
    """A worker process SIGKILLed after HubSpot took the create but before it answered: the
    next worker (after the lease) finds the task by our external id and adopts it."""
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    cid = _commitment(world)
    _act(world, cid, "confirm")
    key = f"ft-commitment-{cid}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": world.settings.slack_bot_token,
        "SLACK_API_URL": world.standin.api_url,
        "CRM_VENDOR": "hubspot",
        "HUBSPOT_API_URL": hs.url,
        "HUBSPOT_TOKEN": "pat-standin",
        "RUN_SCHEDULER": "false",
        "LOG_LEVEL": "WARNING",
    }
    at = later(1)
    hs.hold_after(lambda r: r.method == "POST" and r.path == "/crm/v3/objects/tasks")
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "tick", "--now", at.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert hs.faults.held.wait(120), "the worker reached the create"
        worker.send_signal(signal.SIGKILL)
        worker.wait(60)
    finally:
        if worker.poll() is None:
            worker.kill()
        hs.faults.release.set()
    assert len(_tasks(hs, key)) == 1
    row = _row(world, key)
    assert row.status == "claimed" and row.external_id is None  # died before recording it
    again = subprocess.run(
        [sys.executable, "-m", "bot", "tick", "--now", later(10).isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    (task,) = _tasks(hs, key)
    row = _row(world, key)
    assert row.status == "done" and row.external_id == str(task.id)
    assert hs.count("POST", "/crm/v3/objects/tasks") == 1


@pytest.mark.parametrize("answer", ["permanent"])
def test_refused_write_is_shown_to_the_csm_and_can_be_retried(hs_world, answer) -> None:  # type: ignore[no-untyped-def]
    from bot.crm.writeback import retry_failed

    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    cid = _commitment(world)
    _act(world, cid, "confirm")
    refused = (
        400,
        {
            "status": "error",
            "message": "Property values were not valid",
            "category": "VALIDATION_ERROR",
        },
        {},
    )
    hs.fail_next(
        1, refused, when=lambda r: r.method == "POST" and r.path == "/crm/v3/objects/tasks"
    )
    world.tick(later(1))
    key = f"ft-commitment-{cid}"
    assert _row(world, key).status == "failed"
    (dm,) = [m for m in world.standin.messages("U0MAYA") if "Could not write" in m.get("text", "")]
    assert "crm retry" in dm["text"]
    with world.session() as s:
        assert retry_failed(s, world.team_id, later(1)) == 1
    world.tick(later(1))
    assert len(_tasks(hs, key)) == 1 and _row(world, key).status == "done"
