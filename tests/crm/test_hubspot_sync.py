"""HubSpot → accounts, contacts and people: first sync, incremental changes (audited as risk
signals), the search cap and identical timestamps, deletions, merges, bad records, tokens."""

from __future__ import annotations

import datetime as dt

from sqlmodel import delete, select

from bot import clock
from bot.crm import service
from bot.crm.hubspot import HubSpotConnector
from bot.crm.mapping import load_mapping
from bot.devtools.crm_standin.hubspot import rate_limited
from bot.models import Account, AuditEvent, Case, Contact, CrmConnection, Person, Role

from .conftest import later, seed_hubspot, sync


def _accounts(world) -> dict[str, Account]:  # type: ignore[no-untyped-def]
    with world.session() as s:
        return {a.name: a for a in s.exec(select(Account).where(Account.team_id == world.team_id))}


def _contacts(world) -> dict[str, Contact]:  # type: ignore[no-untyped-def]
    with world.session() as s:
        return {c.name: c for c in s.exec(select(Contact).where(Contact.team_id == world.team_id))}


def _changes(world, field: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with world.session() as s:
        rows = s.exec(
            select(AuditEvent).where(
                AuditEvent.team_id == world.team_id, AuditEvent.action == "crm_field_changed"
            )
        )
        return [e.detail for e in rows if e.detail.get("field") == field]


def _connector(hs, backoff: float = 0.01) -> HubSpotConnector:  # type: ignore[no-untyped-def]
    return HubSpotConnector(
        load_mapping().config.hubspot.model_copy(deep=True),  # type: ignore[union-attr]
        api_url=hs.url,
        token="pat-standin",
        backoff=backoff,
    )


def test_fresh_workspace_fills_accounts_contacts_and_people(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    ids = seed_hubspot(hs)
    with world.session() as s:  # no roster, no CSV: only Slack membership
        s.exec(delete(Person))  # type: ignore[call-overload]
    report = sync(world)
    assert report is not None and report.error is None, report.lines()
    accounts = _accounts(world)
    acme, globex = accounts["Acme Corp"], accounts["Globex"]
    assert (acme.domain, acme.crm_id, acme.arr, acme.renewal_date, acme.tier) == (
        "acme.com",
        str(ids["acme"]),
        120000.0,
        dt.date(2027, 3, 31),
        "Enterprise",
    )
    assert acme.csm_user_id == "U0MAYA" and globex.csm_user_id == "U0LI"
    assert globex.domain == "globex.io"
    contacts = _contacts(world)
    assert contacts["Dana Ruiz"].role == "champion" and contacts["Dana Ruiz"].account_id == acme.id
    assert contacts["Lee Park"].role == "economic_buyer"
    assert contacts["Hank Scorpio"].account_id == globex.id
    with world.session() as s:
        maya = s.exec(select(Person).where(Person.slack_user_id == "U0MAYA")).one()
        conn = s.exec(select(CrmConnection)).one()
    assert maya.email == "maya@vendor.io" and maya.role == Role.CSM
    assert conn.status == "ok" and conn.full_done and conn.portal == "4242"
    # the owner who is not in Slack is said, not guessed
    assert any(
        "gone@vendor.io" in w and "not in this Slack workspace" in w for w in report.warnings
    )
    # nothing was "changed" on a first sync: no risk signals from an import
    assert _changes(world, "csm_user_id") == [] and _changes(world, "champion") == []


def test_changes_in_hubspot_show_next_sync_and_are_audited(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    ids = seed_hubspot(hs)
    sync(world)
    later(20)
    hs.update(
        "companies",
        ids["acme"],
        {"hubspot_owner_id": "77002", "renewal_date": "2027-01-15", "arr": "90000"},
    )
    hs.update("contacts", ids["dana"], {"hs_buying_role": "END_USER"})
    hs.update("contacts", ids["lee"], {"hs_buying_role": "CHAMPION"})
    hs.calls.clear()
    report = sync(world)
    assert report is not None and not report.full and report.error is None
    assert report.counts["companies"] == 1  # only what changed is read
    acme = _accounts(world)["Acme Corp"]
    assert acme.csm_user_id == "U0LI" and acme.renewal_date == dt.date(2027, 1, 15)
    assert _changes(world, "csm_user_id") == [
        {"field": "csm_user_id", "old": "U0MAYA", "new": "U0LI", "source": "hubspot"}
    ]
    assert _changes(world, "renewal_date")[0]["old"] == "2027-03-31"
    assert _changes(world, "arr")[0] == {
        "field": "arr",
        "old": "120000",
        "new": "90000",
        "source": "hubspot",
    }
    assert _changes(world, "champion") == [
        {"field": "champion", "old": "dana@acme.com", "new": "lee@acme.com", "source": "hubspot"}
    ]
    # the next /report-risk picker shows the new facts
    resp = world.driver.block_suggestion("account_select", "acme")
    (option,) = resp.json["options"]
    assert option["description"]["text"] == "CSM Li · ARR $90k · renews 2027-01-15"


def test_a_tick_with_nothing_changed_is_two_empty_searches(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    later(15)
    hs.calls.clear()
    report = sync(world)
    assert report is not None and report.counts.get("companies", 0) == 0
    assert hs.calls == [
        ("POST", "/crm/v3/objects/companies/search"),
        ("POST", "/crm/v3/objects/contacts/search"),
    ]
    # and between syncs the worker's tick makes no request at all
    hs.calls.clear()
    world.tick(later(1))
    assert hs.calls == []


def test_identical_timestamps_and_the_10000_cap_do_not_stop_the_id_window(hubspot) -> None:  # type: ignore[no-untyped-def]
    stamp = hubspot.now_ms()
    for i in range(10_050):  # a bulk import: every record has the same hs_lastmodifieddate
        hubspot.create("companies", {"name": f"Co {i}"}, at_ms=stamp)
    # paging past 10,000 is refused, as HubSpot does
    status, body, _ = hubspot.dispatch(
        __import__("bot.devtools.crm_standin.base", fromlist=["Request"]).Request(
            "POST",
            "/crm/v3/objects/companies/search",
            {},
            {"authorization": "Bearer pat-standin"},
            b'{"limit": 200, "after": "9900", "filterGroups": []}',
        )
    )
    assert status == 400 and "10,000" in body["message"]
    later(1)
    connector = _connector(hubspot)
    seen: list[str] = []
    for page in connector.changes("company", {"since": stamp}, clock.now()):
        seen += [r.id for r in page.records]
    assert len(seen) == 10_050 == len(set(seen))
    assert connector.requests == 51  # 200 per page, no page read twice


def test_bad_records_are_kept_and_said(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    hs.create("companies", {"name": "No Domain Ltd"})
    hs.create("companies", {"name": "Acme Duplicate", "domain": "acme.com"})
    hs.create(
        "companies",
        {"name": "Typo Inc", "domain": "typo.com", "arr": "a lot", "renewal_date": "soon"},
    )
    hs.create("companies", {"name": "Lapsed", "domain": "lapsed.com", "renewal_date": "2025-06-30"})
    hs.add_owner("77009", "stranger@elsewhere.io", "Stranger", "")
    hs.create(
        "companies", {"name": "Stranger Co", "domain": "stranger.co", "hubspot_owner_id": "77009"}
    )
    report = sync(world)
    assert report is not None and report.error is None
    accounts = _accounts(world)
    assert accounts["No Domain Ltd"].domain is None
    assert accounts["Acme Duplicate"].domain is None and accounts["Acme Corp"].domain == "acme.com"
    assert accounts["Typo Inc"].arr is None and accounts["Typo Inc"].renewal_date is None
    assert accounts["Lapsed"].renewal_date == dt.date(2025, 6, 30)
    assert accounts["Stranger Co"].csm_user_id is None
    text = "\n".join(report.warnings)
    assert "acme.com is already another account's" in text
    assert "'a lot' is not a number" in text and "'soon' is not a date" in text
    assert "2025-06-30 is in the past" in text
    assert "not a Slack member; left empty" in text
    resp = world.driver.block_suggestion("account_select", "lapsed")
    assert "renewal passed 2025-06-30" in resp.json["options"][0]["description"]["text"]


def test_deleted_company_with_an_open_case_stays_flagged(hs_world) -> None:  # type: ignore[no-untyped-def]
    from bot.cases.blocks import case_card
    from bot.cases.control import card

    world, hs = hs_world, hs_world.hubspot
    ids = seed_hubspot(hs)
    sync(world)
    acme = _accounts(world)["Acme Corp"]
    from tests.engine.conftest import make_case  # a running case, written to the models

    case_id = make_case(
        world.rt.engine, team_id=world.team_id, account_name="Acme Corp", people=False
    )
    with world.session() as s:
        case = s.get(Case, case_id)
        case.account_id = acme.id  # type: ignore[union-attr]
        s.add(case)
    hs.archive("companies", ids["acme"])
    later(60 * 7)  # the deletion check runs every few hours
    report = sync(world)
    assert report is not None and report.counts.get("deleted") == 1
    with world.session() as s:
        assert s.get(Case, case_id) is not None and s.get(Account, acme.id) is not None
        blocks = case_card(card(s, world.team_id, case_id))
        deleted = s.exec(select(AuditEvent).where(AuditEvent.action == "crm_deleted")).one()
    assert deleted.entity_id == acme.id
    text = str(blocks)
    assert "deleted in HubSpot on 2026-11-02" in text and "Open in HubSpot" in text
    assert f"record/0-2/{ids['acme']}" in text


def test_merged_companies_become_one_account(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    ids = seed_hubspot(hs)
    sync(world)
    globex_id = _accounts(world)["Globex"].id
    later(10)
    hs.merge("companies", ids["acme"], ids["globex"])
    report = sync(world)
    assert report is not None and report.counts.get("merged") == 1
    accounts = _accounts(world)
    assert "Globex" not in accounts
    assert _contacts(world)["Hank Scorpio"].account_id == accounts["Acme Corp"].id
    with world.session() as s:
        merged = s.exec(select(AuditEvent).where(AuditEvent.action == "crm_merged")).one()
    assert merged.entity_id == globex_id and merged.detail["into"] == accounts["Acme Corp"].id


def test_token_revoked_mid_sync_stops_and_resumes_from_the_cursor(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    for i in range(450):
        hs.create("companies", {"name": f"Bulk {i:03d}", "domain": f"bulk{i}.com"})
    unauthorised = (
        401,
        {
            "status": "error",
            "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION",
        },
        {},
    )
    # the second page of companies is refused: revoked between two pages
    hs.fail_next(
        1, unauthorised, when=lambda r: r.path.endswith("companies/search") and b'"GT"' in r.body
    )
    report = sync(world)
    assert report is not None and report.error and "HUBSPOT_TOKEN" in report.error
    with world.session() as s:
        conn = s.exec(select(CrmConnection)).one()
        count = len(list(s.exec(select(Account))))
    assert conn.status == "auth_failed" and not conn.full_done
    assert count == 200  # the first page, whole; the refused page wrote nothing
    after_id = conn.cursor["company"]["after_id"]
    hs.calls.clear()
    report = sync(world)  # re-authorised (a new token would be set the same way)
    assert report is not None and report.error is None
    with world.session() as s:
        names = [a.name for a in s.exec(select(Account))]
        conn = s.exec(select(CrmConnection)).one()
    assert len(names) == len(set(names)) == 452 and conn.full_done and conn.status == "ok"
    first = next(p for m, p in hs.calls if p.endswith("companies/search"))
    assert first  # resumed inside the window, not from the start:
    assert report.counts["companies"] == 252 and after_id


def test_429_storm_is_ridden_out(hubspot) -> None:  # type: ignore[no-untyped-def]
    seed_hubspot(hubspot)
    later(1)
    hubspot.fail_next(5, rate_limited(), when=lambda r: r.path.endswith("/search"))
    connector = _connector(hubspot)
    records = [r for page in connector.changes("company", {}, clock.now()) for r in page.records]
    assert len(records) == 2 and connector.requests == 6


def test_daily_limit_is_not_hammered(hubspot) -> None:  # type: ignore[no-untyped-def]
    from bot.crm.connector import CrmError

    seed_hubspot(hubspot)
    later(1)
    hubspot.fail_next(1, rate_limited("DAILY"))
    connector = _connector(hubspot)
    try:
        list(connector.changes("company", {}, clock.now()))
    except CrmError as exc:
        assert exc.retryable and "daily API limit" in str(exc)
    assert connector.requests == 1


def test_oauth_access_token_is_refreshed_and_a_revoked_app_stops(database_url) -> None:  # type: ignore[no-untyped-def]
    from bot.devtools.crm_standin import HubSpotStandin

    with HubSpotStandin(token="", oauth=("cid", "secret", "rt-1")) as hs:
        seed_hubspot(hs)
        connector = HubSpotConnector(
            load_mapping().config.hubspot.model_copy(deep=True),  # type: ignore[union-attr]
            api_url=hs.url,
            client_id="cid",
            client_secret="secret",
            refresh_token="rt-1",
            backoff=0.01,
        )
        assert len(list(connector.owners())) == 3
        hs.expire_access_tokens()  # the 30-minute token ran out
        assert len(list(connector.owners())) == 3
        assert hs.count("POST", "/oauth/v1/token") == 2
        hs.revoke()
        from bot.crm.connector import CrmAuthError

        try:
            list(connector.owners())
            raise AssertionError("a revoked app must stop the sync")
        except CrmAuthError as exc:
            assert "reconnect HubSpot" in str(exc)


def test_two_workers_never_sync_at_once(hs_world) -> None:  # type: ignore[no-untyped-def]
    world = hs_world
    seed_hubspot(world.hubspot)
    sync(world)
    now = later(30)  # due again
    first = service.claim_sync(world.rt.engine, world.team_id, now)
    second = service.claim_sync(world.rt.engine, world.team_id, now)
    assert first is not None and second is None
    # a worker that died holding it: after the lease another may take over
    assert service.claim_sync(world.rt.engine, world.team_id, later(11)) == first + 1
