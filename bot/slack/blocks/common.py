"""Small Block Kit pieces shared by every surface, with Slack's limits enforced by truncation."""

from __future__ import annotations

from typing import Any

SECTION_MAX = 3000
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
CONTEXT_MAX = 3000


def clip(text: str | None, limit: int) -> str:
    """Cut to Slack's limit with an ellipsis; never return an empty text object."""
    text = (text or "").strip() or " "
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str | None) -> str:
    """mrkdwn needs &, < and > escaped; user text must never become a link or mention."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, HEADER_MAX)}


def section(
    text: str,
    *,
    block_id: str | None = None,
    accessory: dict | None = None,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(text)}
    if fields:
        block["fields"] = [mrkdwn(f, 2000) for f in fields[:10]]
    if block_id:
        block["block_id"] = block_id[:255]
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:10] if t]}


def input_block(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    """A modal's input block (label and hint at Slack's 2,000 characters)."""
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str = "",
    style: str | None = None,
    url: str | None = None,
    confirm: dict | None = None,
) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_MAX),
        "action_id": action_id[:255],
    }
    if value:
        el["value"] = value[:2000]
    if style in {"primary", "danger"}:
        el["style"] = style
    if url:
        el["url"] = url[:3000]
    if confirm:
        el["confirm"] = confirm
    return el


def actions(*elements: dict, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements)[:25]}
    if block_id:
        block["block_id"] = block_id[:255]
    return block


def option(text: str, value: str, description: str | None = None) -> dict[str, Any]:
    opt: dict[str, Any] = {"text": plain(text, OPTION_TEXT_MAX), "value": value[:OPTION_VALUE_MAX]}
    if description:
        opt["description"] = plain(description, OPTION_TEXT_MAX)
    return opt


def confirm_dialog(title: str, text: str, confirm: str = "Yes", deny: str = "Cancel") -> dict:
    return {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain(confirm, 30),
        "deny": plain(deny, 30),
    }


def user_mention(user_id: str | None, fallback: str = "someone") -> str:
    return f"<@{user_id}>" if user_id else fallback


def limit_blocks(blocks: list[dict], limit: int = 50, more_text: str | None = None) -> list[dict]:
    """Keep a message under Slack's block limit, saying what was left out."""
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    kept.append(context(more_text or f"…and {len(blocks) - limit + 1} more not shown."))
    return kept
