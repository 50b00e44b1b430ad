"""Salesforce → accounts, contacts and people through SOQL (JWT bearer login), the renewal
from Opportunities, SystemModstamp increments with deletes and merges from queryAll, session
expiry, REQUEST_LIMIT_EXCEEDED, missing custom fields; tasks and case notes written back."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot import clock
from bot.cases.control import resolve
from bot.commitments.service import transition
from bot.crm.mapping import load_mapping
from bot.crm.salesforce import SalesforceConnector
from bot.devtools.crm_standin.salesforce import sf_error
from bot.models import Account, AuditEvent, Case, CaseStatus, Commitment, Contact, CrmConnection

from .conftest import later, seed_salesforce, sync


def _accounts(world) -> dict[str, Account]:  # type: ignore[no-untyped-def]
    with world.session() as s:
        return {a.name: a for a in s.exec(select(Account).where(Account.team_id == world.team_id))}


def test_first_sync_and_changes_from_salesforce(sf_world) -> None:  # type: ignore[no-untyped-def]
    world, sf = sf_world, sf_world.salesforce
    ids = seed_salesforce(sf)
    report = sync(world)
    assert report is not None and report.error is None, report.lines()
    acme = _accounts(world)["Acme Corp"]
    assert (acme.domain, acme.csm_user_id, acme.arr, acme.tier, acme.renewal_date) == (
        "acme.com",
        "U0MAYA",
        120000.0,
        "Enterprise",
        dt.date(2027, 3, 31),
    )
    assert _accounts(world)["Globex"].csm_user_id == "U0LI"
    with world.session() as s:
        roles = {c.name: c.role for c in s.exec(select(Contact))}
        conn = s.exec(select(CrmConnection)).one()
    assert roles == {"Dana Ruiz": "champion", "Lee Park": "economic_buyer"}
    assert conn.portal == sf.url  # the instance URL from the token answer
    # changes: a new renewal opportunity date, a new owner, the champion leaves (deleted)
    later(30)
    sf.change("Opportunity", ids["renewal"], {"CloseDate": "2027-02-28"})
    sf.change("Account", ids["acme"], {"OwnerId": ids["li"]})
    sf.delete("Contact", ids["dana"])
    sf.calls.clear()
    report = sync(world)
    assert report is not None and report.error is None
    acme = _accounts(world)["Acme Corp"]
    assert acme.renewal_date == dt.date(2027, 2, 28) and acme.csm_user_id == "U0LI"
    with world.session() as s:
        changed = {
            e.detail["field"]: e.detail
            for e in s.exec(select(AuditEvent).where(AuditEvent.action == "crm_field_changed"))
        }
        assert [c.name for c in s.exec(select(Contact))] == ["Lee Park"]
    assert changed["renewal_date"]["old"] == "2027-03-31"
    assert changed["csm_user_id"] == {
        "field": "csm_user_id",
        "old": "U0MAYA",
        "new": "U0LI",
        "source": "salesforce",
    }
    assert changed["champion"]["old"] == "dana@acme.com" and "new" not in changed["champion"]
    assert any("/queryAll/" in p for _, p in sf.calls)  # deletions come with the changes


def test_merged_account_moves_its_cases(sf_world) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.conftest import make_case

    world, sf = sf_world, sf_world.salesforce
    ids = seed_salesforce(sf)
    sync(world)
    globex = _accounts(world)["Globex"]
    case_id = make_case(world.rt.engine, team_id=world.team_id, people=False)
    with world.session() as s:
        case = s.get(Case, case_id)
        case.account_id = globex.id  # type: ignore[union-attr]
        s.add(case)
    later(10)
    sf.merge("Account", ids["acme"], ids["globex"])
    report = sync(world)
    assert report is not None and report.counts.get("merged") == 1, report.lines()
    assert "Globex" not in _accounts(world)
    with world.session() as s:
        acme = s.exec(select(Account).where(Account.crm_id == ids["acme"])).one()
        assert s.get(Case, case_id).account_id == acme.id  # type: ignore[union-attr]


def test_expired_session_logs_in_again_and_limit_storm_is_ridden_out(salesforce, rsa_key) -> None:  # type: ignore[no-untyped-def]
    seed_salesforce(salesforce)
    connector = SalesforceConnector(
        load_mapping().config.salesforce.model_copy(deep=True),  # type: ignore[union-attr]
        login_url=salesforce.url,
        client_id=salesforce.client_id,
        username=salesforce.username,
        private_key_file=str(rsa_key[0]),
        backoff=0.01,
    )
    assert {o.email for o in connector.owners()} == {"maya@vendor.io", "li@vendor.io"}
    salesforce.expire_sessions()  # two hours idle: INVALID_SESSION_ID
    busy = sf_error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
    salesforce.fail_next(3, busy, when=lambda r: "/query" in r.path)
    records = [r for p in connector.changes("company", {}, clock.now()) for r in p.records]
    assert len(records) == 2
    assert salesforce.count("POST", "/services/oauth2/token") == 2
    salesforce.revoke()
    from bot.crm.connector import CrmAuthError

    try:
        list(connector.owners())
        raise AssertionError("a revoked connected app must stop the sync")
    except CrmAuthError as exc:
        assert "reconnect Salesforce" in str(exc)


def test_paging_follows_next_records_url(rsa_key) -> None:  # type: ignore[no-untyped-def]
    from bot.devtools.crm_standin import SalesforceStandin

    with SalesforceStandin(public_key_pem=rsa_key[1], batch_size=200) as sf:
        seed_salesforce(sf)
        for i in range(450):
            sf.insert("Account", {"Name": f"Bulk {i}"})
        connector = SalesforceConnector(
            load_mapping().config.salesforce.model_copy(deep=True),  # type: ignore[union-attr]
            login_url=sf.url,
            client_id=sf.client_id,
            username=sf.username,
            private_key_file=str(rsa_key[0]),
        )
        pages = list(connector.changes("company", {}, clock.now()))
        assert [len(p.records) for p in pages] == [200, 200, 52]
        assert pages[-1].cursor["id"] == max(r.id for p in pages for r in p.records)


def test_missing_custom_field_is_reported_at_its_mapping_line(sf_world) -> None:  # type: ignore[no-untyped-def]
    world, sf = sf_world, sf_world.salesforce
    seed_salesforce(sf)
    del sf.fields["Account"]["Tier__c"]  # the org never had it
    report = sync(world)
    assert report is not None and report.error is None, report.lines()
    (warning,) = [w for w in report.warnings if "Tier__c" in w]
    lines = load_mapping().text.splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "tier: Tier__c" in t)
    assert (
        warning.startswith(f"mapping.yaml:{line}:") and "Account has no field 'Tier__c'" in warning
    )
    assert _accounts(world)["Acme Corp"].tier is None  # left out of the query, not a failure


def test_tasks_and_case_notes_in_salesforce_exactly_once(sf_world) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.conftest import make_case

    world, sf = sf_world, sf_world.salesforce
    ids = seed_salesforce(sf)
    sync(world)
    acme = _accounts(world)["Acme Corp"]
    with world.session() as s:
        c = Commitment(
            team_id=world.team_id,
            account_id=acme.id,
            owner_user_id="U0MAYA",
            owner_name="Maya Chen",
            text="Share the migration runbook",
            due_date=dt.date(2026, 11, 20),
            status="proposed",
            created_by="U0MAYA",
        )
        s.add(c)
        s.flush()
        cid = c.id
    with world.session() as s:
        transition(s, world.team_id, cid, "confirm", "U0MAYA")
    sf.lose_answer(lambda r: r.method == "POST" and r.path.endswith("/sobjects/Task/"))
    world.tick(later(1))
    world.tick(later(5))
    (task,) = sf.live("Task", Followthrough_Id__c=f"ft-commitment-{cid}")
    assert (task["WhatId"], task["WhoId"], task["OwnerId"], task["ActivityDate"]) == (
        ids["acme"],
        ids["dana"],
        ids["maya"],
        "2026-11-20",
    )
    assert task["Status"] == "Not Started"
    with world.session() as s:
        transition(s, world.team_id, cid, "done", "U0MAYA")
    world.tick(later(1))
    assert sf.live("Task", Followthrough_Id__c=f"ft-commitment-{cid}")[0]["Status"] == "Completed"
    case_id = make_case(
        world.rt.engine, team_id=world.team_id, status=CaseStatus.RUNNING, people=False
    )
    with world.session() as s:
        case = s.get(Case, case_id)
        case.account_id = acme.id  # type: ignore[union-attr]
        s.add(case)
    with world.session() as s:
        resolve(s, world.team_id, case_id, "U0MAYA", world.settings, "churned")
    world.tick(later(1))
    world.tick(later(10))
    (note,) = sf.live("Task", Followthrough_Id__c=f"ft-case-{case_id}-note")
    assert note["Status"] == "Completed" and "Outcome: churned" in note["Description"]
    assert len(sf.live("Task")) == 2


def test_refresh_token_flow(rsa_key) -> None:  # type: ignore[no-untyped-def]
    from bot.devtools.crm_standin import SalesforceStandin

    with SalesforceStandin(client_secret="s3cret", refresh_token="5Aep-refresh") as sf:
        seed_salesforce(sf)
        connector = SalesforceConnector(
            load_mapping().config.salesforce.model_copy(deep=True),  # type: ignore[union-attr]
            login_url=sf.url,
            client_id=sf.client_id,
            client_secret="s3cret",
            refresh_token="5Aep-refresh",
        )
        assert len(list(connector.owners())) == 2
        assert connector.instance_url == sf.url
