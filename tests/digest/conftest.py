"""Helpers for the digest / follow-through / reports tests: a runtime on the test database,
a recording notifier, and row factories (rows are created directly with the models)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import load_settings
from bot.db import engine_for, session_scope
from bot.devtools.memory_slack import MemorySlack
from bot.models import (
    Account,
    Case,
    CaseStep,
    Commitment,
    CommitmentStatus,
    Person,
    Playbook,
    StepStatus,
)
from bot.notify import DeliveryError, Posted
from bot.outbox.scheduled import send_due
from bot.runtime import Runtime

TEAM = "T0TEST"
_ts = itertools.count(1)


class FakeNotifier(MemorySlack):
    """The in-memory Slack, plus what these tests read: `dms` (team, user, text, blocks) and
    `posts`; `fail_for` users' DMs raise the given DeliveryError; `upload_error` fails uploads."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_for: dict[str, DeliveryError] = {}
        self.upload_error: DeliveryError | None = None
        self.uploads: list[dict[str, Any]] = []

    def post(
        self,
        team_id: str,
        channel: str,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Posted:
        user = channel[1:] if channel.startswith("D") else None
        if user in self.fail_for:
            raise self.fail_for[user]
        return super().post(team_id, channel, text, blocks, thread_ts, metadata)

    @property
    def dms(self) -> list[tuple[str, str, str, list[dict] | None]]:
        return [
            (TEAM, m.channel[1:], m.text, m.blocks)
            for m in self.live()
            if m.channel.startswith("D") and (m.via == "dm" or m.metadata)
        ]

    @property
    def posts(self) -> list[tuple[str, str, list[dict] | None]]:
        return [
            (m.channel, m.text, m.blocks)
            for m in self.live()
            if not m.channel.startswith("D") or (m.via == "post" and not m.metadata)
        ]

    def upload(
        self,
        team_id: str,
        channel: str,
        filename: str,
        content: bytes,
        title: str,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> None:
        if self.upload_error:
            raise self.upload_error
        self.uploads.append({"channel": channel, "filename": filename, "size": len(content)})

    def to(self, user_id: str) -> list[tuple[str, str, str, list[dict] | None]]:
        return [d for d in self.dms if d[1] == user_id]


def deliver(job: Any, rt: Runtime, notifier: Any, now: dt.datetime, **kw: Any) -> int:
    """What a worker's tick does for one job: queue its messages, then send the outbox.
    Returns how many messages landed."""
    job(rt, notifier, now, **kw)
    return send_due(rt, notifier, now)


@pytest.fixture
def rt(database_url: str) -> Iterator[Runtime]:
    settings = load_settings(
        database_url=database_url,
        cs_admins=["U0ANA"],
        default_timezone="America/New_York",
        run_scheduler=False,
    )
    runtime = Runtime(settings=settings, engine=engine_for(database_url))
    yield runtime
    runtime.background.shutdown(wait=True)


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def send() -> Any:
    return deliver


class Rows:
    """Row factories bound to one runtime's database."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def person(self, user_id: str, tz: str | None = "America/New_York", **kw: Any) -> None:
        with session_scope(self.rt.engine) as s:
            s.add(
                Person(
                    team_id=kw.pop("team_id", TEAM),
                    slack_user_id=user_id,
                    name=user_id,
                    real_name=kw.pop("real_name", user_id),
                    tz=tz,
                    **kw,
                )
            )

    def account(
        self, name: str = "Acme Corp", csm: str | None = "U0MAYA", team_id: str = TEAM, **kw: Any
    ) -> int:
        with session_scope(self.rt.engine) as s:
            a = Account(
                team_id=team_id, name=name, domain=kw.pop("domain", None), csm_user_id=csm, **kw
            )
            s.add(a)
            s.flush()
            return a.id or 0

    def commitment(
        self,
        owner: str,
        text: str = "Send the SSO guide",
        due: dt.date | None = None,
        team_id: str = TEAM,
        status: str = CommitmentStatus.OPEN,
        **kw: Any,
    ) -> int:
        with session_scope(self.rt.engine) as s:
            c = Commitment(
                team_id=team_id,
                owner_user_id=owner,
                text=text,
                due_date=due,
                status=status,
                side=kw.pop("side", "vendor"),
                **kw,
            )
            s.add(c)
            s.flush()
            return c.id or 0

    def case_with_step(
        self,
        assignee: str,
        account_id: int,
        *,
        status: str = StepStatus.AWAITING,
        due_at: dt.datetime | None = None,
        summary: str = "Call the champion",
        team_id: str = TEAM,
        **case_kw: Any,
    ) -> tuple[int, int]:
        with session_scope(self.rt.engine) as s:
            pb = Playbook(
                team_id=team_id, key=f"pb{next(_ts)}", name="Missed commitment", summary="…"
            )
            s.add(pb)
            s.flush()
            case = Case(
                team_id=team_id,
                account_id=account_id,
                risk_key="missed_commitment",
                playbook_id=pb.id or 0,
                total_steps=3,
                status="running",
                owner_user_id=case_kw.pop("owner", "U0MAYA"),
                **case_kw,
            )
            s.add(case)
            s.flush()
            step = CaseStep(
                team_id=team_id,
                case_id=case.id or 0,
                position=1,
                summary=summary,
                medium="slack_dm",
                assignee_role="csm",
                assignee_user_id=assignee,
                status=status,
                due_at=due_at,
            )
            s.add(step)
            s.flush()
            return case.id or 0, step.id or 0


@pytest.fixture
def rows(rt: Runtime) -> Rows:
    return Rows(rt)
