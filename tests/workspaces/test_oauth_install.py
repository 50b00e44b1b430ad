"""The OAuth install dance against the stand-in: /slack/install → Slack's consent page →
/slack/oauth_redirect, and every way it can go wrong (bad or replayed state, a code used
twice, a cancelled consent, a workspace that never installed)."""

from __future__ import annotations

import urllib.parse

import sqlalchemy as sa
from sqlmodel import select

from bot.db import session_scope
from bot.devtools.installs import Browser, Installs
from bot.manifest import bot_scopes
from bot.models import AuditEvent, Workspace
from bot.workspaces.installations import INSTALLATIONS, OAUTH_STATES


def _installations(inst: Installs) -> list[dict]:
    with inst.rt.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(INSTALLATIONS)).mappings()]


def _to_consent(inst: Installs, browser: Browser) -> str:
    """Open /slack/install; return the consent-page URL it redirects to."""
    step = browser.get(f"{inst.base_url}/slack/install")
    assert step.status == 302 and step.location
    return step.location


def _approve(inst: Installs, browser: Browser, consent_url: str) -> str:
    """The person clicks Allow; return the redirect URL Slack sends the browser to."""
    step = browser.get(consent_url)
    assert step.status == 302 and step.location
    return step.location


def test_install_stores_the_workspace_token_and_asks_for_the_manifest_scopes(installs) -> None:
    browser = Browser(installs.standin, "T0ACME", "U0ANN")
    consent = _to_consent(installs, browser)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(consent).query))
    assert consent.startswith(installs.standin.url + "/oauth/v2/authorize")
    assert query["client_id"] == installs.settings.slack_client_id
    assert query["scope"].split(",") == bot_scopes()
    assert "slack-app-oauth-state" in browser.cookies
    final = browser.follow(_approve(installs, browser, consent))
    assert final.status == 200 and "slack://app?team=T0ACME" in final.body

    [row] = _installations(installs)
    assert row["team_id"] == "T0ACME" and row["bot_user_id"] == "UT0ACMEBOT"
    assert row["bot_token"] == installs.standin.token_of("T0ACME")
    assert row["bot_scopes"].split(",") == bot_scopes()
    with installs.rt.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(OAUTH_STATES)).scalar() == 0
    with session_scope(installs.rt.engine) as s:
        ws = s.exec(select(Workspace).where(Workspace.team_id == "T0ACME")).one()
        assert ws.active and ws.name == "Acme CS" and ws.bot_id == "BT0ACMEBOT"
        assert s.exec(
            select(AuditEvent).where(
                AuditEvent.team_id == "T0ACME", AuditEvent.action == "installed"
            )
        ).first()
    assert installs.clients.teams() == ["T0ACME"]


def test_a_forged_state_is_refused_and_nothing_is_stored(installs) -> None:
    browser = Browser(installs.standin, "T0ACME", "U0ANN")
    consent = _to_consent(installs, browser)
    redirect = _approve(installs, browser, consent)
    forged = redirect.replace("state=", "state=forged")
    step = browser.get(forged)
    assert step.status in (400, 401) and "invalid" in step.body
    assert _installations(installs) == []


def test_a_state_without_its_browser_cookie_is_refused(installs) -> None:
    browser = Browser(installs.standin, "T0ACME", "U0ANN")
    redirect = _approve(installs, browser, _to_consent(installs, browser))
    browser.cookies.pop("slack-app-oauth-state")  # another browser than the one that started
    step = browser.get(redirect)
    assert step.status == 400 and "invalid_browser" in step.body
    assert _installations(installs) == []


def test_a_replayed_redirect_is_refused(installs) -> None:
    browser = Browser(installs.standin, "T0ACME", "U0ANN")
    redirect = _approve(installs, browser, _to_consent(installs, browser))
    state_cookie = browser.cookies["slack-app-oauth-state"]
    assert browser.get(redirect).status == 200
    before = installs.standin.calls("oauth.v2.access")
    browser.cookies["slack-app-oauth-state"] = state_cookie  # the attacker kept the cookie too
    again = browser.get(redirect)
    assert again.status == 401 and "invalid_state" in again.body
    assert installs.standin.calls("oauth.v2.access") == before  # the code was never tried
    assert len(_installations(installs)) == 1


def test_a_code_already_used_is_refused_by_slack(installs) -> None:
    browser = Browser(installs.standin, "T0ACME", "U0ANN")
    first = _approve(installs, browser, _to_consent(installs, browser))
    assert browser.get(first).status == 200
    used_code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(first).query))["code"]
    # a new, valid state from a fresh /slack/install, with the old code
    fresh = dict(
        urllib.parse.parse_qsl(urllib.parse.urlsplit(_to_consent(installs, browser)).query)
    )
    replay = f"{installs.base_url}/slack/oauth_redirect?code={used_code}&state={fresh['state']}"
    step = browser.get(replay)
    assert step.status == 401 and "invalid_code" in step.body
    assert installs.standin.calls("oauth.v2.access")[-1].error == "invalid_code"
    assert len(_installations(installs)) == 1


def test_a_cancelled_consent_installs_nothing(installs) -> None:
    installs.standin.deny_next_install()
    step = installs.install("T0ACME", "U0ANN")
    assert "access_denied" in step.body
    assert _installations(installs) == [] and installs.clients.teams() == []


def test_a_workspace_that_never_installed_is_not_served(installs) -> None:
    installs.install("T0ACME", "U0ANN")
    installs.standin.reset_calls()
    driver = installs.driver("T0GLOBEX", "U0BOB", "C0GLOBEXCS")
    resp = driver.command("/commitments", "")
    assert resp.status == 200
    [told] = installs.standin.wait_for(
        "response_url", lambda c: "reinstall" in str(c.args.get("text"))
    )
    assert "reinstall this app" in told.args["text"]
    # no listener ran: nothing but that note reached "Slack"
    assert [c.method for c in installs.standin.calls()] == ["response_url"]
