"""OAuth v2 of the stand-in: the consent page, `oauth.v2.access` (code and refresh-token
grants) and token rotation, as Slack documents them (contract §5).

- `GET /oauth/v2/authorize?client_id&scope&user_scope&redirect_uri&state[&team]`: the person
  signed in to the browser (a `standin_session` cookie, see `SlackStandin.sign_in`) approves
  (or, when told to, cancels); Slack then redirects to the app's redirect URL with
  `code`+`state` (or `error=access_denied`+`state`). No session → Slack's sign-in page.
- Codes are single use and expire after 10 minutes (`invalid_code`).
- `oauth.v2.access` takes the client credentials as HTTP Basic auth (or form fields):
  `invalid_client_id`, `bad_client_secret`; `redirect_uri` must match the one the code was
  issued for (`bad_redirect_uri`).
- With token rotation the bot token is `xoxe.xoxb-…` with `expires_in` (12 h by default) and
  a refresh token `xoxe-1-…`; a refresh issues a new pair and revokes the used refresh token
  (`invalid_refresh_token` when it comes again). An expired access token answers
  `token_expired`; a revoked one `token_revoked`.
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

CODE_TTL = 600.0
TOKEN_LIFETIME = 43_200  # Slack: rotating tokens expire every 12 hours
SESSION_COOKIE = "standin_session"
KNOWN_SCOPE_PREFIXES = (
    "app_mentions",
    "channels",
    "chat",
    "commands",
    "files",
    "groups",
    "im",
    "mpim",
    "reactions",
    "team",
    "users",
    "incoming-webhook",
)


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    app_id: str
    redirect_urls: list[str]
    token_rotation: bool = False
    token_lifetime: int = TOKEN_LIFETIME


@dataclass
class Code:
    value: str
    client_id: str
    team_id: str
    user_id: str
    scopes: tuple[str, ...]
    redirect_uri: str | None
    created: float
    used: bool = False


@dataclass
class TokenMeta:
    team_id: str
    expires_at: float | None = None
    revoked: bool = False


@dataclass
class Refresh:
    value: str
    client_id: str
    team_id: str
    used: bool = False


@dataclass
class OAuthState:
    apps: dict[str, OAuthApp] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, TokenMeta] = field(default_factory=dict)
    refresh: dict[str, Refresh] = field(default_factory=dict)
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # cookie → (team, user)
    deny_next: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)

    def token_error(self, token: str) -> str | None:
        """`token_revoked` / `token_expired` for a known token that no longer works."""
        meta = self.tokens.get(token)
        if meta is None:
            return None
        if meta.revoked:
            return "token_revoked"
        if meta.expires_at is not None and time.time() >= meta.expires_at:
            return "token_expired"
        return None


def _page(title: str, body: str, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    doc = (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>"
    )
    return status, {"Content-Type": "text/html; charset=utf-8"}, doc.encode()


def _redirect(url: str, **params: str) -> tuple[int, dict[str, str], bytes]:
    sep = "&" if urllib.parse.urlsplit(url).query else "?"
    return 302, {"Location": url + sep + urllib.parse.urlencode(params)}, b""


def authorize(
    standin: Any, query: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """The consent page: approve (or cancel) for the signed-in person, then redirect."""
    args = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    oauth: OAuthState = standin.oauth
    app = oauth.apps.get(args.get("client_id", ""))
    if app is None:
        return _page("Slack", "invalid_client_id: this app is not known to Slack.", 400)
    redirect_uri = args.get("redirect_uri") or None
    if redirect_uri is not None and redirect_uri not in app.redirect_urls:
        return _page("Slack", "bad_redirect_uri: redirect_uri does not match the app's.", 400)
    target = redirect_uri or (app.redirect_urls[0] if app.redirect_urls else None)
    if target is None:
        return _page("Slack", "No redirect URL is configured for this app.", 400)
    scopes = tuple(s for s in args.get("scope", "").split(",") if s)
    unknown = [s for s in scopes if s.split(":", 1)[0] not in KNOWN_SCOPE_PREFIXES]
    if unknown:
        return _page("Slack", f"invalid_scope: {', '.join(unknown)}", 400)
    cookies = dict(
        part.strip().split("=", 1) for part in headers.get("cookie", "").split(";") if "=" in part
    )
    with oauth.lock:
        who = oauth.sessions.get(cookies.get(SESSION_COOKIE, ""))
        if who is None:
            return _page("Sign in to Slack", "Sign in to your workspace to install the app.")
        team_id, user_id = who
        wanted_team = args.get("team")
        if wanted_team and wanted_team != team_id:
            return _page("Slack", f"You are signed in to {team_id}, not {wanted_team}.", 400)
        if oauth.deny_next:
            oauth.deny_next = False
            return _redirect(target, error="access_denied", state=args.get("state", ""))
        code = f"{int(time.time())}.{secrets.token_hex(12)}"
        oauth.codes[code] = Code(
            code, app.client_id, team_id, user_id, scopes, redirect_uri, time.monotonic()
        )
    return _redirect(target, code=code, state=args.get("state", ""))


def _client_credentials(args: dict[str, Any], headers: dict[str, str]) -> tuple[str, str]:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            cid, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            return cid, secret
        except ValueError:
            return "", ""
    return str(args.get("client_id") or ""), str(args.get("client_secret") or "")


def _mint(standin: Any, app: OAuthApp, team_id: str) -> dict[str, Any]:
    """A new bot token for the team (and a refresh token with rotation)."""
    oauth: OAuthState = standin.oauth
    team = standin.state.teams[team_id]
    body: dict[str, Any] = {}
    if app.token_rotation:
        token = f"xoxe.xoxb-1-{secrets.token_hex(16)}"
        refresh = f"xoxe-1-{secrets.token_hex(16)}"
        oauth.tokens[token] = TokenMeta(team_id, time.time() + app.token_lifetime)
        oauth.refresh[refresh] = Refresh(refresh, app.client_id, team_id)
        body.update(expires_in=app.token_lifetime, refresh_token=refresh)
    else:
        token = f"xoxb-{team_id}-{secrets.token_hex(12)}"
        oauth.tokens[token] = TokenMeta(team_id)
    with standin.state.lock:
        standin.state.tokens[token] = team_id
        team.bot_token = token
        team.app_id = app.app_id
    body.update(
        access_token=token,
        token_type="bot",
        scope=",".join(team.scopes),
        bot_user_id=team.bot_user_id,
        app_id=app.app_id,
        team={"name": team.name, "id": team.id},
        enterprise=None,
        is_enterprise_install=False,
    )
    return body


def access(standin: Any, args: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """`oauth.v2.access`: exchange a code (or a refresh token) for a bot token."""
    oauth: OAuthState = standin.oauth
    client_id, secret = _client_credentials(args, headers)
    with oauth.lock:
        app = oauth.apps.get(client_id)
        if app is None:
            return {"ok": False, "error": "invalid_client_id"}
        if not secrets.compare_digest(secret, app.client_secret):
            return {"ok": False, "error": "bad_client_secret"}
        grant = args.get("grant_type") or "authorization_code"
        if grant == "refresh_token":
            old = oauth.refresh.get(str(args.get("refresh_token") or ""))
            if old is None or old.used or old.client_id != client_id:
                return {"ok": False, "error": "invalid_refresh_token"}
            old.used = True
            return {"ok": True, **_mint(standin, app, old.team_id)}
        if grant != "authorization_code":
            return {"ok": False, "error": "invalid_grant_type"}
        code = oauth.codes.get(str(args.get("code") or ""))
        if (
            code is None
            or code.used
            or code.client_id != client_id
            or time.monotonic() - code.created > CODE_TTL
        ):
            return {"ok": False, "error": "invalid_code"}
        if code.redirect_uri is not None and args.get("redirect_uri") not in (
            None,
            "",
            code.redirect_uri,
        ):
            return {"ok": False, "error": "bad_redirect_uri"}
        code.used = True
        team = standin.state.teams[code.team_id]
        team.scopes = code.scopes
        body = _mint(standin, app, code.team_id)
        body["authed_user"] = {"id": code.user_id}
        return {"ok": True, **body}


def revoke_team(standin: Any, team_id: str) -> None:
    """Every token of the team stops working (`token_revoked`), refresh tokens included."""
    oauth: OAuthState = standin.oauth
    with oauth.lock, standin.state.lock:
        for token, tid in standin.state.tokens.items():
            if tid == team_id:
                oauth.tokens.setdefault(token, TokenMeta(team_id)).revoked = True
        for refresh in oauth.refresh.values():
            if refresh.team_id == team_id:
                refresh.used = True
