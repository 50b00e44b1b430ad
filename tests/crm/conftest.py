"""CRM stand-ins seeded like a small CS team's book of business, and a Slack world wired to
them through settings (HUBSPOT_API_URL / SALESFORCE_LOGIN_URL), as an install would be."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import clock
from bot.devtools.crm_standin import HubSpotStandin, SalesforceStandin

MON = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    clock.set_now(MON)
    yield
    clock.set_now(None)


def later(minutes: float) -> dt.datetime:
    """Move the shared clock (the app's and the stand-ins') forward and return it."""
    at = clock.now() + dt.timedelta(minutes=minutes)
    clock.set_now(at)
    return at


def seed_hubspot(hs: HubSpotStandin) -> dict[str, int]:
    hs.add_property("companies", "arr", "number")
    hs.add_property("companies", "renewal_date", "date")
    hs.add_property("companies", "tier", "string")
    hs.add_owner("77001", "maya@vendor.io", "Maya", "Chen")
    hs.add_owner("77002", "li@vendor.io", "Li", "Wei")
    hs.add_owner("77003", "gone@vendor.io", "Former", "Rep")
    acme = hs.create(
        "companies",
        {
            "name": "Acme Corp",
            "domain": "acme.com",
            "hubspot_owner_id": "77001",
            "arr": "120000",
            "renewal_date": "2027-03-31",
            "tier": "Enterprise",
        },
    )
    globex = hs.create(
        "companies",
        {"name": "Globex", "domain": "https://www.globex.io/", "hubspot_owner_id": "77002"},
    )
    dana = hs.add_contact(
        {
            "firstname": "Dana",
            "lastname": "Ruiz",
            "email": "dana@acme.com",
            "jobtitle": "VP Ops",
            "hs_buying_role": "CHAMPION",
        },
        acme,
    )
    lee = hs.add_contact(
        {
            "firstname": "Lee",
            "lastname": "Park",
            "email": "lee@acme.com",
            "jobtitle": "CFO",
            "hs_buying_role": "BUDGET_HOLDER;END_USER",
        },
        acme,
    )
    hs.add_contact({"firstname": "Hank", "lastname": "Scorpio", "email": "hank@globex.io"}, globex)
    return {"acme": acme, "globex": globex, "dana": dana, "lee": lee}


@pytest.fixture
def hubspot() -> Iterator[HubSpotStandin]:
    hs = HubSpotStandin().start()
    yield hs
    hs.stop()


def hubspot_settings(hs: HubSpotStandin, **extra: Any) -> dict[str, Any]:
    return {
        "crm_vendor": "hubspot",
        "hubspot_api_url": hs.url,
        "hubspot_token": "pat-standin",
        **extra,
    }


@pytest.fixture
def rsa_key(tmp_path: Path) -> tuple[Path, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "sf-key.pem"
    path.write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public.decode()


def seed_salesforce(sf: SalesforceStandin) -> dict[str, str]:
    sf.add_field("Account", "ARR__c", "currency")
    sf.add_field("Account", "Tier__c", "picklist")
    sf.add_field("Contact", "Role__c", "picklist")
    sf.add_field("Task", "Followthrough_Id__c", "string", unique=True)
    maya = sf.insert("User", {"Email": "maya@vendor.io", "Name": "Maya Chen", "IsActive": True})
    li = sf.insert("User", {"Email": "li@vendor.io", "Name": "Li Wei", "IsActive": True})
    acme = sf.insert(
        "Account",
        {
            "Name": "Acme Corp",
            "Website": "https://acme.com",
            "OwnerId": maya,
            "ARR__c": 120000.0,
            "Tier__c": "Enterprise",
        },
    )
    globex = sf.insert("Account", {"Name": "Globex", "Website": "globex.io", "OwnerId": li})
    dana = sf.insert(
        "Contact",
        {
            "AccountId": acme,
            "FirstName": "Dana",
            "LastName": "Ruiz",
            "Email": "dana@acme.com",
            "Title": "VP Ops",
            "Role__c": "Champion",
        },
    )
    sf.insert(
        "Contact",
        {
            "AccountId": acme,
            "FirstName": "Lee",
            "LastName": "Park",
            "Email": "lee@acme.com",
            "Title": "CFO",
            "Role__c": "Economic Buyer",
        },
    )
    renewal = sf.insert(
        "Opportunity",
        {
            "AccountId": acme,
            "Type": "Renewal",
            "CloseDate": "2027-03-31",
            "StageName": "Open",
            "IsClosed": False,
        },
    )
    return {
        "maya": maya,
        "li": li,
        "acme": acme,
        "globex": globex,
        "dana": dana,
        "renewal": renewal,
    }


@pytest.fixture
def salesforce(rsa_key: tuple[Path, str]) -> Iterator[SalesforceStandin]:
    sf = SalesforceStandin(public_key_pem=rsa_key[1], batch_size=2000).start()
    yield sf
    sf.stop()


def salesforce_settings(sf: SalesforceStandin, key_file: Path, **extra: Any) -> dict[str, Any]:
    return {
        "crm_vendor": "salesforce",
        "salesforce_login_url": sf.url,
        "salesforce_client_id": sf.client_id,
        "salesforce_username": sf.username,
        "salesforce_private_key_file": str(key_file),
        **extra,
    }


@pytest.fixture
def hs_world(database_url: str, hubspot: HubSpotStandin) -> Iterator[Any]:
    """The Slack world (stand-in + real app) with HubSpot configured."""
    from bot.devtools.world import World

    world = World(database_url, **hubspot_settings(hubspot)).start()
    world.hubspot = hubspot  # type: ignore[attr-defined]
    yield world
    world.stop()


@pytest.fixture
def sf_world(database_url: str, salesforce: SalesforceStandin, rsa_key) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from bot.devtools.world import World

    world = World(database_url, **salesforce_settings(salesforce, rsa_key[0])).start()
    world.salesforce = salesforce  # type: ignore[attr-defined]
    yield world
    world.stop()


def sync(world: Any, **kw: Any):  # type: ignore[no-untyped-def]
    """One sync of the world's workspace, with Slack as the people directory."""
    from bot.crm import sync
    from bot.slack.directory import SlackDirectory

    later(1)  # the sync runs a minute after the last edit in the CRM
    return sync.run_sync(
        world.rt.engine,
        world.settings,
        world.team_id,
        clock.now(),
        directory=SlackDirectory(world.client),
        force=True,
        **kw,
    )
