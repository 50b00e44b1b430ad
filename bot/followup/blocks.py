"""Pure Block Kit builders for follow-through messages: due-tomorrow reminders, overdue
notices (owner and CSM), and the close-the-loop note offered when a commitment is done."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from bot.digest.blocks import Item, item_blocks
from bot.slack.blocks.common import (
    actions,
    button,
    clip,
    context,
    escape,
    section,
)

A_REPORT_MISSED = "ft_missed_report"
A_CLOSE_SEND = "ft_close_loop_send"
A_CLOSE_COPY = "ft_close_loop_copy"
A_CLOSE_NO = "ft_close_loop_no"


def reminder_message(item: Item, today: dt.date) -> tuple[str, list[dict[str, Any]]]:
    when = (
        "tomorrow"
        if item.due and (item.due - today).days == 1
        else (f"on {item.due:%A}" if item.due else "soon")
    )
    text = f"Reminder: due {when} — {item.text[:200]}"
    return text, [section(f":alarm_clock: *Due {when}*"), *item_blocks(item, today)]


def overdue_owner_message(item: Item, today: dt.date) -> tuple[str, list[dict[str, Any]]]:
    text = f"Overdue: {item.text[:200]}"
    return text, [
        section(
            ":red_circle: *This commitment is now overdue.* Mark it done, snooze it to a "
            "date you can keep, or hand it to someone who can."
        ),
        *item_blocks(item, today),
    ]


def overdue_csm_message(
    item: Item, owner: str | None, today: dt.date
) -> tuple[str, list[dict[str, Any]]]:
    who = f"<@{owner}>" if owner else "Nobody (no owner on record)"
    account = escape(item.account or "the account")
    text = f"Missed commitment on {item.account or 'an account'}: {item.text[:200]}"
    return text, [
        section(
            f":warning: *Missed commitment on {account}* — a risk signal.\n"
            f"{who} promised: *{escape(clip(item.text, 600))}*"
            + (f" (due {item.due:%a %b} {item.due.day})" if item.due else "")
        ),
        actions(
            button(
                "Report risk: missed commitment", A_REPORT_MISSED, f"c:{item.id}", style="primary"
            ),
            block_id=f"ftmissed:{item.id}",
        ),
        context("Starts `/report-risk` with the *missed commitment* playbook, pre-filled."),
    ]


def close_loop_draft(
    commitment_text: str,
    contact_name: str | None,
    owner_name: str | None,
    call_date: dt.date | None,
) -> str:
    """Pure: a short, plain note to the customer confirming a promise was kept."""
    first = (contact_name or "").split()[0] if contact_name else ""
    greeting = f"Hi {first}," if first else "Hi,"
    on_call = f" on our call on {call_date:%b} {call_date.day}" if call_date else " on our call"
    sign = (owner_name or "").split()[0] if owner_name else ""
    lines = [
        greeting,
        "",
        f"A quick note to close the loop on what I promised{on_call}: "
        f"“{commitment_text.strip().rstrip('.')}” — that's done.",
        "Let me know if anything doesn't look right or if you need anything else.",
    ]
    if sign:
        lines += ["", sign]
    return "\n".join(lines)


def close_loop_offer(
    commitment_id: int, draft: str, recipient: str | None, can_send: bool
) -> tuple[str, list[dict[str, Any]]]:
    to = escape(recipient) if recipient else "the customer"
    buttons = []
    if can_send:
        buttons.append(
            button(
                f"Yes, send it to {recipient or 'the customer'}"[:75],
                A_CLOSE_SEND,
                str(commitment_id),
                style="primary",
            )
        )
    buttons.append(
        button(
            "Yes, give me the text",
            A_CLOSE_COPY,
            str(commitment_id),
            style=None if can_send else "primary",
        )
    )
    buttons.append(button("No thanks", A_CLOSE_NO, str(commitment_id)))
    return (
        "Close the loop with the customer?",
        [
            section(
                f":white_check_mark: Nice — done. Shall I close the loop with {to}? Here's a draft:"
            ),
            section(">" + escape(clip(draft, 2800)).replace("\n", "\n>")),
            actions(*buttons, block_id=f"ftclose:{commitment_id}"),
            context("Nothing is sent unless you say yes."),
        ],
    )


def close_loop_copy(draft: str, email: str | None, subject: str) -> list[dict[str, Any]]:
    blocks = [
        section(":clipboard: Here's the note to copy:"),
        section("```" + escape(clip(draft, 2900)) + "```"),
    ]
    if email:
        query = urllib.parse.urlencode(
            {"subject": subject, "body": draft}, quote_via=urllib.parse.quote
        )
        blocks.append(
            actions(
                button(
                    "Open in my email app", "ft_close_loop_mailto", url=f"mailto:{email}?{query}"
                )
            )
        )
    return blocks


def close_loop_done(note: str) -> list[dict[str, Any]]:
    return [section(note)]


MISSED_MODAL = "ft_missed_report_modal"


def missed_report_modal(account: str, context_text: str, metadata: str) -> dict[str, Any]:
    """Fallback `/report-risk` modal, pre-filled with the missed-commitment playbook."""
    return {
        "type": "modal",
        "callback_id": MISSED_MODAL,
        "private_metadata": metadata[:3000],
        "title": {"type": "plain_text", "text": "Report risk"},
        "submit": {"type": "plain_text", "text": "Plan the case"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"*Account:* {escape(account)}\n*Risk:* Missed commitment"),
            {
                "type": "input",
                "block_id": "context",
                "label": {"type": "plain_text", "text": "What happened"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "context",
                    "multiline": True,
                    "initial_value": clip(context_text, 2900),
                    "max_length": 3000,
                },
            },
        ],
    }
