"""One typed reading of what Slack sends: ids, refs, text, and the `Interaction` of a request.

Pure. Every id that arrives in a button value, block id, private_metadata or command text goes
through `parse_id` (ASCII digits only, within PostgreSQL's int4), and every piece of free text
that may reach SQL through `clean_text` (no NUL or other control characters, capped). The
`Interaction` is parsed once per request by the app's middleware: a body whose *shape* is not
Slack's raises `BadPayload` (answered 400); a well-formed body with a value we cannot use
raises `BadInput` later, in the listener, with a message fit for the person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INT4_MAX = 2_147_483_647  # PostgreSQL `integer`: every id column
_DIGITS = re.compile(r"[0-9]{1,10}")  # str.isdigit() also takes '²' and Arabic-Indic '١'
_STATE = re.compile(r"[A-Za-z0-9_-]{0,40}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,31}")
_SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{1,31}")  # team, enterprise, channel, view ids
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")  # keeps \t and \n

STALE = "That button or form is out of date, so nothing changed. Use the latest message."


class BadInput(ValueError):
    """A value we will not act on. `str()` is the answer for the person; `block_id` names the
    modal input at fault (a view submission then shows it next to that field)."""

    def __init__(self, message: str = STALE, *, block_id: str | None = None) -> None:
        super().__init__(message)
        self.block_id = block_id


class BadPayload(BadInput):
    """The body is not shaped like anything Slack sends (a forged or broken request): 400."""


# --- values --------------------------------------------------------------------------------


def parse_int(value: object, *, low: int, high: int, error: str = STALE) -> int:
    """An integer from a str of ASCII digits (or a JSON int), `low <= n <= high`."""
    if isinstance(value, bool):
        raise BadInput(error)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise BadInput(error)
    if not low <= number <= high:
        raise BadInput(error)
    return number


def parse_id(value: object, error: str = STALE) -> int:
    """A database id: 1 … 2,147,483,647, written in ASCII digits."""
    return parse_int(value, low=1, high=INT4_MAX, error=error)


def parse_ref(value: object, error: str = STALE) -> tuple[int, str]:
    """`"<id>:<state>"` (the state may be empty: `"<id>"` or `"<id>:"`) → (id, state)."""
    if not isinstance(value, str):
        raise BadInput(error)
    ident, _, state = value.partition(":")
    if not _STATE.fullmatch(state):
        raise BadInput(error)
    return parse_id(ident, error), state


def clean_text(value: object, limit: int) -> str:
    """Text safe to store: NUL, other C0 controls (but tab and newline), DEL and lone
    surrogates removed (PostgreSQL refuses NUL and unpaired surrogates), at most `limit`
    characters. None → ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadInput("That field should be text.")
    return _CONTROLS.sub("", value)[:limit]


def user_id_ok(value: object) -> bool:
    """The shape of a Slack user id (U… or W…, upper-case letters and digits)."""
    return isinstance(value, str) and _USER_ID.fullmatch(value) is not None


def slack_id_ok(value: object) -> bool:
    """The shape of any Slack id (team T…, channel C…/D…/G…, file F…, view V…)."""
    return isinstance(value, str) and _SLACK_ID.fullmatch(value) is not None


def parse_user(value: object, error: str = "Pick a person from the list.") -> str:
    if not user_id_ok(value):
        raise BadInput(error)
    return str(value)


def metadata(raw: object) -> dict[str, Any]:
    """A view's private_metadata as a JSON object ({} when empty); BadInput otherwise."""
    if raw in (None, ""):
        return {}
    try:
        data = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BadInput("This form is out of date, so nothing was saved. Open it again.")
    return data


# --- the interaction -----------------------------------------------------------------------


@dataclass(frozen=True)
class Element:
    """One control: the clicked/selected action of a block_actions, or one input of a view."""

    action_id: str = ""
    block_id: str = ""
    type: str = ""
    value: str | None = None
    selected_user: str | None = None
    selected_conversation: str | None = None
    selected_channel: str | None = None
    selected_option: str | None = None  # the option's value
    selected_options: tuple[str, ...] = ()
    selected_date: str | None = None
    selected_users: tuple[str, ...] = ()
    files: tuple[Mapping[str, Any], ...] = ()

    @property
    def picked(self) -> str | None:
        """What the person chose or typed, whatever the control."""
        for found in (
            self.selected_date,
            self.selected_user,
            self.selected_conversation,
            self.selected_channel,
            self.selected_option,
            self.value,
        ):
            if found:
                return found
        return None


