"""The CRM is the book of business: a HubSpot stand-in fills accounts, contacts and owners;
a change in HubSpot shows in the next /report-risk picker (and is audited as a risk
signal); a confirmed commitment becomes one HubSpot task and closes when done; a closed
case leaves one note on the company."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, select

from bot import clock
from bot.cases.control import resolve
from bot.cases.engine import start_case
from bot.cases.report import ReportRequest, report_risk
from bot.commitments.service import transition
from bot.config import CrmVendor
from bot.crm import sync
from bot.devtools.crm_standin import HubSpotStandin
from bot.devtools.world import World
from bot.models import Account, AuditEvent, Commitment, Contact
from bot.slack.directory import SlackDirectory

START = dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York


def _seed(hs: HubSpotStandin) -> dict[str, int]:
    hs.add_property("companies", "arr", "number")
    hs.add_property("companies", "renewal_date", "date")
    hs.add_property("companies", "tier", "string")
    hs.add_owner("77001", "maya@vendor.io", "Maya", "Chen")
    hs.add_owner("77002", "li@vendor.io", "Li", "Wei")
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
    initech = hs.create(
        "companies",
        {
            "name": "Initech",
            "domain": "initech.com",
            "hubspot_owner_id": "77002",
            "arr": "48000",
            "renewal_date": "2027-01-15",
            "tier": "Mid-market",
        },
    )
    dana = hs.add_contact(
        {
            "firstname": "Dana",
            "lastname": "Ruiz",
            "email": "dana@acme.com",
            "hs_buying_role": "CHAMPION",
        },
        acme,
    )
    hs.add_contact(
        {
            "firstname": "Priya",
            "lastname": "Nair",
            "email": "priya@acme.com",
            "hs_buying_role": "END_USER",
        },
        acme,
    )
    hs.add_contact(
        {
            "firstname": "Bill",
            "lastname": "Lumbergh",
            "email": "bill@initech.com",
            "hs_buying_role": "BUDGET_HOLDER",
        },
        initech,
    )
    return {"acme": acme, "initech": initech, "dana": dana}


def _at(minutes: float) -> dt.datetime:
    at = START + dt.timedelta(minutes=minutes)
    clock.set_now(at)
    return at


def story(world: World) -> None:
    world.say("\n== The CRM is the book of business: HubSpot in, tasks and notes back out ==")
    settings = world.rt.settings
    saved = {k: getattr(settings, k) for k in ("crm_vendor", "hubspot_api_url", "hubspot_token")}
    hs = HubSpotStandin().start()
    try:
        settings.crm_vendor = CrmVendor.HUBSPOT
        settings.hubspot_api_url, settings.hubspot_token = hs.url, "pat-standin"
        _play(world, hs)
    finally:
        for k, v in saved.items():
            setattr(settings, k, v)
        hs.stop()


def _sync(world: World) -> list[str]:
    report = sync.run_sync(
        world.rt.engine,
        world.rt.settings,
        world.team_id,
        clock.now(),
        directory=SlackDirectory(world.client),
        force=True,
    )
    return report.lines() if report else ["(not due)"]


def _play(world: World, hs: HubSpotStandin) -> None:
    _at(-60)
    ids = _seed(hs)
    _at(0)
    world.say(
        "\nHubSpot holds 2 companies, 3 contacts and 2 owners. `followthrough crm sync`: "
        "owners are matched to Slack people by email; the accounts imported from CSV earlier "
        "are adopted by domain (in a fresh workspace they are created — no CSV needed):"
    )
    for line in _sync(world):
        world.say(f"    {line}")
    with world.session() as s:
        for a in s.exec(select(Account).where(col_in(Account.crm_id, ids))):
            roles = [
                f"{c.name} ({c.role or 'contact'})"
                for c in s.exec(select(Contact).where(Contact.account_id == a.id))
            ]
            world.say(
                f"    {a.name}: CSM <@{a.csm_user_id}>, ARR ${a.arr:,.0f}, renews "
                f"{a.renewal_date} — {', '.join(roles)}"
            )

    seen = _audits(world, 0, "    the CRM now owns these fields (was → is):")
    world.say(
        "\nIn HubSpot, Acme's renewal moves up and Priya becomes the champion; "
        "15 minutes later the worker syncs:"
    )
    _at(10)
    hs.update("companies", ids["acme"], {"renewal_date": "2027-01-31"})
    hs.update("contacts", ids["dana"], {"hs_buying_role": "END_USER"})
    hs.update(
        "contacts",
        next(o.id for o in hs.objects("contacts", email="priya@acme.com")),
        {"hs_buying_role": "CHAMPION"},
    )
    world.tick(_at(16))
    _audits(world, seen, "    audited as risk signals:")
    option = world.driver.block_suggestion("account_select", "acme").json["options"][0]
    world.say(
        f"    /report-risk picker: {option['text']['text']} — {option['description']['text']}"
    )

    world.say(
        "\nMaya confirms a commitment from Friday's call; the worker writes it to HubSpot once:"
    )
    with world.session() as s:
        acme = s.exec(select(Account).where(Account.crm_id == str(ids["acme"]))).one()
        c = Commitment(
            team_id=world.team_id,
            account_id=acme.id,
            owner_user_id="U0MAYA",
            owner_name="Maya Chen",
            side="vendor",
            text="Send Acme the SSO rollout plan",
            due_date=dt.date(2026, 12, 4),
            status="proposed",
            created_by="U0MAYA",
        )
        s.add(c)
        s.flush()
        cid = c.id or 0
        transition(s, world.team_id, cid, "confirm", "U0MAYA")
    world.tick(_at(17))
    world.tick(_at(18))  # a second tick: nothing new
    (task,) = hs.objects("tasks", followthrough_id=f"ft-commitment-{cid}")
    on = [
        hs.stores[kind].objects[oid].props.get(prop) or str(oid)
        for kind, prop in (("companies", "name"), ("contacts", "firstname"))
        for oid in hs.associations_of("tasks", task.id, kind)
    ]
    world.say(
        f"    HubSpot task {task.id}: “{task.props['hs_task_subject']}” · owner "
        f"{task.props['hubspot_owner_id']} · due {task.props['hs_timestamp'][:10]} · "
        f"{task.props['hs_task_status']} · on {' and '.join(on)}"
    )
    with world.session() as s:
        transition(s, world.team_id, cid, "done", "U0MAYA")
    world.tick(_at(19))
    (task,) = hs.objects("tasks", followthrough_id=f"ft-commitment-{cid}")
    world.say(f"    Maya marks it done → the task is {task.props['hs_task_status']}")

    world.say(
        "\nA renewal-window case on Initech is saved; its outcome lands on the company as a note:"
    )
    result = report_risk(
        world.rt.engine,
        ReportRequest(
            world.team_id,
            "renewal_window",
            "Renewal in 6 weeks, no exec sponsor yet.",
            "U0LI",
            account_name="initech",
        ),
    )
    with world.session() as s:
        start_case(
            s, world.team_id, result.case.id or 0, "U0LI", _at(20), settings=world.rt.settings
        )
    with world.session() as s:
        resolve(s, world.team_id, result.case.id or 0, "U0LI", world.rt.settings, "saved")
    world.tick(_at(21))
    (note,) = hs.objects("notes", followthrough_id=f"ft-case-{result.case.id}-note")
    body = "\n".join(f"    │ {line}" for line in note.props["hs_note_body"].splitlines()[:9])
    world.say(f"  ┌ HubSpot note on Initech\n{body}\n    │ …")
    world.say(
        f"    HubSpot received {hs.count('POST', '/crm/v3/objects/tasks')} task create and "
        f"{hs.count('POST', '/crm/v3/objects/notes')} note create — one each."
    )


def _audits(world: World, after: int, title: str) -> int:
    """Print the CRM field changes audited since audit id `after`; the last id."""
    last = after
    with world.session() as s:
        rows = list(
            s.exec(
                select(AuditEvent).where(
                    AuditEvent.action == "crm_field_changed", col(AuditEvent.id) > after
                )
            )
        )
        names = {a.id: a.name for a in s.exec(select(Account))}
    if rows:
        world.say(title)
    for e in rows:
        d = e.detail
        world.say(
            f"      {names.get(e.entity_id, '?')}: {d['field']} {d.get('old')} → {d.get('new')}"
        )
        last = max(last, e.id or 0)
    return last


def col_in(column, ids: dict[str, int]):
    from sqlmodel import col

    return col(column).in_([str(v) for k, v in ids.items() if k in {"acme", "initech"}])
