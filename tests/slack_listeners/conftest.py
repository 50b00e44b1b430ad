"""A Slack world with one of everything a button or form can name — case 1 (running, step 1
awaiting Maya's answer), transcript 1 with commitment 1 proposed, commitments 2 (open, due)
and 3 (done), account 1 — shared by a module's tests, and a `Forge` that sends real-shaped,
signed requests whose ids are whatever the test says.

The world is shared because a bad input must change nothing: every test checks that, so a
test that breaks the rule fails itself rather than the ones after it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select

from bot.cases.engine import start_case
from bot.cases.report import ReportRequest, report_risk
from bot.devtools.standin.driver import FORM, DriverResponse
from bot.devtools.standin.payloads import (
    LEGACY_TOKEN,
    action_ts,
    interaction_form,
    view_state_values,
)
from bot.devtools.world import World
from bot.models import (
    AuditEvent,
    Case,
    CaseStep,
    Commitment,
    OutboundMessage,
    Person,
    Playbook,
    Transcript,
)

MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
BACKENDS = [b for b in os.environ.get("FT_TEST_BACKENDS", "sqlite,postgres").split(",") if b]


@pytest.fixture(scope="module", params=BACKENDS)
def shared_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, new_database: Any
) -> Iterator[str]:
    """Like `database_url`, for one module's tests (see the module docstring)."""
    with new_database(request, request.param, tmp_path_factory.mktemp("shared")) as url:
        yield url


def started_case(world: World) -> int:
    """Acme's champion left: a case planned from the seeded playbook and started, its step 1
    DMed to Maya (awaiting her Yes / No / Edit). Returns the case id."""
    account = world.seed_account("Acme Corp", "acme.com", csm="U0MAYA")
    result = report_risk(
        world.rt.engine,
        ReportRequest(
            world.team_id, "champion_left", "Dana resigned.", "U0MAYA", account_id=account.id
        ),
    )
    case_id = result.case.id or 0
    with world.session() as s:
        start_case(s, world.team_id, case_id, "U0MAYA", MON_9AM_NY, settings=world.settings)
    world.tick(MON_9AM_NY)
    return case_id


@pytest.fixture
def start_a_case() -> Any:
    """`start_a_case(world)` → case id (see `started_case`)."""
    return started_case


def seed(world: World) -> dict[str, Any]:
    """Case 1 running with step 1 awaiting Maya; transcript 1, commitments 1 (proposed),
    2 (open, overdue) and 3 (done) owned by Maya on account 1."""
    case_id = started_case(world)
    with world.session() as s:
        account_id = s.exec(select(Case.account_id).where(Case.id == case_id)).one()
        transcript = Transcript(
            team_id=world.team_id,
            sha256="0" * 64,
            filename="call.vtt",
            uploader_user_id="U0MAYA",
            channel_id="C0CSRISK",
            thread_ts="1700000000.000100",
            status="reviewing",
        )
        s.add(transcript)
        s.flush()
        for status, due in (("proposed", None), ("open", dt.date(2026, 2, 27)), ("done", None)):
            s.add(
                Commitment(
                    team_id=world.team_id,
                    transcript_id=transcript.id,
                    account_id=account_id,
                    owner_user_id="U0MAYA",
                    owner_name="Maya Chen",
                    side="vendor",
                    text=f"Send the SSO guide ({status})",
                    due_date=due,
                    status=status,
                )
            )
        s.flush()
        ids = {
            "case": case_id,
            "step": s.exec(
                select(CaseStep.id).where(CaseStep.case_id == case_id, CaseStep.position == 1)
            ).one(),
            "transcript": transcript.id,
            "account": account_id,
            "commitments": list(s.exec(select(Commitment.id).order_by(Commitment.id))),
        }
    assert ids["case"] == ids["step"] == ids["transcript"] == ids["account"] == 1
    assert ids["commitments"] == [1, 2, 3]  # so a '١' read as 1 would hit a real row
    return ids


