"""`SlackStandin`: a local, stateful stand-in for Slack's Web API and file/response URLs.

Runs a ThreadingHTTPServer on 127.0.0.1 (port 0 → read back) in a daemon thread. The app
points its WebClient at `api_url` (SLACK_API_URL). Absolute URLs Slack would hand out
(response_url, upload_url, url_private) point at this server too, so nothing leaves the host.
"""

from __future__ import annotations

import copy
import email.message
import email.parser
import json
import random
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from typing import Any, TypeVar

from bot.devtools.httpd import StandinHandler

from . import oauth as oauth_v2
from .blockkit import validate_message_blocks, validate_view
from .faults import ChannelRateLimiter, Fault, FaultPlan
from .oauth import SESSION_COOKIE, TOKEN_LIFETIME, OAuthApp, OAuthState
from .payloads import iter_elements
from .recorder import Call, Recorder, redact_headers
from .socket_mode import SocketModeHub
from .state import (
    DEFAULT_SCOPES,
    Channel,
    ResponseUrl,
    SlackState,
    StoredFile,
    Team,
    Trigger,
    make_user,
)
from .webapi import Ctx, call_method

T = TypeVar("T")
LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Slack</title></head>"
    b"<body><h1>Sign in to your workspace</h1></body></html>"
)
ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Server Error | Slack</title></head>"
    b"<body>Slack is having trouble. Please try again.</body></html>"
)


