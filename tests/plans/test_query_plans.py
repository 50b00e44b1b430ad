"""Every scheduled job finds its work through an index on a due time (or a small per-person
or per-workspace row), never by reading history: on PostgreSQL, with 20,000 cases of history
seeded and ANALYZEd (`bot.devtools.bigdb`), every statement each job runs on a tick is
EXPLAINed; none may read a big table by a sequential scan, and each job's claim must use its
due index. A new job (signals …) is checked by the same test as soon as it is in JOB_MODULES."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, or_
from sqlmodel import Session, select

from bot.config import load_settings
from bot.db import engine_for
from bot.devtools import bigdb
from bot.devtools.memory_slack import MemorySlack
from bot.devtools.plans import Captured, assert_uses_index, check_plan, describe, rows_read
from bot.models import Account
from bot.runtime import Runtime
from bot.scheduler import due_jobs

pytestmark = pytest.mark.skipif(
    "postgres" not in os.environ.get("FT_TEST_BACKENDS", "sqlite,postgres"),
    reason="query plans are PostgreSQL's",
)
NOW = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)
CASES = 20_000
# the rows years of use leave behind; a scheduled job must never read these whole
HISTORY = {
    "casestep",
    "case",
    "account",
    "commitment",
    "outbound_message",
    "auditevent",
    "transcript",
    "crm_write",
}
# once a day the signal rules look at every account (renewal marks, weeks without a call): a
# bounded sweep of the customer base and its calls, not a per-tick read; every other statement
# of that job obeys the rules below
DAILY_SWEEP = {"signals.builtin": {"account", "transcript"}}
# rows of history one statement may read: nothing due → a probe; due → what is due
MAX_READ = {"idle": 100, "due": 5_000}  # due: ~1,800 steps are due; history is 100,000 rows
DUE_INDEX = {
    "cases.steps_due": "ix_step_due",
    "cases.followups": "ix_step_due",
    "commitment_followups": "ix_commitment_followup",
    "digest": "ix_person_next_digest_at",
    "transcript_retention": "ix_transcript_unpurged",
    "capture": "ix_transcript_status",
    "crm.writes": "ix_crm_write_due",
    "outbox.send": "ix_outbound_due",
}


@pytest.fixture(scope="module")
def big(request: pytest.FixtureRequest, new_database: Any, tmp_path_factory: Any) -> Iterator[str]:
    with new_database(request, "postgres", tmp_path_factory.mktemp("plans")) as url:
        bigdb.seed(url, cases=CASES, due=0, now=NOW)
        yield url


def runtime(url: str) -> Runtime:
    settings = load_settings(
        database_url=url,
        slack_bot_token="xoxb-T0BENCH",
        slack_signing_secret="x",
        transcript_retention_days=300,
        uninstalled_retention_days=30,  # on, so its job runs its query
        _env_file=None,
    )
    return Runtime(settings=settings, engine=engine_for(url))


@pytest.mark.parametrize("at", ["idle", "due"])  # in this order: due changes rows
def test_every_job_reads_its_due_rows_through_an_index(big: str, at: str) -> None:
    rt = runtime(big)
    # idle: nothing due; due: a day later, when a tenth of the steps and a few old
    # transcripts are due — small work in a big history, as on any working day
    now = NOW - dt.timedelta(hours=2) if at == "idle" else NOW + dt.timedelta(days=1)
    jobs = due_jobs()
    assert {name for name, _ in jobs} >= set(DUE_INDEX), "a job was renamed: update DUE_INDEX"
    for name, job in jobs:
        with Captured(rt.engine) as seen:
            job(rt, MemorySlack(), now)
        plans = seen.plans(analyze=True)
        assert plans, f"{name} ran no query"
        for statement, plan in plans:
            what = f"{name}: {' '.join(statement.split())[:160]}"
            touched = {t for t in HISTORY if f" on {t} " in describe(plan)}
            if touched and touched <= DAILY_SWEEP.get(name, set()):
                continue
            check_plan(plan, None, no_seq_scan_on=HISTORY, what=what)
            read = rows_read(plan, HISTORY)
            assert read <= MAX_READ[at], f"{what} read {read} rows:\n{describe(plan)}"
        if name in DUE_INDEX:
            used = [p for _, p in plans if DUE_INDEX[name] in describe(p)]
            assert used, f"{name} never used {DUE_INDEX[name]}:\n" + "\n".join(
                describe(p) for _, p in plans
            )
    rt.close()


def test_report_risk_finds_the_typed_account_on_an_index(big: str) -> None:
    with Session(engine_for(big)) as s:
        low = "customer 4242"
        stmt = select(Account).where(
            Account.team_id == bigdb.TEAM,
            or_(Account.crm_id == low, Account.domain == low, func.lower(Account.name) == low),
        )
        assert_uses_index(s, stmt, "ix_account_name_ci")
