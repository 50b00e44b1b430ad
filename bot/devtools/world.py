"""A complete little Slack world on this machine: the stand-in, a workspace with a CS team,
the real Bolt app (reached only through signed requests) and the database.

The test suite's `slack` fixtures and `followthrough demo` both use it, so the demo shows
exactly what the tests prove.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlmodel import Session, select

from bot import clock
from bot.config import Settings, load_settings
from bot.db import session_scope
from bot.devtools.serving import ServerThread
from bot.devtools.standin import SlackDriver, SlackStandin, render_blocks
from bot.manifest import bot_scopes
from bot.models import Account, Contact, Person, Role
from bot.people.service import get_person
from bot.runtime import Runtime, build_runtime
from bot.scheduler import run_due
from bot.slack.app import create_app
from bot.slack.client import WorkspaceClients, connect_workspaces
from bot.slack.directory import SlackDirectory
from bot.slack.outbound import SlackNotifier

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T = TypeVar("T")


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str
    real_name: str
    email: str
    role: str
    tz: str = "America/New_York"
    manager: str | None = None
    admin: bool = False


TEAM = (
    Member("U0MAYA", "maya", "Maya Chen", "maya@vendor.io", Role.CSM, manager="U0OMAR"),
    Member("U0OMAR", "omar", "Omar Haddad", "omar@vendor.io", Role.CS_MANAGER),
    Member(
        "U0LI", "li", "Li Wei", "li@vendor.io", Role.ACCOUNT_EXECUTIVE, tz="America/Los_Angeles"
    ),
    Member("U0ANA", "ana", "Ana Souza", "ana@vendor.io", Role.CS_MANAGER, admin=True),
    Member("U0SAM", "sam", "Sam Patel", "sam@vendor.io", Role.OTHER, tz="Europe/London"),
    Member("U0RITA", "rita", "Rita Gomez", "rita@vendor.io", Role.SUPPORT_LEAD),
)
CS_CHANNEL = "C0CSRISK"


class World:
    def __init__(
        self,
        database_url: str,
        *,
        http: bool = False,
        team_id: str = "T0TEST",
        standin: SlackStandin | None = None,
        echo: bool = False,
        **settings_overrides: Any,
    ) -> None:
        self.team_id = team_id
        self.database_url = database_url
        self.http = http
        self.echo = echo
        self.standin = standin or SlackStandin()
        self._own_standin = standin is None
        self._settings_overrides = settings_overrides
        self._server: Any = None
        self.transcript: list[str] = []
        self.state: dict[str, Any] = {}  # what one demo story leaves for the next (case id …)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> World:
        if self._own_standin:
            self.standin.start()
        # The workspace installed the app from its manifest: exactly the manifest's scopes.
        self.standin.add_team(self.team_id, "Vendor Inc", scopes=bot_scopes())
        for m in TEAM:
            self.standin.add_user(self.team_id, m.user_id, m.name, m.real_name, m.email, tz=m.tz)
        self.standin.add_channel(self.team_id, CS_CHANNEL, "cs-risk", [m.user_id for m in TEAM])
        overrides: dict[str, Any] = {
            "slack_bot_token": f"xoxb-{self.team_id}",
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": self.standin.api_url,
            "database_url": self.database_url,
            "cs_channel": CS_CHANNEL,
            "cs_admins": ["U0ANA"],
            "run_scheduler": False,
        }
        overrides.update(self._settings_overrides)
        self.settings: Settings = load_settings(**overrides)
        self.rt: Runtime = build_runtime(self.settings)
        self.clients: WorkspaceClients = connect_workspaces(self.settings, self.rt.engine)
        self.app = create_app(self.settings, self.rt, clients=self.clients)
        self.client = self.clients.client(self.team_id)
        self.notifier = SlackNotifier(self.clients)
        self._seed_people()
        target: Any = self.app
        if self.http:
            from bot.web import make_server

            self._server = make_server(
                self.app,
                self.rt.engine,
                host="127.0.0.1",
                port=0,
                signing_secret=self.settings.slack_signing_secret,
                rt=self.rt,
                clients=self.clients,
            )
            self._serving = ServerThread(self._server)
            target = f"http://127.0.0.1:{self._server.effective_port}/slack/events"
        self.base_url = target if isinstance(target, str) else None
        self.http_root = (
            f"http://127.0.0.1:{self._server.effective_port}" if self._server is not None else None
        )
        self.driver = SlackDriver(
            SIGNING_SECRET,
            self.team_id,
            self.standin,
            target,
            user_id="U0MAYA",
            channel_id=CS_CHANNEL,
        )
        return self

    def stop(self) -> None:
        clock.set_now(None)
        self.driver.close()
        if self._server is not None:
            self._serving.close()
        self.rt.close()
        if self._own_standin:
            self.standin.stop()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _seed_people(self) -> None:
        directory = SlackDirectory(self.client)
        with self.session() as s:
            for m in TEAM:
                p = get_person(s, self.team_id, m.user_id, directory)
                p.role, p.manager_user_id, p.is_admin = m.role, m.manager, m.admin
                s.add(p)

    # -- helpers for tests and stories -----------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.rt.engine) as s:
            yield s

    def wait_db(self, check: Callable[[Session], T | None], what: str, timeout: float = 30.0) -> T:
        """Wait for database state the app writes on its own threads (a row in a status):
        `check(session)` runs in a fresh transaction after every request the stand-in serves
        and every 50 ms, until it returns something truthy."""

        def probe() -> T | None:
            with self.session() as s:
                return check(s)

        return self.standin.wait_until(probe, timeout, what, poll=0.05)

    def tick(self, now: dt.datetime) -> dict[str, int]:
        """Move the app's clock to `now` and run the scheduled work once."""
        now = clock.as_utc(now)
        clock.set_now(now)
        return run_due(self.rt, self.notifier, now)

    def seed_account(
        self,
        name: str = "Acme Corp",
        domain: str | None = "acme.com",
        *,
        csm: str | None = "U0MAYA",
        ae: str | None = "U0LI",
        arr: float | None = 120_000,
        renewal_date: dt.date | None = None,
        tier: str | None = "Enterprise",
        contacts: list[dict[str, str]] | None = None,
        channel: str | None = None,
    ) -> Account:
        """An account with contacts (default: a champion and an economic buyer)."""
        if contacts is None:
            contacts = [
                {
                    "name": "Dana Ruiz",
                    "email": "dana@acme.com",
                    "title": "VP Operations",
                    "role": "champion",
                },
                {
                    "name": "Lee Park",
                    "email": "lee@acme.com",
                    "title": "CFO",
                    "role": "economic_buyer",
                },
            ]
        with self.session() as s:
            account = (
                s.exec(
                    select(Account).where(Account.team_id == self.team_id, Account.domain == domain)
                ).first()
                if domain
                else None
            )
            if account is None:
                account = Account(team_id=self.team_id, name=name, domain=domain)
            # Stories may share an account: the latest facts win, contacts are added once.
            account.name, account.csm_user_id, account.ae_user_id = name, csm, ae
            account.arr, account.renewal_date, account.tier = arr, renewal_date, tier
            account.slack_channel_id = channel
            s.add(account)
            s.flush()
            known = {
                c.email
                for c in s.exec(
                    select(Contact).where(
                        Contact.team_id == self.team_id, Contact.account_id == account.id
                    )
                )
            }
            for c in contacts:
                if c.get("email") not in known:
                    s.add(Contact(team_id=self.team_id, account_id=account.id or 0, **c))  # type: ignore[arg-type]
        return account

    def person(self, user_id: str) -> Person:
        with self.session() as s:
            return s.exec(
                select(Person).where(
                    Person.team_id == self.team_id, Person.slack_user_id == user_id
                )
            ).one()

    # -- narration for the demo ----------------------------------------------------------
    def say(self, text: str) -> None:
        self.transcript.append(text)
        if self.echo:
            print(text, flush=True)

    def show(self, who: str, message: dict | list | str | None) -> None:
        """Print a message (or blocks) the way a person in Slack would read it."""
        if message is None:
            body = "(nothing)"
        elif isinstance(message, str):
            body = message
        elif isinstance(message, list):
            body = render_blocks(message)
        else:
            body = render_blocks(message.get("blocks") or []) or message.get("text", "")
        indented = "\n".join("    │ " + line for line in body.splitlines())
        self.say(f"  ┌ {who}\n{indented}")