class _Reply:
    """What the HTTP handler writes back."""

    def __init__(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}

    @classmethod
    def json(
        cls, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> _Reply:
        return cls(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

    @classmethod
    def text(cls, body: str, status: int = 200, content_type: str = "text/plain") -> _Reply:
        return cls(status, body.encode(), content_type)


def _parse_args(content_type: str, query: str, body: bytes) -> dict[str, Any]:
    """Merge query-string and body arguments (JSON, form, or multipart form)."""
    args: dict[str, Any] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if not body:
        return args
    ctype = content_type.lower()
    if "json" in ctype or body.lstrip().startswith(b"{"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return args
        if isinstance(parsed, dict):
            args.update(parsed)
    elif ctype.startswith("multipart/form-data"):
        msg = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        parts = msg.get_payload() if msg.is_multipart() else []
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, email.message.Message):
                continue
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                args[str(name)] = text
    else:
        args.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return args


def _after(ts: str | None, since: str | None) -> bool:
    """Is Slack ts `ts` later than `since` (None: no bound)? Compared exactly, not as floats."""
    if since is None:
        return True
    if ts is None:
        return False
    key = [tuple(int(part) for part in t.split(".")) for t in (ts, since)]
    return key[0] > key[1]


def _said(obj: dict[str, Any]) -> str:
    """Everything a message-like payload says (text and blocks), for `contains` checks."""
    return str(obj.get("text") or "") + str(obj.get("blocks") or "")


class SlackStandin:
    """Stateful fake Slack. Use as a context manager or call `start()`/`stop()`."""

    def __init__(
        self,
        *,
        enforce_channel_rate: bool = False,
        channel_rate: float = 1.0,
        channel_burst: int = 5,
        trigger_ttl: float = 3.0,
        response_url_max_uses: int = 5,
        response_url_ttl: float = 1800.0,
        redirect_downloads: bool = False,
        strict_response_url: bool = False,
    ) -> None:
        self.state = SlackState()
        self.recorder = Recorder()
        self.faults = FaultPlan()
        self.enforce_channel_rate = enforce_channel_rate
        self.rate_limiter = ChannelRateLimiter(channel_rate, channel_burst)
        self.trigger_ttl = trigger_ttl
        self.response_url_max_uses = response_url_max_uses
        self.response_url_ttl = response_url_ttl
        self.redirect_downloads = redirect_downloads
        self.strict_response_url = strict_response_url
        self.view_errors: dict[str, dict[str, str]] = {}
        self.latency: dict[str, float] = {}  # method ("*" = any) → answer after up to N s
        self.socket_mode = SocketModeHub()
        self.oauth = OAuthState()
        self._server: _Server | None = None
        self._port: int | None = None  # kept after stop(): a request still in flight answers
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> SlackStandin:
        handler = type("StandinHandler", (_Handler,), {"standin": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._port = int(self._server.server_address[1])
        # A short poll interval keeps stop() fast (shutdown waits for one poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.socket_mode.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("stand-in not started")
        return self._port

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        return self._server.connections if self._server is not None else 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- world setup ------------------------------------------------------------------------
    def add_team(
        self,
        team_id: str,
        name: str,
        *,
        bot_token: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        domain: str | None = None,
        app_id: str = "A0FOLLOWTH",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        installed: bool = True,
    ) -> Team:
        """Register a workspace; its bot token defaults to `xoxb-<team_id>`.

        `installed=False`: the app is not installed there yet (no token until an OAuth
        install through `/oauth/v2/authorize` and `oauth.v2.access`)."""
        team = Team(
            team_id,
            name,
            domain or name.lower().replace(" ", "-"),
            (bot_token or f"xoxb-{team_id}") if installed else "",
            bot_user_id or f"U{team_id}BOT",
            bot_id or f"B{team_id}BOT",
            app_id,
            tuple(scopes) if installed else (),
        )
        with self.state.lock:
            self.state.teams[team_id] = team
            if installed:
                self.state.tokens[team.bot_token] = team_id
            self.state.users[(team_id, team.bot_user_id)] = make_user(
                team_id, team.bot_user_id, "followthrough", "Followthrough", "", "UTC", False, True
            )
        return team

    def add_user(
        self,
        team_id: str,
        user_id: str,
        name: str,
        real_name: str = "",
        email: str = "",
        tz: str = "America/New_York",
        deleted: bool = False,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        user = make_user(team_id, user_id, name, real_name or name, email, tz, deleted, is_bot)
        with self.state.lock:
            self.state.users[(team_id, user_id)] = user
        return copy.deepcopy(user)

    def add_channel(
        self,
        team_id: str,
        channel_id: str,
        name: str,
        members: Iterable[str] = (),
        is_private: bool = False,
        *,
        bot_member: bool = True,
    ) -> None:
        """Create a channel. The bot is a member unless `bot_member=False` (→ not_in_channel)."""
        member_list = list(members)
        bot = self.state.teams[team_id].bot_user_id
        if bot_member and bot not in member_list:
            member_list.append(bot)
        with self.state.lock:
            self.state.channels[channel_id] = Channel(
                channel_id, team_id, name, member_list, is_private
            )

    def add_file(
        self,
        team_id: str,
        file_id: str,
        name: str,
        content: bytes,
        mimetype: str = "text/plain",
        user: str = "",
        channels: Iterable[str] = (),
        *,
        title: str = "",
        mode: str = "hosted",
    ) -> dict[str, Any]:
        """Store a file as if a user uploaded it; returns its files.info object."""
        stored = StoredFile(
            file_id,
            team_id,
            name,
            content,
            mimetype,
            user,
            list(channels),
            title=title or name,
            mode=mode,
        )
        with self.state.lock:
            self.state.files[file_id] = stored
            return self.state.file_object(stored, self.url)

    def post_user_message(
        self,
        team_id: str,
        channel: str,
        user_id: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Record a message a person wrote (for shortcuts/events); returns the message."""
        with self.state.lock:
            chan = self.state.channel(team_id, channel)
            if chan is None:
                raise KeyError(f"unknown channel {channel}")
            extra: dict[str, Any] = {"client_msg_id": self.state.new_id("cm-")}
            if files:
                extra.update(files=files, upload=False, subtype="file_share")
            msg = self.state.add_message(
                chan, user=user_id, text=text, thread_ts=thread_ts, extra=extra
            )
            return copy.deepcopy(msg)

    def new_trigger_id(self, user_id: str, team_id: str | None = None) -> str:
        """A Slack-format trigger id, valid `trigger_ttl` seconds and for one use. Its clock
        starts now; the driver restarts it (`trigger_sent`) when it sends the payload."""
        with self.state.lock:
            n = int(self.state.new_id(""), 16)
            trigger_id = f"{n}.{int(time.time())}.{secrets.token_hex(16)}"
            self.state.triggers[trigger_id] = Trigger(
                trigger_id, user_id, team_id, time.monotonic()
            )
        return trigger_id

    def trigger_sent(self, trigger_id: str) -> None:
        """Slack starts a trigger's 3 seconds when it sends the interaction to the app, not
        when the payload was put together: the driver calls this just before sending."""
        with self.state.lock:
            trig = self.state.triggers.get(trigger_id)
            if trig is not None:
                trig.created = time.monotonic()

    def new_response_url(
        self,
        team_id: str,
        user_id: str,
        channel_id: str | None = None,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        with self.state.lock:
            rid = self.state.new_id("R")
            self.state.response_urls[rid] = ResponseUrl(
                rid, team_id, channel_id, user_id, message_ts, is_ephemeral, time.monotonic()
            )
        return f"{self.url}/response/{team_id}/{rid}"

    # -- OAuth (see oauth.py) ---------------------------------------------------------------
    def register_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_urls: Iterable[str],
        *,
        app_id: str = "A0FOLLOWTH",
        token_rotation: bool = False,
        token_lifetime: int = TOKEN_LIFETIME,
    ) -> OAuthApp:
        """The app as created at api.slack.com: credentials, redirect URLs, rotation."""
        app = OAuthApp(
            client_id, client_secret, app_id, list(redirect_urls), token_rotation, token_lifetime
        )
        with self.oauth.lock:
            self.oauth.apps[client_id] = app
        return app

    def sign_in(self, team_id: str, user_id: str) -> tuple[str, str]:
        """A browser session of `user_id` in `team_id`: the (name, value) of the cookie the
        consent page reads."""
        value = secrets.token_hex(16)
        with self.oauth.lock:
            self.oauth.sessions[value] = (team_id, user_id)
        return SESSION_COOKIE, value

    def deny_next_install(self) -> None:
        """The next person on the consent page clicks Cancel."""
        with self.oauth.lock:
            self.oauth.deny_next = True

    def revoke_tokens(self, team_id: str) -> None:
        """The workspace uninstalled the app / revoked its tokens: every call with them now
        answers `token_revoked` (deliver the events with the driver)."""
        oauth_v2.revoke_team(self, team_id)

    def token_of(self, team_id: str) -> str:
        """The team's newest bot token."""
        with self.state.lock:
            return self.state.teams[team_id].bot_token

    # -- Socket Mode (see socket_mode.py) ---------------------------------------------------
    def add_app_token(self, team_id: str, token: str | None = None) -> str:
        """Register an app-level token for `apps.connections.open`; returns it."""
        token = token or f"xapp-1-{self.state.teams[team_id].app_id}-{team_id}"
        self.socket_mode.add_app_token(token, team_id, self.state.teams[team_id].app_id)
        return token

    def socket_send(
        self, envelope: dict[str, Any], team_id: str | None = None, timeout: float | None = None
    ) -> str:
        """Push an envelope to the app's newest connection; returns its envelope_id."""
        return self.socket_mode.send(envelope, team_id, timeout)

    def socket_wait_ack(self, envelope_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.socket_mode.wait_ack(envelope_id, timeout)

    # -- fault injection --------------------------------------------------------------------
    def fail(
        self,
        method: str,
        error: str | None = None,
        *,
        status: int | None = None,
        timeout_seconds: float | None = None,
        times: int | None = 1,
        retry_after: int = 0,
        team_id: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail (`None` = until `clear_faults`).

        `error="ratelimited"` (the default when nothing else is given) → HTTP 429 with
        `Retry-After: retry_after`; another `error` → 200 `ok:false`; `status` → that HTTP
        status with Slack's HTML error page; `timeout_seconds` alone → delay, then answer
        normally (the call takes effect, as a slow Slack would). `method` may be `*`,
        `upload`, `response_url` or `file_download`.
        """
        if error is None and status is None and timeout_seconds is None:
            error = "ratelimited"
        self.faults.add(
            Fault(method, error or "", status, timeout_seconds, times, retry_after, team_id)
        )

    def clear_faults(self) -> None:
        self.faults.clear()
        self.latency.clear()

    def slow(self, method: str = "*", up_to_seconds: float = 1.0) -> None:
        """Answer `method` up to this many seconds late (uniformly at random), after doing
        the work: a client that gives up early does not know its post landed."""
        self.latency[method] = up_to_seconds

    # -- recorder ---------------------------------------------------------------------------
    def calls(self, method: str | None = None, team_id: str | None = None) -> list[Call]:
        return self.recorder.calls(method, team_id)

    def wait_for(
        self, method: str, predicate: Callable[[Call], bool], timeout: float = 30.0
    ) -> list[Call]:
        """Every `method` call matching `predicate` (oldest first), once there is one."""
        return self.recorder.wait_for(method, predicate, timeout)

    def reset_calls(self) -> None:
        self.recorder.reset()

    def wait_until(
        self,
        check: Callable[[], T | None],
        timeout: float = 30.0,
        what: str = "a state",
        poll: float = 0.5,
    ) -> T:
        """Wait for a state (not a number of calls): `check` is re-run after each request
        and at least every `poll` seconds (use a short one for database state)."""
        return self.recorder.wait_until(check, timeout, what, poll)

    def mark(self) -> str:
        """A point in the stand-in's timeline: messages, ephemerals and edits made after it
        carry a later ts. Lets a wait name "the answer to this click" when the same text was
        said before."""
        return self.state.next_ts()

    def answer(self, sent: Any, timeout: float = 30.0) -> str:
        """What the person saw in answer to a command: the ack's body — or, when the app had
        to ack empty at Slack's deadline (a busy machine), what it then sent to the command's
        response_url (its text and blocks)."""
        if sent.body_text.strip():
            return str(sent.body_text)
        return _said(self.wait_reply(sent, "", timeout).args)

    def wait_reply(
        self,
        sent: Any,
        contains: str = "",
        timeout: float = 30.0,
    ) -> Call:
        """The app's answer through the response_url of one request the driver sent (a
        `DriverResponse`, or the URL), whose text or blocks contain `contains`."""
        url = sent if isinstance(sent, str) else sent.response_url
        if not url:
            raise ValueError("that request carried no response_url")
        path = urllib.parse.urlsplit(url).path

        def mine(c: Call) -> bool:
            return c.path == path and c.ok and contains in _said(c.args)

        return self.wait_for("response_url", mine, timeout)[-1]

    def wait_view(
        self,
        opened_by: Any = None,
        *,
        user: str | None = None,
        callback_id: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """A modal as it is now, once it is open: the one opened (or pushed) with the trigger
        of `opened_by` (a `DriverResponse` or a trigger id), or else the top of `user`'s
        stack with that `callback_id`. `predicate` may ask more of it (e.g. a view that
        was updated after opening)."""
        trigger = (
            opened_by if isinstance(opened_by, str) else getattr(opened_by, "trigger_id", None)
        )
        if trigger is None and user is None:
            raise ValueError("wait_view needs opened_by= or user=")

        def check() -> dict[str, Any] | None:
            view: dict[str, Any] | None = None
            if trigger is not None:
                opened = [
                    c
                    for m in ("views.open", "views.push")
                    for c in self.calls(m)
                    if c.ok and c.args.get("trigger_id") == trigger
                ]
                view = self.view(opened[-1].response["view"]["id"]) if opened else None
            elif user is not None:
                stack = self.open_views(user)
                view = stack[-1] if stack else None
            if view is None or (callback_id is not None and view.get("callback_id") != callback_id):
                return None
            return view if predicate is None or predicate(view) else None

        what = f"a modal{f' {callback_id!r}' if callback_id else ''} opened"
        return self.wait_until(check, timeout, what)

    def wait_ephemeral(
        self,
        user: str,
        contains: str,
        *,
        since: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """The newest ephemeral still visible to `user` whose text or blocks contain
        `contains` (only those shown after `since`, a `mark()`, if given)."""

        def check() -> dict[str, Any] | None:
            found = [
                e
                for e in self.ephemerals(user=user)
                if contains in _said(e) and _after(e["message_ts"], since)
            ]
            return found[-1] if found else None

        return self.wait_until(check, timeout, f"an ephemeral to {user} saying {contains!r}")

    def wait_button(
        self,
        channel: str,
        action_id: str,
        value: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """The newest message in `channel` (a user id: their DM) that offers the control
        `action_id` (with that `value`), e.g. the question a person must answer next."""

        def offers(m: dict[str, Any]) -> bool:
            return any(
                el.get("action_id") == action_id and value in (None, el.get("value"))
                for _, el in iter_elements(m.get("blocks") or [])
            )

        what = f"a message in {channel} offering {action_id}" + (f"={value}" if value else "")
        return self.wait_message(channel, offers, timeout, what)

    def wait_home(
        self,
        user: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """`user`'s App Home as published, once `predicate` holds for it."""

        def check() -> dict[str, Any] | None:
            home = self.home_view(user)
            return home if home is not None and predicate(home) else None

        return self.wait_until(check, timeout, f"{user}'s App Home to match")

    def wait_message(
        self,
        channel: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 30.0,
        what: str = "",
        *,
        since: str | None = None,
    ) -> dict[str, Any]:
        """The newest message in `channel` (a user id: the bot's DM with them; thread replies
        included) for which `predicate` holds, once there is one. With `since` (a `mark()`),
        only a message posted or edited after it counts."""

        def changed(m: dict[str, Any]) -> bool:
            return _after(m["ts"], since) or _after((m.get("edited") or {}).get("ts"), since)

        def check() -> dict[str, Any] | None:
            try:
                found = [
                    m
                    for m in self.messages(channel, include_replies=True)
                    if (since is None or changed(m)) and predicate(m)
                ]
            except KeyError:
                return None
            return found[-1] if found else None

        return self.wait_until(check, timeout, what or f"a matching message in {channel}")

    # -- inspection helpers -----------------------------------------------------------------
    def _team_of_user(self, user_id: str, team_id: str | None) -> str:
        found = team_id or self.state.find_user_team(user_id)
        if found is None:
            raise KeyError(f"unknown user {user_id}")
        return found

    def _resolve_channel(self, channel: str) -> str:
        if channel.startswith(("U", "W")):
            team_id = self._team_of_user(channel, None)
            return self.state.dms.get((team_id, channel), channel)
        return channel

    def messages(self, channel: str, include_replies: bool = False) -> list[dict[str, Any]]:
        """Messages in a channel (a user id means the bot's DM with them), oldest first."""
        with self.state.lock:
            msgs = self.state.messages.get(self._resolve_channel(channel), [])
            return copy.deepcopy(
                [m for m in msgs if include_replies or m.get("thread_ts") in (None, m["ts"])]
            )

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Parent message then its replies."""
        with self.state.lock:
            msgs = self.state.messages.get(self._resolve_channel(channel), [])
            return copy.deepcopy([m for m in msgs if m["ts"] == ts or m.get("thread_ts") == ts])

    def last_message(self, channel: str) -> dict[str, Any] | None:
        """The most recent message in the channel, thread replies included."""
        msgs = self.messages(channel, include_replies=True)
        return msgs[-1] if msgs else None

    def dm_channel(self, user_id: str, team_id: str | None = None) -> str | None:
        with self.state.lock:
            return self.state.dms.get((self._team_of_user(user_id, team_id), user_id))

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            view = self.state.views.get(view_id)
            return copy.deepcopy(view) if view else None

    def home_view(self, user_id: str, team_id: str | None = None) -> dict[str, Any] | None:
        with self.state.lock:
            view_id = self.state.homes.get((self._team_of_user(user_id, team_id), user_id))
            return copy.deepcopy(self.state.views[view_id]) if view_id else None

    def open_views(self, user_id: str, team_id: str | None = None) -> list[dict[str, Any]]:
        """The user's modal stack, bottom first (empty when no modal is open)."""
        with self.state.lock:
            stack = self.state.stacks.get((self._team_of_user(user_id, team_id), user_id), [])
            return copy.deepcopy([self.state.views[v] for v in stack])

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages still visible (chat.postEphemeral, command acks, response_url)."""
        with self.state.lock:
            return copy.deepcopy(
                [
                    e
                    for e in self.state.ephemerals
                    if not e["deleted"]
                    and (channel is None or e["channel"] == channel)
                    and (user is None or e["user"] == user)
                ]
            )

    def uploads(self) -> list[dict[str, Any]]:
        """Completed files.completeUploadExternal shares (one row per file and channel)."""
        with self.state.lock:
            return copy.deepcopy(self.state.uploads)

    # -- driver hooks -----------------------------------------------------------------------
    def record_ack_reply(
        self, team_id: str, channel_id: str, user_id: str, body_text: str
    ) -> list[str]:
        """Show a slash-command ack body to the user as Slack would; returns Block Kit problems."""
        if not body_text.strip():
            return []
        try:
            payload = json.loads(body_text)
        except ValueError:
            payload = {"text": body_text}
        if not isinstance(payload, dict):
            payload = {"text": body_text}
        return self._deliver(team_id, channel_id, user_id, payload, "ack")

    def _deliver(
        self, team_id: str, channel_id: str, user_id: str, payload: dict[str, Any], source: str
    ) -> list[str]:
        blocks = payload.get("blocks")
        problems = validate_message_blocks(blocks) if blocks is not None else []
        if problems:
            return problems
        with self.state.lock:
            team = self.state.teams[team_id]
            text = str(payload.get("text") or "")
            if payload.get("response_type") == "in_channel":
                chan = self.state.channel(team_id, channel_id)
                if chan is not None:
                    self.state.add_message(
                        chan,
                        user=team.bot_user_id,
                        text=text,
                        blocks=blocks,
                        thread_ts=payload.get("thread_ts"),
                        bot_id=team.bot_id,
                    )
            else:
                self.state.add_ephemeral(
                    team_id=team_id,
                    channel_id=channel_id,
                    user=user_id,
                    text=text,
                    blocks=blocks,
                    thread_ts=payload.get("thread_ts"),
                    source=source,
                )
        return []

    def apply_view_ack(
        self, team_id: str, user_id: str, view_id: str, ack: dict[str, Any] | None
    ) -> list[str]:
        """Apply a view_submission ack to the user's modal stack; returns view problems."""
        action = (ack or {}).get("response_action")
        with self.state.lock:
            stack = self.state.stacks.setdefault((team_id, user_id), [])
            if action == "errors":
                self.view_errors[view_id] = dict((ack or {}).get("errors") or {})
                return []
            if action in ("update", "push"):
                body = (ack or {}).get("view")
                problems = validate_view(body)
                if problems:
                    return problems
                assert isinstance(body, dict)
                if action == "push":
                    if len(stack) >= 3:
                        return ["push_limit_reached"]
                    view = self.state.make_view(
                        team_id,
                        user_id,
                        body,
                        previous=stack[-1] if stack else None,
                        root=stack[0] if stack else None,
                    )
                    stack.append(view["id"])
                else:
                    old = self.state.views[view_id]
                    self.state.make_view(
                        team_id,
                        user_id,
                        body,
                        view_id=view_id,
                        previous=old["previous_view_id"],
                        root=old["root_view_id"],
                    )
                self.view_errors.pop(view_id, None)
                return []
            self.view_errors.pop(view_id, None)
            if action == "clear":
                stack.clear()
            elif view_id in stack:
                del stack[stack.index(view_id) :]
            return []

    def close_view(self, team_id: str, user_id: str, view_id: str, is_cleared: bool) -> None:
        with self.state.lock:
            stack = self.state.stacks.setdefault((team_id, user_id), [])
            if is_cleared:
                stack.clear()
            elif view_id in stack:
                del stack[stack.index(view_id) :]

    def set_view_state(self, view_id: str, values: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.views[view_id]["state"] = {"values": copy.deepcopy(values)}

    # -- request handling (called from the HTTP handler threads) ----------------------------
    def handle(
        self,
        http_method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        received: float | None = None,
    ) -> _Reply:
        """Serve one request; `received` is when it arrived (before its body was read)."""
        received = time.monotonic() if received is None else received
        parts = urllib.parse.urlsplit(path)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 2 and segments[0] == "api":
            return self._api(segments[1], parts.query, headers, body, received)
        if len(segments) == 3 and segments[0] == "response" and http_method == "POST":
            return self._response_url(segments[1], segments[2], headers, body)
        if len(segments) == 3 and segments[:2] == ["upload", "v1"] and http_method == "POST":
            return self._upload(segments[2], headers, body)
        if len(segments) >= 3 and segments[0] == "files-pri":
            return self._download(segments, headers)
        if segments == ["oauth", "v2", "authorize"] and http_method == "GET":
            status, hdrs, page = oauth_v2.authorize(self, parts.query, headers)
            ctype = hdrs.pop("Content-Type", "text/html; charset=utf-8")
            self._record(
                "oauth.authorize",
                {"query": parts.query},
                headers,
                None,
                _Reply(status, page, ctype),
            )
            return _Reply(status, page, ctype, hdrs)
        if segments[:1] == ["_control"]:
            return self._control(segments[1:], body)
        return _Reply.text("not found", 404)

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        headers: dict[str, str],
        team_id: str | None,
        reply: _Reply,
        response: dict[str, Any] | None = None,
        path: str = "",
    ) -> None:
        if response is None:
            try:
                response = json.loads(reply.body) if "json" in reply.content_type else {}
            except ValueError:
                response = {}
        self.recorder.add(
            Call(
                method,
                args,
                redact_headers(headers),
                team_id,
                time.monotonic(),
                reply.status,
                response or {},
                path,
            )
        )

    def _fault_reply(self, method: str, team_id: str | None) -> _Reply | None:
        fault = self.faults.take(method, team_id)
        if fault is None:
            return None
        if fault.timeout_seconds:
            time.sleep(fault.timeout_seconds)
        if fault.status is not None:
            return _Reply(fault.status, ERROR_PAGE, "text/html; charset=utf-8")
        if fault.error == "ratelimited":
            return _Reply.json(
                {"ok": False, "error": "ratelimited"},
                429,
                {"Retry-After": str(int(fault.retry_after))},
            )
        if fault.error:
            return _Reply.json({"ok": False, "error": fault.error})
        return None

    def _api(
        self, method: str, query: str, headers: dict[str, str], body: bytes, received: float
    ) -> _Reply:
        args = _parse_args(headers.get("content-type", ""), query, body)
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else args.get("token")
        args.pop("token", None)
        team = self.state.team_for_token(token)
        team_id = team.id if team else self.socket_mode.team_for_token(token)
        reply = self._fault_reply(method, team_id)
        if reply is None and method == "oauth.v2.access":
            reply = _Reply.json(oauth_v2.access(self, args, headers))
        if reply is None:
            reply = self._api_result(method, args, token, team, received)
        recorded = {
            k: ("<redacted>" if k in ("client_secret", "refresh_token") else v)
            for k, v in args.items()
        }
        self._record(method, recorded, headers, team_id, reply, path=f"/api/{method}")
        slow = self.latency.get(method, self.latency.get("*", 0.0))
        if slow:  # the work is done (a post is in the channel); only the answer is late
            time.sleep(random.uniform(0, slow))
        return reply

    def _api_result(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        team: Team | None,
        received: float,
    ) -> _Reply:
        if not token:
            return _Reply.json({"ok": False, "error": "not_authed"})
        if method == "apps.connections.open":
            return _Reply.json(self.socket_mode.connections_open(token))
        if team is None:
            return _Reply.json({"ok": False, "error": "invalid_auth"})
        dead = self.oauth.token_error(token)
        if dead is not None:
            return _Reply.json({"ok": False, "error": dead})
        if (
            method == "chat.postMessage"
            and self.enforce_channel_rate
            and not self.rate_limiter.allow(team.id, str(args.get("channel", "")))
        ):
            return _Reply.json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "1"})
        ctx = Ctx(self.state, team, args, self.url, self.trigger_ttl, received)
        result = call_method(method, ctx)
        extra = {"x-slack-req-id": self.state.new_id("req")}
        if method == "auth.test":
            extra["x-oauth-scopes"] = ",".join(team.scopes)
        return _Reply.json(result, headers=extra)

    def _response_url(self, team_id: str, rid: str, headers: dict[str, str], body: bytes) -> _Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        reply = self._fault_reply("response_url", team_id) or self._apply_response(
            rid, payload if isinstance(payload, dict) else None
        )
        self._record(
            "response_url",
            payload if isinstance(payload, dict) else {},
            headers,
            team_id,
            reply,
            path=f"/response/{team_id}/{rid}",
        )
        return reply

    def _apply_response(self, rid: str, payload: dict[str, Any] | None) -> _Reply:
        with self.state.lock:
            ru = self.state.response_urls.get(rid)
            if ru is None:
                return _Reply.text("no_service", 404)
            if time.monotonic() - ru.created > self.response_url_ttl:
                return _Reply.text("expired_url", 404)
            if ru.uses >= self.response_url_max_uses:
                return _Reply.text("used_url", 404)
            if payload is None:
                return _Reply.text("invalid_payload", 400)
            if (
                self.strict_response_url
                and "replace_original" not in payload
                and "delete_original" not in payload
            ):
                return _Reply.text("replace_original_not_given (strict stand-in)", 400)
            blocks = payload.get("blocks")
            if blocks is not None and validate_message_blocks(blocks):
                return _Reply.text("invalid_blocks", 400)
            if not any(payload.get(k) for k in ("text", "blocks", "delete_original")):
                return _Reply.text("no_text", 400)
            ru.uses += 1
            original = self._original(ru)
            if payload.get("delete_original"):
                self._drop(ru, original)
            elif payload.get("replace_original") and original is not None:
                original["text"] = str(payload.get("text") or "")
                original["blocks"] = blocks or []
            elif ru.channel_id is not None:
                if self._deliver(ru.team_id, ru.channel_id, ru.user_id, payload, "response_url"):
                    return _Reply.text("invalid_blocks", 400)
                if payload.get("response_type") != "in_channel" and not ru.message_ts:
                    ru.message_ts = self.state.ephemerals[-1]["message_ts"]
                    ru.is_ephemeral = True
        return _Reply.json({"ok": True})

    def _original(self, ru: ResponseUrl) -> dict[str, Any] | None:
        if ru.message_ts is None:
            return None
        if ru.is_ephemeral:
            return next(
                (
                    e
                    for e in self.state.ephemerals
                    if e["message_ts"] == ru.message_ts and not e["deleted"]
                ),
                None,
            )
        return self.state.find_message(ru.channel_id or "", ru.message_ts)

    def _drop(self, ru: ResponseUrl, original: dict[str, Any] | None) -> None:
        if original is None:
            return
        if ru.is_ephemeral:
            original["deleted"] = True
        else:
            self.state.messages[ru.channel_id or ""].remove(original)

    def _upload(self, file_id: str, headers: dict[str, str], body: bytes) -> _Reply:
        with self.state.lock:
            pending = self.state.pending_uploads.get(file_id)
        team_id = pending.team_id if pending else None
        reply = self._fault_reply("upload", team_id)
        if reply is None:
            if pending is None:
                reply = _Reply.text("not found", 404)
            else:
                content = body
                ctype = headers.get("content-type", "")
                if ctype.lower().startswith("multipart/form-data"):
                    args = _parse_args(ctype, "", body)
                    content = str(args.get("file", args.get("filename", ""))).encode()
                with self.state.lock:
                    pending.content = content
                reply = _Reply.text(f"OK - {len(content)}")
        self._record(
            "upload",
            {"file_id": file_id, "length": len(body)},
            headers,
            team_id,
            reply,
            {"ok": reply.status == 200},
        )
        return reply

    def _download(self, segments: list[str], headers: dict[str, str]) -> _Reply:
        team_id, _, file_id = segments[1].partition("-")
        is_download = len(segments) >= 4 and segments[2] == "download"
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        team = self.state.team_for_token(token)
        with self.state.lock:
            stored = self.state.files.get(file_id)
        authorized = (
            stored is not None
            and team is not None
            and team.id == stored.team_id
            and self.oauth.token_error(token or "") is None
        )
        reply = self._fault_reply("file_download", team_id)
        if reply is None:
            if stored is None:
                reply = _Reply(404, LOGIN_PAGE, "text/html; charset=utf-8")
            elif self.redirect_downloads and not is_download:
                location = f"{self.url}/files-pri/{segments[1]}/download/{stored.name}"
                reply = _Reply(302, b"", "text/plain", {"Location": location})
            elif not authorized:
                reply = _Reply(200, LOGIN_PAGE, "text/html; charset=utf-8")
            else:
                reply = _Reply(
                    200,
                    stored.content,
                    stored.mimetype,
                    {"Content-Disposition": f'attachment; filename="{stored.name}"'},
                )
        self._record(
            "file_download",
            {"file": file_id, "authorized": authorized},
            headers,
            team_id,
            reply,
            {"ok": authorized and reply.status == 200},
        )
        return reply

    def _control(self, segments: list[str], body: bytes) -> _Reply:
        if segments == ["fault"]:
            spec = json.loads(body or b"{}")
            self.fail(spec.pop("method"), spec.pop("error", None), **spec)
            return _Reply.json({"ok": True})
        if segments == ["clear_faults"]:
            self.clear_faults()
            return _Reply.json({"ok": True})
        if segments == ["calls"]:
            calls = [
                {"method": c.method, "team_id": c.team_id, "status": c.status, "error": c.error}
                for c in self.calls()
            ]
            return _Reply.json({"ok": True, "calls": calls})
        return _Reply.text("not found", 404)


class _Server(ThreadingHTTPServer):
    """Stamps each connection as it is accepted: a request's arrival is when the app's
    connection reached "Slack", not when a busy process got round to a thread for it."""

    daemon_threads = True
    # socketserver's listen backlog is 5: a burst of new connections (slack_sdk's urllib
    # opens one per call) would be reset, which Slack's own front end never does
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepted: dict[Any, float] = {}
        self.connections = 0  # TCP connections accepted (clients that keep theirs alive open few)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (a killed worker) is not an error of ours."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1  # one accepting thread: no lock needed
        self.accepted[request] = time.monotonic()
        super().process_request(request, client_address)


class _Handler(StandinHandler):
    standin: SlackStandin
    received = 0.0

    def parse_request(self) -> bool:
        """The first request on a connection arrived when it was accepted; a later one on
        the same (kept-alive) connection, when its request line was read."""
        accepted = getattr(self.server, "accepted", {}).pop(self.request, None)
        self.received = accepted if accepted is not None else time.monotonic()
        return super().parse_request()

    def finish(self) -> None:
        getattr(self.server, "accepted", {}).pop(self.request, None)  # closed before a request
        super().finish()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.standin.handle(self.command, self.path, headers, body, self.received)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve
