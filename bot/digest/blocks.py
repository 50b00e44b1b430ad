"""Pure Block Kit builders for open items: the daily digest DM, the digest settings modal and
the per-item controls (Done · Snooze · Reassign) that App Home reuses.

An item's identity travels in its `block_id` ("ftitem:c:42:open" = commitment 42, expected
state open), so every control in the row — button, select, datepicker, user picker — reaches
the listener with the entity id and the state the person saw.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from bot.slack import payload
from bot.slack.blocks.common import (
    actions,
    button,
    clip,
    context,
    divider,
    escape,
    header,
    option,
    plain,
    section,
)

ITEM_PREFIX = "ftitem"
LIST_PREFIX = "ftlist"  # ftlist:<list>:c:42:open — a row of a `/commitments` list (ephemeral)
A_DONE = "ft_item_done"
A_SNOOZE = "ft_item_snooze"
A_SNOOZE_DATE = "ft_item_snooze_date"
A_REASSIGN = "ft_item_reassign"
ITEM_ACTIONS = (A_DONE, A_SNOOZE, A_SNOOZE_DATE, A_REASSIGN)
SETTINGS_CALLBACK = "digest_settings"
SNOOZE_CHOICES = (("1d", "Snooze 1 day"), ("1w", "Snooze 1 week"))

Kind = Literal["c", "s"]  # commitment | case step


@dataclass(frozen=True)
class Item:
    """One open thing a person owes: a commitment or a case step (a view model, no ORM)."""

    kind: Kind
    id: int
    state: str
    text: str
    due: dt.date | None = None
    account: str | None = None
    detail: str | None = None  # "Case #3 · step 2 of 5" or "promised to Dana on Nov 3"

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}:{self.state}"


@dataclass(frozen=True)
class Ref:
    kind: Kind
    id: int
    state: str


def parse_ref(block_id: str | None) -> Ref | None:
    """`ftitem:c:42:open` (or `ftlist:<list>:c:42:open`) → Ref; anything else (forged,
    truncated, ids past int4) → None."""
    prefix, _, rest = (block_id or "").partition(":")
    if prefix == LIST_PREFIX:
        prefix, rest = ITEM_PREFIX, rest.partition(":")[2]
    kind, _, ref = rest.partition(":")
    if prefix != ITEM_PREFIX or kind not in ("c", "s"):
        return None
    try:
        ident, state = payload.parse_ref(ref)
    except payload.BadInput:
        return None
    return Ref(kind, ident, state) if state else None  # type: ignore[arg-type]


def list_of(block_id: str | None) -> str | None:
    """Which `/commitments` list a row belongs to (`ftlist:<list>:…`), if it is one."""
    prefix, _, rest = (block_id or "").partition(":")
    if prefix != LIST_PREFIX:
        return None
    return rest.partition(":")[0] or None


GROUPS = (
    ("overdue", ":red_circle: Overdue"),
    ("today", ":large_orange_circle: Due today"),
    ("week", ":large_yellow_circle: Due this week"),
    ("later", ":white_circle: Later"),
    ("none", ":grey_question: No due date"),
    ("steps", ":clipboard: Case steps waiting on you"),
)


def due_label(due: dt.date | None, today: dt.date) -> str:
    if due is None:
        return "no due date"
    delta = (due - today).days
    if delta < 0:
        return f"was due {due:%a %b} {due.day} ({-delta} day{'s' if delta != -1 else ''} ago)"
    if delta == 0:
        return "due today"
    if delta == 1:
        return "due tomorrow"
    return f"due {due:%a %b} {due.day}"


def item_text(item: Item, today: dt.date) -> str:
    bits = [f"*{escape(clip(item.text, 600))}*"]
    meta = []
    if item.account:
        meta.append(escape(item.account))
    meta.append(due_label(item.due, today))
    if item.detail:
        meta.append(escape(item.detail))
    bits.append(" · ".join(meta))
    return "\n".join(bits)


def item_controls(item: Item, today: dt.date, in_list: str | None = None) -> dict[str, Any]:
    """Done · Snooze (1 day / 1 week) · Snooze to a date · Reassign — one actions block."""
    snooze = {
        "type": "static_select",
        "action_id": A_SNOOZE,
        "placeholder": plain("Snooze…"),
        "options": [option(label, value) for value, label in SNOOZE_CHOICES],
    }
    pick = {
        "type": "datepicker",
        "action_id": A_SNOOZE_DATE,
        "placeholder": plain("Snooze to a date"),
        "initial_date": (today + dt.timedelta(days=1)).isoformat(),
    }
    reassign = {
        "type": "users_select",
        "action_id": A_REASSIGN,
        "placeholder": plain("Reassign to…"),
    }
    return actions(
        button("Done", A_DONE, item.ref, style="primary"),
        snooze,
        pick,
        reassign,
        block_id=f"{LIST_PREFIX}:{in_list}:{item.ref}" if in_list else f"{ITEM_PREFIX}:{item.ref}",
    )


def item_blocks(item: Item, today: dt.date, in_list: str | None = None) -> list[dict[str, Any]]:
    """An item's line and controls; `in_list` names the `/commitments` list it is shown in."""
    return [section(item_text(item, today)), item_controls(item, today, in_list)]


