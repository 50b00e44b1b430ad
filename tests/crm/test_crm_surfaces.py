"""Where people meet the CRM: App Home's connection health for CS admins, the case context,
a CSV import that does not fight the CRM, and `followthrough crm …` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlmodel import select

from bot.accounts.service import import_accounts
from bot.cases.context import gather
from bot.models import Account

from .conftest import later, seed_hubspot, sync


def test_app_home_shows_crm_health_to_cs_admins_only(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    world.driver.app_home_opened(user_id="U0ANA")  # a CS admin
    world.standin.wait_for("views.publish")
    text = str(world.standin.home_view("U0ANA")["blocks"])
    assert "CRM connection" in text and "*HubSpot* · ok" in text and "2 companies" in text
    hs.go_down()
    later(20)
    sync(world)
    world.driver.app_home_opened(user_id="U0ANA")
    world.standin.wait_for("views.publish", 2)
    text = str(world.standin.home_view("U0ANA")["blocks"])
    assert "*HubSpot* · error" in text and "Last error" in text and "unreachable" not in text
    world.driver.app_home_opened(user_id="U0SAM")  # not an admin
    world.standin.wait_for("views.publish", 3)
    assert "CRM connection" not in str(world.standin.home_view("U0SAM")["blocks"])


def test_case_context_carries_owners_contacts_and_the_crm_link(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    ids = seed_hubspot(hs)
    sync(world)
    with world.session() as s:
        acme = s.exec(select(Account).where(Account.crm_id == str(ids["acme"]))).one()
        g = gather(s, world.team_id, acme, report_text="usage dropped", risk_name="Usage drop")
    assert g.account["csm_name"] == "Maya Chen" and g.account["renewal_date"] == "2027-03-31"
    assert g.account["crm"] == "HubSpot" and g.account["crm_synced_at"].startswith("2026-11-02")
    assert g.account["crm_url"].endswith(f"/contacts/4242/record/0-2/{ids['acme']}")
    assert g.contacts["champion"][0]["email"] == "dana@acme.com"
    assert g.contacts["economic_buyer"][0]["name"] == "Lee Park"


def test_csv_import_leaves_crm_owned_fields_alone(hs_world) -> None:  # type: ignore[no-untyped-def]
    world, hs = hs_world, hs_world.hubspot
    seed_hubspot(hs)
    sync(world)
    csv = (
        b"name,domain,arr,renewal_date,slack_channel,notes\n"
        b"Acme Inc (old),acme.com,50000,2026-12-01,C0ACME1,Loves dashboards\n"
    )
    with world.session() as s:
        report = import_accounts(s, world.team_id, csv)
    with world.session() as s:
        acme = s.exec(select(Account).where(Account.domain == "acme.com")).one()
    assert (acme.name, acme.arr, str(acme.renewal_date)) == ("Acme Corp", 120000.0, "2027-03-31")
    assert (acme.slack_channel_id, acme.notes) == ("C0ACME1", "Loves dashboards")  # ours
    (warning,) = report.warnings
    assert "come from HubSpot; kept the CRM's values" in warning[1]


def _env(world, database_url: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": world.settings.slack_bot_token,
        "SLACK_API_URL": world.standin.api_url,
        "CRM_VENDOR": "hubspot",
        "HUBSPOT_API_URL": world.hubspot.url,
        "HUBSPOT_TOKEN": "pat-standin",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def test_crm_sync_command_fills_the_workspace(hs_world, database_url) -> None:  # type: ignore[no-untyped-def]
    world = hs_world
    seed_hubspot(world.hubspot)
    later(1)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "crm", "sync", "--team", world.team_id],
        env=_env(world, database_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    # the stand-in stamps records with the test's clock; the command runs on wall time,
    # which is later, so everything is inside its window
    assert done.returncode == 0, done.stderr
    assert "HubSpot full sync: 2 companies (2 new), 3 contacts, 3 owners" in done.stdout
    status = subprocess.run(
        [sys.executable, "-m", "bot", "crm", "status"],
        env=_env(world, database_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "HubSpot: ok" in status.stdout and "writes waiting: 0" in status.stdout


def test_crm_check_points_at_the_mapping_line(hs_world, database_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "mapping.yaml"
    bad.write_text("hubspot:\n  company:\n    name: name\n    arr: [1]\n  external_id: ft_id\n")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "crm", "check"],
        env=_env(hs_world, database_url, CRM_MAPPING_FILE=str(bad)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "mapping.yaml:4:10: hubspot.company.arr must be text" in done.stderr
