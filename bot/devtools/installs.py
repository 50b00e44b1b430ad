"""Several Slack workspaces installing one Followthrough through OAuth, on this machine.

The stand-in plays Slack (consent page, `oauth.v2.access`, rotation); the real app runs in
OAuth mode over HTTP (waitress); `Browser` walks the install dance the way a person's browser
does: `/slack/install` → Slack's consent page → `/slack/oauth_redirect`, cookies included.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx

from bot.config import Settings, load_settings
from bot.devtools.serving import ServerThread
from bot.devtools.standin import SlackDriver, SlackStandin
from bot.devtools.world import SIGNING_SECRET
from bot.runtime import Runtime, build_runtime
from bot.scheduler import run_due
from bot.slack.app import create_app
from bot.slack.client import WorkspaceClients, connect_workspaces
from bot.slack.outbound import SlackNotifier

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "0123456789abcdef0123456789abcdef"
STATE_COOKIE = "slack-app-oauth-state"


@dataclass(frozen=True)
class Step:
    """One hop of the install dance (what the browser saw)."""

    url: str
    status: int
    location: str | None
    body: str


class Browser:
    """A person's browser: keeps the cookies each host set (the app's `state` cookie is
    `Secure`; browsers keep it on http://127.0.0.1, Python's cookie jar would not)."""

    def __init__(self, standin: SlackStandin, team_id: str, user_id: str) -> None:
        name, value = standin.sign_in(team_id, user_id)
        self.cookies: dict[str, str] = {name: value}
        self.http = httpx.Client(timeout=10, follow_redirects=False)
        self.steps: list[Step] = []

    def get(self, url: str) -> Step:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        resp = self.http.get(url, headers={"Cookie": header} if header else {})
        for raw in resp.headers.get_list("set-cookie"):
            pair, _, attributes = raw.partition(";")
            name, _, value = pair.partition("=")
            gone = "max-age=0" in attributes.lower() or "01 jan 1970" in attributes.lower()
            if gone or value.strip() == "deleted":
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        step = Step(url, resp.status_code, resp.headers.get("location"), resp.text)
        self.steps.append(step)
        return step

    def follow(self, url: str, hops: int = 5) -> Step:
        step = self.get(url)
        while step.status in (301, 302, 303, 307) and step.location and hops > 0:
            step = self.get(urllib.parse.urljoin(step.url, step.location))
            hops -= 1
        return step

    def close(self) -> None:
        self.http.close()


class Installs:
    """The app in OAuth mode behind real HTTP, the stand-in with any number of workspaces."""

    def __init__(
        self,
        database_url: str,
        *,
        token_rotation: bool = False,
        token_lifetime: int = 43_200,
        **settings_overrides: Any,
    ) -> None:
        self.database_url = database_url
        self.standin = SlackStandin()
        self.token_rotation = token_rotation
        self.token_lifetime = token_lifetime
        self._overrides = settings_overrides
        self._server: Any = None

    def start(self) -> Installs:
        self.standin.start()
        overrides: dict[str, Any] = {
            "slack_client_id": CLIENT_ID,
            "slack_client_secret": CLIENT_SECRET,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": self.standin.api_url,
            "database_url": self.database_url,
            "run_scheduler": False,
            **self._overrides,
        }
        self.settings: Settings = load_settings(**overrides)
        self.rt: Runtime = build_runtime(self.settings)
        self.clients: WorkspaceClients = connect_workspaces(self.settings, self.rt.engine)
        self.app = create_app(self.settings, self.rt, clients=self.clients)
        self.notifier = SlackNotifier(self.clients)
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
        self.base_url = f"http://127.0.0.1:{self._server.effective_port}"
        self.standin.register_app(
            CLIENT_ID,
            CLIENT_SECRET,
            [f"{self.base_url}/slack/oauth_redirect"],
            token_rotation=self.token_rotation,
            token_lifetime=self.token_lifetime,
        )
        return self

    def stop(self) -> None:
        from bot import clock

        clock.set_now(None)
        if self._server is not None:
            self._serving.close()
        self.rt.close()
        self.standin.stop()

    def __enter__(self) -> Installs:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    def add_workspace(
        self, team_id: str, name: str, people: list[tuple[str, str, str]], channel: str
    ) -> None:
        """A workspace where the app is not installed yet: people (user id, name, email) and
        a channel they are all in (the bot joins once installed)."""
        self.standin.add_team(team_id, name, installed=False)
        for user_id, real_name, email in people:
            self.standin.add_user(team_id, user_id, real_name.split()[0].lower(), real_name, email)
        self.standin.add_channel(team_id, channel, "cs-risk", [p[0] for p in people])

    def install(self, team_id: str, user_id: str) -> Step:
        """The whole dance for one workspace; returns the page the browser ends on."""
        browser = Browser(self.standin, team_id, user_id)
        try:
            return browser.follow(f"{self.base_url}/slack/install")
        finally:
            browser.close()

    def driver(self, team_id: str, user_id: str, channel_id: str) -> SlackDriver:
        return SlackDriver(
            SIGNING_SECRET,
            team_id,
            self.standin,
            self.events_url,
            user_id=user_id,
            channel_id=channel_id,
        )

    def tick(self, now: Any) -> dict[str, int]:
        from bot import clock

        now = clock.as_utc(now)
        clock.set_now(now)
        return run_due(self.rt, self.notifier, now)
