"""Pure Block Kit for the signals domain: the suggested-case DM and the Dismiss modal."""

from __future__ import annotations

from typing import Any

from bot.signals.views import EvidenceLine, SuggestionView
from bot.slack.blocks.common import (
    actions,
    button,
    context,
    divider,
    escape,
    header,
    plain,
    section,
    user_mention,
)

START = "signal_start"
SNOOZE = "signal_snooze"
DISMISS = "signal_dismiss"
DISMISS_VIEW = "signal_dismiss_view"
REASON_BLOCK = "reason"


def value_of(v: SuggestionView) -> str:
    return f"{v.id}:{v.status}"


def _line(e: EvidenceLine) -> str:
    value = f"*{e.value:g}*" if e.value is not None else (f"*{escape(e.text)}*" if e.text else "")
    prev = f" (was {e.previous:g})" if e.previous is not None else ""
    reason = f" — {escape(e.reason)}" if e.reason else ""
    return (
        f"• `{escape(e.signal_type)}` {value}{prev} from *{escape(e.source)}*, "
        f"{e.at:%b %d %H:%M} UTC — {escape(e.rule_name)}: {escape(e.why)}{reason}"
    )


def _state(v: SuggestionView) -> str | None:
    if v.status == "snoozed" and v.snoozed_until:
        return f":zzz: Put aside by {user_mention(v.decided_by)} until {v.snoozed_until:%b %d}."
    if v.status == "starting":
        who = user_mention(v.decided_by)
        return f":hourglass_flowing_sand: {who} started the plan; drafting it now."
    if v.status == "started":
        who = user_mention(v.decided_by)
        return f":white_check_mark: Case #{v.case_id} is running ({who} started it)."
    if v.status == "dismissed":
        until = (
            f" Signals until {v.cooldown_until:%b %d} are counted, not re-suggested."
            if v.cooldown_until
            else ""
        )
        who, why = user_mention(v.decided_by), escape(v.dismiss_reason)
        return f":no_entry_sign: Dismissed by {who}: “{why}”.{until}"
    if v.status == "closed":
        return f"Case #{v.case_id} closed: {escape(v.outcome or 'closed')}."
    return None


def suggestion_message(v: SuggestionView) -> tuple[str, list[dict[str, Any]]]:
    """The DM: what fired and why (signals with values and sources), and the three choices."""
    text = f"Suggested case: {v.account_name} — {v.playbook_name} ({v.signal_count} signal(s))"
    more = v.signal_count - len(v.evidence)
    blocks: list[dict[str, Any]] = [
        header(f"Suggested case: {v.account_name}"),
        section(
            f"Signals suggest *{escape(v.playbook_name)}* for *{escape(v.account_name)}*. "
            "Start the playbook, put it aside, or dismiss it with a reason."
        ),
        section("*What fired*\n" + "\n".join(_line(e) for e in v.evidence)),
    ]
    if more > 0:
        blocks.append(context(f"…and {more} more signal(s) added to this suggestion."))
    state = _state(v)
    if state:
        blocks.append(section(state))
    if v.status in {"open", "snoozed"}:
        blocks += [
            divider(),
            actions(
                button("Start plan", START, value_of(v), style="primary"),
                button("Not now", SNOOZE, value_of(v)),
                button("Dismiss…", DISMISS, value_of(v), style="danger"),
                block_id=f"signal:{v.id}",
            ),
        ]
    blocks.append(context(f"Suggestion #{v.id} · one per account and risk: repeats add to it."))
    return text, blocks


def dismiss_modal(v: SuggestionView) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": DISMISS_VIEW,
        "private_metadata": value_of(v),
        "title": plain("Dismiss suggestion", 24),
        "submit": plain("Dismiss", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(f"*{escape(v.account_name)}* — {escape(v.playbook_name)}"),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": plain("Why is this not a risk?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 1000,
                    "placeholder": plain("e.g. Score dipped during their planned migration"),
                },
            },
            context("Reasons show the team which signals are noise (/cs-report)."),
        ],
    }
