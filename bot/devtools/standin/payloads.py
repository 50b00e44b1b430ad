"""Pure builders for what Slack sends the app (contract §2): forms, payloads, event envelopes."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

LEGACY_TOKEN = "legacy-verification-token"

# Element type → the key holding its value in state.values (contract §2.3 table).
STATE_KEYS = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "rich_text_input": "rich_text_value",
    "file_input": "files",
    "overflow": "selected_option",
}


def action_ts() -> str:
    return f"{time.time():.6f}"


def command_form(fields: dict[str, str]) -> bytes:
    """Slash-command body with Slack's field order (contract §2.1)."""
    order = (
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    )
    ordered = [(k, fields[k]) for k in order if k in fields]
    ordered += [(k, v) for k, v in fields.items() if k not in order]
    return urllib.parse.urlencode(ordered).encode()


def interaction_form(payload: dict[str, Any]) -> bytes:
    """Interactivity body: a single `payload=<URL-encoded JSON>` field."""
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def event_envelope(
    event: dict[str, Any],
    *,
    team_id: str,
    api_app_id: str,
    bot_user_id: str,
    event_id: str,
    event_time: int | None = None,
    authorizations: bool = True,
) -> dict[str, Any]:
    """An Events API envelope. Lifecycle events (app_uninstalled, tokens_revoked) come
    without `authorizations` (there is no installation left to name)."""
    envelope: dict[str, Any] = {
        "token": LEGACY_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time if event_time is not None else int(time.time()),
    }
    if authorizations:
        envelope["authorizations"] = [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ]
        envelope.update(is_ext_shared_channel=False, event_context=f"4-{event_id}")
    return envelope


def iter_elements(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(block_id, element) for every interactive element in the blocks."""
    found: list[tuple[str, dict[str, Any]]] = []
    for block in blocks or []:
        block_id = str(block.get("block_id", ""))
        if isinstance(block.get("accessory"), dict):
            found.append((block_id, block["accessory"]))
        if isinstance(block.get("element"), dict):
            found.append((block_id, block["element"]))
        if block.get("type") == "actions":
            found += [(block_id, el) for el in block.get("elements", []) if isinstance(el, dict)]
    return found


def find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    for bid, element in iter_elements(blocks):
        if element.get("action_id") == action_id and block_id in (None, bid):
            return bid, element
    raise LookupError(f"no element with action_id={action_id!r} (block_id={block_id!r})")


def _all_options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options", [])
    return options


def as_option(element: dict[str, Any], value: Any) -> dict[str, Any] | None:
    """An option object for `value`: the element's own option if it has one with that value."""
    if value is None or isinstance(value, dict):
        return value
    for option in _all_options(element):
        if option.get("value") == value:
            return option
    return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": str(value)}


def state_entry(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """`{"type": …, <value key>: …}` for one element, as Slack reports it in state.values."""
    kind = str(element.get("type", "plain_text_input"))
    if isinstance(value, dict) and "type" in value:
        return value
    key = STATE_KEYS.get(kind, "value")
    if key == "selected_option":
        converted: Any = as_option(element, value)
    elif key == "selected_options":
        converted = [as_option(element, v) for v in (value or [])]
    elif kind == "number_input" and value is not None:
        converted = str(value)
    else:
        converted = value
    return {"type": kind, key: converted}


INITIAL_KEYS = {
    "value": "initial_value",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_conversation": "initial_conversation",
    "selected_channel": "initial_channel",
}


def initial_state(element: dict[str, Any]) -> dict[str, Any]:
    """What Slack reports for an input the person did not touch: its initial value, if any."""
    kind = str(element.get("type", "plain_text_input"))
    key = STATE_KEYS.get(kind, "value")
    return {"type": kind, key: element.get(INITIAL_KEYS.get(key, "initial_value"))}


def view_state_values(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Build `state.values` for every input block of `view`.

    `values` maps block_id → a plain value (str, list, user id, "YYYY-MM-DD"…), a ready state
    entry (dict with "type"), or {action_id: value}. Inputs not given keep their initial value
    (null when there is none), as Slack reports untouched inputs.
    """
    result: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        block_id = str(block.get("block_id", ""))
        element = block["element"]
        action_id = str(element.get("action_id", ""))
        if block_id not in values:
            result[block_id] = {action_id: initial_state(element)}
            continue
        given = values[block_id]
        if isinstance(given, dict) and "type" not in given and action_id in given:
            given = given[action_id]
        result[block_id] = {action_id: state_entry(element, given)}
    for block_id in values:
        if block_id not in result:
            raise LookupError(f"view has no input block with block_id={block_id!r}")
    return result


def action_payload_entry(
    element: dict[str, Any], block_id: str, value: Any, selected: dict[str, Any]
) -> dict[str, Any]:
    """One entry of `actions[]` in a block_actions payload."""
    kind = str(element.get("type", "button"))
    entry: dict[str, Any] = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "type": kind,
        "action_ts": action_ts(),
    }
    if kind == "button":
        entry["text"] = element.get("text")
        entry["value"] = value if value is not None else element.get("value")
        if element.get("style"):
            entry["style"] = element["style"]
    else:
        if value is not None:
            entry.update({k: v for k, v in state_entry(element, value).items() if k != "type"})
        if element.get("placeholder"):
            entry["placeholder"] = element["placeholder"]
    entry.update({k: v for k, v in selected.items() if v is not None})
    return entry
