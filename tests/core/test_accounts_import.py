from sqlmodel import select

from bot.accounts.service import (
    ImportError_,
    find_account,
    import_accounts,
    import_contacts,
    search_accounts,
)
from bot.db import session_scope
from bot.models import Account, AuditEvent, Contact, Person

TEAM = "T0TEST"


class FakeDirectory:
    """Only for the email → user step; the Slack-backed one is exercised in Slack-level tests."""

    users = {
        "maya@vendor.io": {
            "id": "U0MAYA",
            "real_name": "Maya Chen",
            "tz": "Europe/Berlin",
            "profile": {"email": "maya@vendor.io", "real_name": "Maya Chen"},
        }
    }

    def user(self, user_id: str):
        return next((u for u in self.users.values() if u["id"] == user_id), None)

    def user_by_email(self, email: str):
        return self.users.get(email)


GOOD = (
    b"name,domain,crm_id,csm_email,arr,renewal_date,tier\n"
    b'Acme Corp,acme.com,CRM-1,maya@vendor.io,"$120,000",2027-03-31,Enterprise\n'
    b"Globex,globex.com,,,45k,,Mid-market\n"
)


def test_import_creates_then_upserts(db_engine) -> None:
    with session_scope(db_engine) as s:
        report = import_accounts(s, TEAM, GOOD, FakeDirectory())
    assert (report.created, report.updated, report.skipped) == (2, 0, [])
    with session_scope(db_engine) as s:
        acme = find_account(s, TEAM, "acme")
        assert acme and acme.arr == 120000 and acme.csm_user_id == "U0MAYA"
        assert acme.renewal_date.isoformat() == "2027-03-31"
        assert (
            s.exec(select(Person).where(Person.slack_user_id == "U0MAYA")).one().tz
            == "Europe/Berlin"
        )
        report = import_accounts(s, TEAM, b"name,crm_id,tier\nAcme Renamed,CRM-1,Strategic\n")
    assert (report.created, report.updated) == (0, 1)
    with session_scope(db_engine) as s:
        acme = s.exec(select(Account).where(Account.crm_id == "CRM-1")).one()
        assert (
            acme.name == "Acme Renamed" and acme.tier == "Strategic" and acme.domain == "acme.com"
        )
        assert len(list(s.exec(select(AuditEvent).where(AuditEvent.entity == "account")))) == 3


def test_bad_rows_are_reported_by_line_and_the_rest_imported(db_engine) -> None:
    data = (
        b"name,domain,csm_email,arr,renewal_date\n"
        b"Good One,good.com,,,\n"
        b"Bad Email,bademail.com,not-an-email,,\n"
        b"Bad Domain,not a domain,,,\n"
        b"Good One Again,good.com,,,\n"
        b"Bad Arr,arr.com,,lots,\n"
        b"Bad Date,date.com,,,31/03/2027\n"
        b"Caf\xe9 Latin1,cafe.com,,,\n"
        b",noname.com,,,\n"
        b"Good Two,two.com,,,\n"
    )
    with session_scope(db_engine) as s:
        report = import_accounts(s, TEAM, data)
    lines = dict(report.skipped)
    assert report.created == 2
    assert set(lines) == {3, 4, 5, 6, 7, 8, 9}
    assert "email" in lines[3] and "domain" in lines[4] and "duplicate of line 2" in lines[5]
    assert "ARR" in lines[6] and "renewal_date" in lines[7] and "UTF-8" in lines[8]
    assert "name is empty" in lines[9]
    with session_scope(db_engine) as s:
        assert {a.name for a in s.exec(select(Account))} == {"Good One", "Good Two"}


def test_missing_required_column_refuses_the_whole_file(db_engine) -> None:
    import pytest

    with session_scope(db_engine) as s, pytest.raises(ImportError_, match="name"):
        import_accounts(s, TEAM, b"domain,tier\nacme.com,gold\n")
    with session_scope(db_engine) as s, pytest.raises(ImportError_):
        import_accounts(s, TEAM, b"")


def test_unknown_csm_email_is_a_warning_not_a_skip(db_engine) -> None:
    with session_scope(db_engine) as s:
        report = import_accounts(
            s, TEAM, b"name,domain,csm_email\nX,x.com,ghost@vendor.io\n", FakeDirectory()
        )
    assert report.created == 1 and report.warnings and not report.skipped


def test_contacts_import_and_scoping(db_engine) -> None:
    with session_scope(db_engine) as s:
        import_accounts(s, TEAM, GOOD)
        import_accounts(s, "T0OTHER", b"name,domain\nAcme Elsewhere,acme.com\n")
        report = import_contacts(
            s,
            TEAM,
            (
                b"account,name,email,title,role\n"
                b"acme.com,Dana Ruiz,dana@acme.com,VP Ops,Champion\n"
                b"acme.com,Lee Park,lee@acme.com,CFO,economic buyer\n"
                b"nowhere.com,Ghost,ghost@x.com,,\n"
            ),
        )
    assert report.created == 2 and report.skipped[0][0] == 4
    with session_scope(db_engine) as s:
        roles = {c.role for c in s.exec(select(Contact))}
        assert roles == {"champion", "economic_buyer"}
        assert [a.name for a in search_accounts(s, TEAM, "ac")] == ["Acme Corp"]
        assert [a.name for a in search_accounts(s, "T0OTHER", "ac")] == ["Acme Elsewhere"]


def test_slack_channel_must_be_an_id(db_engine) -> None:
    with session_scope(db_engine) as s:
        report = import_accounts(
            s, TEAM, b"name,domain,slack_channel\nA,a.com,C0ACME123\nB,b.com,#acme-shared\n"
        )
    assert report.created == 1 and report.skipped[0][0] == 3
    assert "channel id" in report.skipped[0][1]
