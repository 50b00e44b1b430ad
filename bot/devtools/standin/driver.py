"""`SlackDriver`: sends real, signed Slack requests (commands, interactions, events) to the app.

The target is the app's HTTP endpoint (a URL, sent with httpx) or a Bolt `App` (sent with
`app.dispatch`). Trigger ids and response_urls are minted on the stand-in, and the driver
applies what the app acknowledges (command replies, view_submission response_action) to the
stand-in's state, the way Slack's client would.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from .payloads import (
    LEGACY_TOKEN,
    action_payload_entry,
    action_ts,
    command_form,
    event_envelope,
    find_element,
    interaction_form,
    view_state_values,
)
from .server import SlackStandin
from .signing import slack_headers

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class DriverResponse:
    """The app's answer. `problems` lists anything Slack would have refused in the ack."""

    status: int
    body_text: str
    json: Any
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""
    problems: list[str] = field(default_factory=list)
    trigger_id: str | None = None
    response_url: str | None = None
    event_id: str | None = None


def _parse_json(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


class SlackDriver:
    def __init__(
        self,
        signing_secret: str,
        team_id: str,
        standin: SlackStandin,
        target: Any,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
        api_app_id: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.standin = standin
        self.target = target
        self.user_id = user_id
        self.channel_id = channel_id
        self.team = standin.state.teams[team_id]
        self.api_app_id = api_app_id or self.team.app_id
        self._http = httpx.Client(timeout=timeout) if isinstance(target, str) else None
        self._event_seq = 0

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> SlackDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport --------------------------------------------------------------------------
    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        sign: bool = True,
        signature: str | None = None,
        timestamp_offset: int = 0,
        headers: dict[str, str] | None = None,
        trigger_id: str | None = None,
    ) -> DriverResponse:
        """Send exact bytes, signed now (unless told otherwise), to the target. A payload's
        `trigger_id` starts its 3 seconds as the request leaves, as Slack's does."""
        all_headers = slack_headers(
            self.signing_secret,
            body,
            content_type,
            timestamp_offset=timestamp_offset,
            signature=signature,
            sign_request=sign,
        )
        all_headers.update(headers or {})
        if trigger_id is not None:
            self.standin.trigger_sent(trigger_id)
        start = time.perf_counter()
        if self._http is not None:
            resp = self._http.post(self.target, content=body, headers=all_headers)
            elapsed = time.perf_counter() - start
            status, text, resp_headers = resp.status_code, resp.text, dict(resp.headers)
        else:
            from slack_bolt.request import BoltRequest

            bolt_headers: dict[str, Any] = {k.lower(): [v] for k, v in all_headers.items()}
            bolt_resp = self.target.dispatch(BoltRequest(body=body.decode(), headers=bolt_headers))
            elapsed = time.perf_counter() - start
            status, text = bolt_resp.status, bolt_resp.body or ""
            resp_headers = {k: ",".join(v) for k, v in bolt_resp.headers.items()}
        return DriverResponse(status, text, _parse_json(text), elapsed, resp_headers, body)

    # -- shared payload parts ---------------------------------------------------------------
    def _user(self, user_id: str | None) -> str:
        found = user_id or self.user_id
        if not found:
            raise ValueError("user_id required (or pass user_id= to SlackDriver)")
        return found

    def _channel(self, channel_id: str | None) -> str:
        found = channel_id or self.channel_id
        if not found:
            raise ValueError("channel_id required (or pass channel_id= to SlackDriver)")
        return found

    def _user_obj(self, user_id: str) -> dict[str, Any]:
        user = self.standin.state.user(self.team_id, user_id) or {}
        name = user.get("name", user_id.lower())
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team_obj(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team.domain}

    def _channel_obj(self, channel_id: str) -> dict[str, Any]:
        chan = self.standin.state.channels.get(channel_id)
        name = chan.name if chan and chan.name else "directmessage"
        return {"id": channel_id, "name": name}

    def _base(self, kind: str, user_id: str) -> dict[str, Any]:
        return {
            "type": kind,
            "team": self._team_obj(),
            "user": self._user_obj(user_id),
            "api_app_id": self.api_app_id,
            "token": LEGACY_TOKEN,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def _view(self, view: dict[str, Any] | str) -> dict[str, Any]:
        view_id = view if isinstance(view, str) else view["id"]
        current = self.standin.view(view_id)
        if current is None:
            raise LookupError(f"unknown view {view_id}")
        return current

    # -- slash commands ---------------------------------------------------------------------
    def command(
        self,
        command: str,
        text: str = "",
        user_id: str | None = None,
        channel_id: str | None = None,
        **send: Any,
    ) -> DriverResponse:
        user_id, channel_id = self._user(user_id), self._channel(channel_id)
        trigger_id = self.standin.new_trigger_id(user_id, self.team_id)
        response_url = self.standin.new_response_url(self.team_id, user_id, channel_id)
        user = self._user_obj(user_id)
        body = command_form(
            {
                "token": LEGACY_TOKEN,
                "team_id": self.team_id,
                "team_domain": self.team.domain,
                "channel_id": channel_id,
                "channel_name": self._channel_obj(channel_id)["name"],
                "user_id": user_id,
                "user_name": user["name"],
                "command": command,
                "text": text,
                "api_app_id": self.api_app_id,
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": trigger_id,
            }
        )
        resp = self.post(body, FORM, trigger_id=trigger_id, **send)
        problems: list[str] = []
        if resp.status == 200:
            problems = self.standin.record_ack_reply(
                self.team_id, channel_id, user_id, resp.body_text
            )
        return _with(resp, problems=problems, trigger_id=trigger_id, response_url=response_url)

    # -- interactivity ----------------------------------------------------------------------
    def _interact(self, payload: dict[str, Any], **send: Any) -> DriverResponse:
        trigger_id = payload.get("trigger_id")
        return self.post(interaction_form(payload), FORM, trigger_id=trigger_id, **send)

    def block_action(
        self,
        action_id: str,
        value: Any = None,
        user_id: str | None = None,
        *,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | str | None = None,
        block_id: str | None = None,
        selected_option: Any = None,
        selected_user: str | None = None,
        selected_date: str | None = None,
        selected_options: list[Any] | None = None,
        **send: Any,
    ) -> DriverResponse:
        """Click/select `action_id` in a stand-in message (or ephemeral) or view.

        The element is looked up in the message/view blocks, so a test cannot click a button
        the app never rendered. `value` overrides the button value or picks a select option.
        """
        payload = self.block_action_payload(
            action_id,
            value,
            user_id,
            message=message,
            view=view,
            block_id=block_id,
            selected_option=selected_option,
            selected_user=selected_user,
            selected_date=selected_date,
            selected_options=selected_options,
        )
        resp = self._interact(payload, **send)
        return _with(
            resp, trigger_id=payload["trigger_id"], response_url=payload.get("response_url")
        )

    def block_action_payload(
        self,
        action_id: str,
        value: Any = None,
        user_id: str | None = None,
        *,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | str | None = None,
        block_id: str | None = None,
        selected_option: Any = None,
        selected_user: str | None = None,
        selected_date: str | None = None,
        selected_options: list[Any] | None = None,
    ) -> dict[str, Any]:
        """The `block_actions` payload Slack would send for that click (`block_action`
        sends it; a kill test writes it down as the web process would)."""
        user_id = self._user(user_id)
        payload = self._base("block_actions", user_id)
        payload["trigger_id"] = self.standin.new_trigger_id(user_id, self.team_id)
        payload["state"] = {"values": {}}
        response_url = None
        if view is not None:
            current = self._view(view)
            blocks = current.get("blocks", [])
            payload["container"] = {"type": "view", "view_id": current["id"]}
            payload["view"] = current
            payload["state"] = current.get("state", {"values": {}})
        elif message is not None:
            blocks = message.get("blocks", [])
            channel_id = message["channel"]
            ephemeral = "ts" not in message
            ts = message["message_ts"] if ephemeral else message["ts"]
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            }
            payload["channel"] = self._channel_obj(channel_id)
            if not ephemeral:
                payload["message"] = {k: v for k, v in message.items() if k != "channel"}
            response_url = self.standin.new_response_url(
                self.team_id, user_id, channel_id, ts, ephemeral
            )
            payload["response_url"] = response_url
        else:
            raise ValueError("block_action needs message= or view=")
        bid, element = find_element(blocks, action_id, block_id)
        selected = {
            "selected_option": selected_option,
            "selected_user": selected_user,
            "selected_date": selected_date,
            "selected_options": selected_options,
        }
        payload["actions"] = [action_payload_entry(element, bid, value, selected)]
        return payload

    def view_submission(
        self,
        view: dict[str, Any] | str,
        values: dict[str, Any] | None = None,
        user_id: str | None = None,
        **send: Any,
    ) -> DriverResponse:
        """Submit a modal with `values` (block_id → value; see `view_state_values`)."""
        current = self._view(view)
        owner = self.standin.state.view_owner.get(current["id"], (self.team_id, None))[1]
        user_id = self._user(user_id or owner)
        state_values = view_state_values(current, values or {})
        self.standin.set_view_state(current["id"], state_values)
        current["state"] = {"values": state_values}
        payload = self._base("view_submission", user_id)
        payload.update(
            trigger_id=self.standin.new_trigger_id(user_id, self.team_id),
            view=current,
            response_urls=[],
        )
        resp = self._interact(payload, **send)
        problems: list[str] = []
        if resp.status == 200:
            ack = resp.json if isinstance(resp.json, dict) else None
            problems = self.standin.apply_view_ack(self.team_id, user_id, current["id"], ack)
        return _with(resp, problems=problems, trigger_id=payload["trigger_id"])

    def view_closed(
        self,
        view: dict[str, Any] | str,
        user_id: str | None = None,
        is_cleared: bool = False,
        **send: Any,
    ) -> DriverResponse:
        current = self._view(view)
        owner = self.standin.state.view_owner.get(current["id"], (self.team_id, None))[1]
        user_id = self._user(user_id or owner)
        payload = self._base("view_closed", user_id)
        payload.update(view=current, is_cleared=is_cleared)
        resp = self._interact(payload, **send)
        if resp.status == 200:
            self.standin.close_view(self.team_id, user_id, current["id"], is_cleared)
        return resp

    def block_suggestion(
        self,
        action_id: str,
        value: str,
        block_id: str | None = None,
        view: dict[str, Any] | str | None = None,
        user_id: str | None = None,
        **send: Any,
    ) -> DriverResponse:
        user_id = self._user(user_id)
        payload = self._base("block_suggestion", user_id)
        payload.update(action_id=action_id, block_id=block_id or "", value=value)
        if view is not None:
            current = self._view(view)
            if block_id is None:
                payload["block_id"] = find_element(current.get("blocks", []), action_id)[0]
            payload.update(container={"type": "view", "view_id": current["id"]}, view=current)
        resp = self._interact(payload, **send)
        problems: list[str] = []
        if isinstance(resp.json, dict):
            for key in ("options", "option_groups"):
                if len(resp.json.get(key) or []) > 100:
                    problems.append(f"no more than 100 items allowed [json-pointer:/{key}]")
        return _with(resp, problems=problems)

    def shortcut(self, callback_id: str, user_id: str | None = None, **send: Any) -> DriverResponse:
        user_id = self._user(user_id)
        payload = self._base("shortcut", user_id)
        trigger_id = self.standin.new_trigger_id(user_id, self.team_id)
        payload.update(callback_id=callback_id, trigger_id=trigger_id, action_ts=action_ts())
        return _with(self._interact(payload, **send), trigger_id=trigger_id)

    def message_shortcut(
        self,
        callback_id: str,
        message: dict[str, Any],
        channel: str | None = None,
        user_id: str | None = None,
        **send: Any,
    ) -> DriverResponse:
        user_id = self._user(user_id)
        channel_id = channel or message.get("channel") or self._channel(None)
        trigger_id = self.standin.new_trigger_id(user_id, self.team_id)
        response_url = self.standin.new_response_url(
            self.team_id, user_id, channel_id, message["ts"]
        )
        payload = self._base("message_action", user_id)
        payload.update(
            callback_id=callback_id,
            trigger_id=trigger_id,
            action_ts=action_ts(),
            channel=self._channel_obj(channel_id),
            message_ts=message["ts"],
            message={k: v for k, v in message.items() if k != "channel"},
            response_url=response_url,
        )
        return _with(
            self._interact(payload, **send), trigger_id=trigger_id, response_url=response_url
        )

    # -- events -----------------------------------------------------------------------------
    def event(
        self,
        event: dict[str, Any],
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        authorizations: bool = True,
        **send: Any,
    ) -> DriverResponse:
        """Deliver an Events API envelope; same `event_id` + `retry_num` = a Slack retry."""
        if event_id is None:
            self._event_seq += 1
            event_id = f"Ev{int(time.time())}{self._event_seq:06d}"
        envelope = event_envelope(
            event,
            team_id=self.team_id,
            api_app_id=self.api_app_id,
            bot_user_id=self.team.bot_user_id,
            event_id=event_id,
            authorizations=authorizations,
        )
        headers = dict(send.pop("headers", None) or {})
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        resp = self.post(json.dumps(envelope).encode(), JSON, headers=headers, **send)
        return _with(resp, event_id=event_id)

    def redeliver(
        self,
        previous: DriverResponse,
        retry_num: int = 1,
        retry_reason: str = "http_timeout",
        **send: Any,
    ) -> DriverResponse:
        """Re-send the same envelope bytes (new signature) as Slack's retry N."""
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        resp = self.post(previous.request_body, JSON, headers=headers, **send)
        return _with(resp, event_id=previous.event_id)

    def url_verification(
        self, challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkv", **send: Any
    ) -> DriverResponse:
        body = {"token": LEGACY_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.post(json.dumps(body).encode(), JSON, **send)

    def _message_event(self, msg: dict[str, Any]) -> dict[str, Any]:
        channel_id = msg["channel"]
        kind = {"D": "im", "G": "group"}.get(channel_id[:1], "channel")
        channel = self.standin.state.channels.get(channel_id)
        if channel is not None and channel.is_mpim:
            kind = "mpim"
        return {**msg, "event_ts": msg["ts"], "channel_type": kind}

    def message(
        self,
        text: str,
        user_id: str | None = None,
        channel_id: str | None = None,
        *,
        thread_ts: str | None = None,
        **send: Any,
    ) -> DriverResponse:
        """A person writes `text` (stored on the stand-in) and the `message` event is sent."""
        msg = self.standin.post_user_message(
            self.team_id, self._channel(channel_id), self._user(user_id), text, thread_ts=thread_ts
        )
        return self.event(self._message_event(msg), **send)

    def file_share_message(
        self,
        file_ids: list[str],
        user_id: str | None = None,
        channel_id: str | None = None,
        text: str = "",
        **send: Any,
    ) -> DriverResponse:
        """`message` with `subtype: file_share` and full `files[]` for stand-in files."""
        state = self.standin.state
        files = [state.file_object(state.files[f], self.standin.url) for f in file_ids]
        msg = self.standin.post_user_message(
            self.team_id, self._channel(channel_id), self._user(user_id), text, files=files
        )
        return self.event(self._message_event(msg), **send)

    def file_shared(
        self, file_id: str, user_id: str | None = None, channel_id: str | None = None, **send: Any
    ) -> DriverResponse:
        event = {
            "type": "file_shared",
            "channel_id": self._channel(channel_id),
            "file_id": file_id,
            "user_id": self._user(user_id),
            "file": {"id": file_id},
            "event_ts": action_ts(),
        }
        return self.event(event, **send)

    def app_home_opened(
        self, user_id: str | None = None, tab: str = "home", **send: Any
    ) -> DriverResponse:
        user_id = self._user(user_id)
        with self.standin.state.lock:
            dm = self.standin.state.open_dm(self.team_id, user_id)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": dm,
            "event_ts": action_ts(),
            "tab": tab,
        }
        home = self.standin.home_view(user_id, self.team_id)
        if home is not None:
            event["view"] = home
        return self.event(event, **send)

    def app_mention(
        self, text: str, user_id: str | None = None, channel_id: str | None = None, **send: Any
    ) -> DriverResponse:
        if f"<@{self.team.bot_user_id}>" not in text:
            text = f"<@{self.team.bot_user_id}> {text}"
        msg = self.standin.post_user_message(
            self.team_id, self._channel(channel_id), self._user(user_id), text
        )
        event = {k: v for k, v in msg.items() if k not in ("type",)}
        event.update(type="app_mention", event_ts=msg["ts"])
        return self.event(event, **send)

    def app_uninstalled(self, **send: Any) -> DriverResponse:
        """The workspace removes the app: its tokens stop working, then Slack sends this."""
        self.standin.revoke_tokens(self.team_id)
        return self.event({"type": "app_uninstalled"}, authorizations=False, **send)

    def tokens_revoked(
        self, bot: list[str] | None = None, oauth: list[str] | None = None, **send: Any
    ) -> DriverResponse:
        """Tokens revoked (bot user ids in `bot`, default the app's bot; user ids in `oauth`)."""
        if bot is None and oauth is None:
            bot = [self.team.bot_user_id]
        if bot:
            self.standin.revoke_tokens(self.team_id)
        event = {"type": "tokens_revoked", "tokens": {"oauth": oauth or [], "bot": bot or []}}
        return self.event(event, authorizations=False, **send)

    def echo_bot_message(self, message: dict[str, Any], **send: Any) -> DriverResponse:
        """Send one of the bot's own messages back as a `message` event (the app must ignore)."""
        return self.event(self._message_event(message), **send)


def _with(resp: DriverResponse, **changes: Any) -> DriverResponse:
    return replace(resp, **changes)