@dataclass(frozen=True)
class View:
    id: str = ""
    type: str = ""  # modal | home
    callback_id: str = ""
    private_metadata: str = ""
    hash: str = ""
    state: Mapping[str, Element] = field(default_factory=dict)  # block_id → its input

    def element(self, block_id: str) -> Element:
        return self.state.get(block_id) or Element(block_id=block_id)

    def value(self, block_id: str) -> str | None:
        return self.element(block_id).picked

    def text(self, block_id: str, limit: int = 3000) -> str:
        """A typed input, cleaned for storage ("" when empty)."""
        return clean_text(self.element(block_id).value, limit)

    def metadata(self) -> dict[str, Any]:
        return metadata(self.private_metadata)


@dataclass(frozen=True)
class Interaction:
    """Everything a listener reads from one request, typed and checked once."""

    kind: str  # command | block_actions | view_submission | view_closed | shortcut |
    # message_action | block_suggestion | event_callback | …
    team_id: str = ""
    user_id: str = ""
    channel_id: str = ""
    trigger_id: str = ""
    response_url: str = ""
    action: Element | None = None  # block_actions: the first action; block_suggestion: the query
    callback_id: str = ""  # shortcuts and message actions
    view: View | None = None  # view_submission / view_closed, or the view a click came from
    container_type: str = ""  # message | view | …
    is_ephemeral: bool = False
    message_ts: str = ""
    thread_ts: str = ""
    message: Mapping[str, Any] | None = None  # the message a click or shortcut came from
    command: str = ""
    text: str = ""  # command text (or the typed query of a block_suggestion), cleaned
    event: Mapping[str, Any] | None = None
    event_id: str = ""

    # -- what listeners read most ---------------------------------------------------------
    @property
    def action_id(self) -> str:
        return self.action.action_id if self.action else ""

    @property
    def block_id(self) -> str:
        return self.action.block_id if self.action else ""

    @property
    def value(self) -> str | None:
        return self.action.value if self.action else None

    @property
    def route(self) -> str:
        """What the request asked for, for logs: the command, action, callback or event."""
        if self.command:
            return self.command
        if self.action:
            return self.action.action_id
        if self.view:
            return self.view.callback_id
        if self.event:
            return str(self.event.get("type") or "")
        return self.callback_id

    @property
    def in_view(self) -> bool:
        """A click on the Home tab or inside a modal (no message to answer under)."""
        return self.container_type == "view" and self.view is not None

    @classmethod
    def parse(cls, body: object) -> Interaction:
        return _parse(body)


# --- parsing (shape checks raise BadPayload) -----------------------------------------------


def _bad(what: str) -> BadPayload:
    return BadPayload(f"This request is not one Slack sends ({what}).")


def _str(data: Mapping[str, Any], key: str, what: str | None = None) -> str:
    """An optional string field: absent/None → ""; another type → BadPayload."""
    found = data.get(key)
    if found is None:
        return ""
    if not isinstance(found, str):
        raise _bad(f"{what or key} is not text")
    return found


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    found = data.get(key)
    if found is None:
        return None
    if not isinstance(found, Mapping):
        raise _bad(f"{key} is not an object")
    return found


def _slack_id(value: str, what: str, pattern: re.Pattern[str] = _SLACK_ID) -> str:
    if value and not pattern.fullmatch(value):
        raise _bad(f"{what} is not a Slack id")
    return value


def _option_value(data: Mapping[str, Any], key: str) -> str | None:
    option = _obj(data, key)
    if option is None:
        return None
    return _str(option, "value", f"{key}.value") or None


def _strings(data: Mapping[str, Any], key: str, pick: str | None = None) -> tuple[str, ...]:
    found = data.get(key)
    if found is None:
        return ()
    if not isinstance(found, list):
        raise _bad(f"{key} is not a list")
    out = []
    for item in found:
        if pick is not None:
            if not isinstance(item, Mapping):
                raise _bad(f"{key} holds something that is not an option")
            item = item.get(pick)
        if not isinstance(item, str):
            raise _bad(f"{key} holds something that is not text")
        out.append(item)
    return tuple(out)


def _element(data: object, block_id: str = "", action_id: str = "") -> Element:
    if not isinstance(data, Mapping):
        raise _bad("an action is not an object")
    files = data.get("files")
    if files is not None and not (
        isinstance(files, list) and all(isinstance(f, Mapping) for f in files)
    ):
        raise _bad("files is not a list of files")
    return Element(
        action_id=_str(data, "action_id") or action_id,
        block_id=_str(data, "block_id") or block_id,
        type=_str(data, "type"),
        value=_str(data, "value") if data.get("value") is not None else None,
        selected_user=_str(data, "selected_user") or None,
        selected_conversation=_str(data, "selected_conversation") or None,
        selected_channel=_str(data, "selected_channel") or None,
        selected_option=_option_value(data, "selected_option"),
        selected_options=_strings(data, "selected_options", "value"),
        selected_date=_str(data, "selected_date") or None,
        selected_users=_strings(data, "selected_users"),
        files=tuple(files or ()),
    )