def fingerprint(world: World) -> dict[str, Any]:
    """What a change would show in: every audit row, and the state of everything a button
    or form can change (once work an earlier request left running has finished)."""
    assert world.rt.wait_idle()
    with world.session() as s:
        return {
            "audit": s.exec(select(AuditEvent.id, AuditEvent.action)).all(),
            "cases": s.exec(select(Case.id, Case.status, Case.notes, Case.owner_user_id)).all(),
            "steps": s.exec(
                select(
                    CaseStep.id,
                    CaseStep.status,
                    CaseStep.assignee_user_id,
                    CaseStep.decision,
                    CaseStep.draft,
                    CaseStep.delay_seconds,
                )
            ).all(),
            "commitments": s.exec(
                select(
                    Commitment.id,
                    Commitment.status,
                    Commitment.owner_user_id,
                    Commitment.text,
                    Commitment.due_date,
                    Commitment.snoozed_until,
                    Commitment.account_id,
                )
            ).all(),
            "transcripts": s.exec(select(Transcript.id, Transcript.account_id)).all(),
            "playbooks": s.exec(select(Playbook.id, Playbook.retired)).all(),
            "people": s.exec(
                select(Person.slack_user_id, Person.digest_enabled, Person.digest_hour)
            ).all(),
            "outbox": s.exec(select(OutboundMessage.id)).all(),
        }


@dataclass
class Forge:
    """Signed requests with the envelope Slack sends and whatever ids the test puts in."""

    world: World
    user: str = "U0MAYA"

    @property
    def standin(self) -> Any:
        return self.world.standin

    def _base(self, kind: str, user: str | None = None) -> dict[str, Any]:
        user = user or self.user
        team = self.world.team_id
        return {
            "type": kind,
            "team": {"id": team, "domain": "vendor"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "api_app_id": self.world.driver.api_app_id,
            "token": LEGACY_TOKEN,
            "trigger_id": self.standin.new_trigger_id(user, team),
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def send(self, payload: dict[str, Any]) -> DriverResponse:
        return self.world.driver.post(interaction_form(payload), FORM)

    def click(
        self,
        action_id: str,
        *,
        value: str | None = None,
        block_id: str = "b1",
        where: str = "message",  # message | ephemeral | home
        channel: str = "C0CSRISK",
        **selected: Any,
    ) -> DriverResponse:
        payload = self._base("block_actions")
        ts = "1700000000.000200"
        entry: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "type": "button" if not selected else "static_select",
            "action_ts": action_ts(),
        }
        if value is not None or not selected:
            entry["value"] = value
        entry.update(selected)
        payload["actions"] = [entry]
        if where == "home":
            home = {"id": "V0HOME", "type": "home", "blocks": [], "state": {"values": {}}}
            payload.update(container={"type": "view", "view_id": "V0HOME"}, view=home)
        else:
            ephemeral = where == "ephemeral"
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = {"id": channel, "name": "cs-risk"}
            if not ephemeral:
                payload["message"] = {"type": "message", "ts": ts, "text": "…", "blocks": []}
            payload["response_url"] = self.standin.new_response_url(
                self.world.team_id, self.user, channel, ts, ephemeral
            )
        return self.send(payload)

    def submit(
        self,
        view: dict[str, Any],
        values: dict[str, Any],
        *,
        private_metadata: str | None = None,
        user: str | None = None,
    ) -> DriverResponse:
        """Submit `view` (a modal as the app built it) with `values`; `private_metadata`
        replaces what the app put there."""
        current = {"id": "V0FORGED", "type": "modal", "hash": "1.a", **view}
        if private_metadata is not None:
            current["private_metadata"] = private_metadata
        current["state"] = {"values": view_state_values(current, values)}
        payload = self._base("view_submission", user)
        payload.update(view=current, response_urls=[])
        return self.send(payload)

    def command(self, name: str, text: str, user: str | None = None) -> DriverResponse:
        return self.world.driver.command(name, text, user_id=user or self.user)


@pytest.fixture(scope="module")
def bad_world(shared_database_url: str) -> Iterator[tuple[World, dict[str, Any]]]:
    world = World(shared_database_url).start()
    try:
        ids = seed(world)
        yield world, ids
    finally:
        world.stop()


@pytest.fixture
def forge(bad_world: tuple[World, dict[str, Any]]) -> Forge:
    return Forge(bad_world[0])


@pytest.fixture
def snapshot(bad_world: tuple[World, dict[str, Any]]) -> Any:
    """`snapshot()`: the shared world's `fingerprint` now."""
    return lambda: fingerprint(bad_world[0])