def group_items(items: list[Item], today: dt.date) -> dict[str, list[Item]]:
    """Pure: overdue / today / this week (to Sunday) / later / no date / case steps."""
    end_of_week = today + dt.timedelta(days=6 - today.weekday())
    groups: dict[str, list[Item]] = {key: [] for key, _ in GROUPS}
    for item in items:
        if item.kind == "s":
            key = "steps"
        elif item.due is None:
            key = "none"
        elif item.due < today:
            key = "overdue"
        elif item.due == today:
            key = "today"
        elif item.due <= end_of_week:
            key = "week"
        else:
            key = "later"
        groups[key].append(item)
    for key in groups:
        groups[key].sort(key=lambda i: (i.due or dt.date.max, i.id))
    return groups


def grouped_blocks(
    items: list[Item], today: dt.date, max_blocks: int, more_hint: str
) -> tuple[list[dict[str, Any]], int]:
    """Group headings and item rows within `max_blocks`; returns (blocks, items left out)."""
    blocks: list[dict[str, Any]] = []
    left_out = 0
    groups = group_items(items, today)
    for key, title in GROUPS:
        members = groups[key]
        if not members:
            continue
        if len(blocks) + 3 > max_blocks - 1:
            left_out += len(members)
            continue
        blocks.append(section(f"*{title}* ({len(members)})"))
        for item in members:
            if len(blocks) + 2 > max_blocks - 1:
                left_out += 1
                continue
            blocks.extend(item_blocks(item, today))
    if left_out:
        blocks.append(context(f"…and {left_out} more not shown here. {more_hint}"))
    return blocks, left_out


def digest_summary(items: list[Item], today: dt.date) -> str:
    groups = group_items(items, today)
    parts = [
        f"{len(groups['overdue'])} overdue" if groups["overdue"] else "",
        f"{len(groups['today'])} due today" if groups["today"] else "",
        f"{len(groups['steps'])} case step{'s' if len(groups['steps']) != 1 else ''}"
        if groups["steps"]
        else "",
    ]
    counted = [p for p in parts if p]
    total = len(items)
    head = f"{total} open item{'s' if total != 1 else ''}"
    return head + (f" ({', '.join(counted)})" if counted else "")


def digest_message(items: list[Item], today: dt.date) -> tuple[str, list[dict[str, Any]]]:
    """(notification text, blocks) of one person's daily digest; ≤ 50 blocks always."""
    summary = digest_summary(items, today)
    top = [
        header(f"Your follow-through for {today:%A, %b} {today.day}"),
        context(summary),
    ]
    foot = [divider(), context("Change the hour or turn this off with `/commitments settings`.")]
    body, _ = grouped_blocks(
        items, today, 50 - len(top) - len(foot), "Open the app's Home tab for everything."
    )
    return f"Your daily digest: {summary}", top + body + foot


def replace_item(blocks: list[dict[str, Any]], block_id: str, note: str) -> list[dict[str, Any]]:
    """Pure: the message with one item's controls swapped for a note (keeps its text)."""
    out = []
    for block in blocks:
        if block.get("block_id") == block_id and block.get("type") == "actions":
            out.append(context(note))
        else:
            out.append(block)
    return out


# --- settings modal ---------------------------------------------------------------------


def hour_label(hour: int) -> str:
    return f"{hour:02d}:00"


def settings_modal(enabled: bool, hour: int) -> dict[str, Any]:
    """`/commitments settings`: turn the digest on/off and pick its local hour."""
    on = option("Send me the daily digest", "on")
    hours = [option(hour_label(h), str(h)) for h in range(24)]
    checkbox: dict[str, Any] = {"type": "checkboxes", "action_id": "enabled", "options": [on]}
    if enabled:
        checkbox["initial_options"] = [on]
    return {
        "type": "modal",
        "callback_id": SETTINGS_CALLBACK,
        "title": plain("Digest settings", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(
                "Every working day I DM you what is open, due and overdue — in your own "
                "timezone. Nothing open means no message."
            ),
            {
                "type": "input",
                "block_id": "digest_enabled",
                "optional": True,
                "label": plain("Daily digest"),
                "element": checkbox,
            },
            {
                "type": "input",
                "block_id": "digest_hour",
                "label": plain("Hour (your time)"),
                "element": {
                    "type": "static_select",
                    "action_id": "hour",
                    "options": hours,
                    "initial_option": option(hour_label(hour), str(hour)),
                },
            },
        ],
    }