def _event_str(event: Mapping[str, Any], key: str) -> str:
    """A text field of an event; some events carry an object under the same key (user_change)."""
    found = event.get(key)
    return found if isinstance(found, str) else ""


def _view(data: Mapping[str, Any] | None) -> View | None:
    if data is None:
        return None
    state: dict[str, Element] = {}
    values = _obj(_obj(data, "state") or {}, "values") or {}
    for block_id, elements in values.items():
        if not isinstance(elements, Mapping):
            raise _bad("view state is not an object")
        for action_id, element in elements.items():  # one input per block: the last wins
            state[str(block_id)] = _element(element, str(block_id), str(action_id))
    return View(
        id=_str(data, "id", "view.id"),
        type=_str(data, "type", "view.type"),
        callback_id=_str(data, "callback_id", "view.callback_id"),
        private_metadata=_str(data, "private_metadata", "view.private_metadata"),
        hash=_str(data, "hash", "view.hash"),
        state=state,
    )


def _parse(body: object) -> Interaction:
    if not isinstance(body, Mapping):
        raise _bad("the payload is not an object")
    kind = "command" if "command" in body and "type" not in body else _str(body, "type")
    team = _obj(body, "team") if not isinstance(body.get("team"), str) else None
    user = _obj(body, "user") if not isinstance(body.get("user"), str) else None
    channel = _obj(body, "channel") if not isinstance(body.get("channel"), str) else None
    container = _obj(body, "container") or {}
    event = _obj(body, "event")
    message = _obj(body, "message")
    user_id = (
        (_str(user, "id", "user.id") if user else "")
        or _str(body, "user_id")
        or (body["user"] if isinstance(body.get("user"), str) else "")
    )
    team_id = (
        (_str(team, "id", "team.id") if team else "")
        or _str(body, "team_id")
        or (body["team"] if isinstance(body.get("team"), str) else "")
        or (_str(user, "team_id", "user.team_id") if user else "")
    )
    channel_id = (
        _str(container, "channel_id", "container.channel_id")
        or (_str(channel, "id", "channel.id") if channel else "")
        or _str(body, "channel_id")
        or (body["channel"] if isinstance(body.get("channel"), str) else "")
    )
    if event is not None:  # the Events API names the person and place inside the event
        user_id = user_id or _event_str(event, "user") or _event_str(event, "user_id")
        channel_id = channel_id or _event_str(event, "channel") or _event_str(event, "channel_id")
    action: Element | None = None
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise _bad("block_actions without actions")
        action = _element(actions[0])
        if not action.action_id:
            raise _bad("an action without action_id")
    elif kind == "block_suggestion":
        action = Element(
            action_id=_str(body, "action_id"), block_id=_str(body, "block_id"), type="suggestion"
        )
        if not action.action_id:
            raise _bad("block_suggestion without action_id")
    view = _view(_obj(body, "view"))
    if kind in ("view_submission", "view_closed") and (
        view is None or not view.callback_id or not view.type
    ):
        raise _bad("a view without callback_id or type")
    if kind.startswith("workflow_step"):  # steps from apps (retired by Slack): not ours
        raise _bad("a workflow step")
    if kind in ("shortcut", "message_action") and not _str(body, "callback_id"):
        raise _bad("a shortcut without callback_id")
    if kind == "command" and not _str(body, "command").startswith("/"):
        raise _bad("a command that does not start with /")
    if kind == "event_callback" and (event is None or not _str(event, "type", "event.type")):
        raise _bad("an event without type")
    if message is not None:
        _str(message, "ts", "message.ts")
        _str(message, "thread_ts", "message.thread_ts")
    return Interaction(
        kind=kind,
        team_id=_slack_id(team_id, "team"),
        user_id=_slack_id(user_id, "user", _USER_ID),
        channel_id=_slack_id(channel_id, "channel"),
        trigger_id=_str(body, "trigger_id"),
        response_url=_str(body, "response_url"),
        action=action,
        callback_id=_str(body, "callback_id"),
        view=view,
        container_type=_str(container, "type", "container.type"),
        is_ephemeral=bool(container.get("is_ephemeral")),
        message_ts=_str(container, "message_ts", "container.message_ts")
        or (_str(message, "ts") if message else "")
        or _str(body, "message_ts"),
        thread_ts=(_str(message, "thread_ts") if message else "")
        or _str(container, "thread_ts", "container.thread_ts")
        or (_event_str(event, "thread_ts") if event else ""),
        message=message,
        command=_str(body, "command"),
        text=clean_text(_str(body, "text") if kind == "command" else _str(body, "value"), 4000),
        event=event,
        event_id=_str(body, "event_id"),
    )
