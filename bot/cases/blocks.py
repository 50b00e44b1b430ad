"""What the step engine says in Slack: pure Block Kit builders, no I/O.

Buttons carry `<entity id>:<expected state>` so a stale click is recognised; selects that
cannot carry a value keep it in their block_id.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from bot.slack.blocks.common import (
    actions,
    button,
    clip,
    confirm_dialog,
    context,
    divider,
    escape,
    header,
    input_block,
    limit_blocks,
    mrkdwn,
    option,
    plain,
    section,
    user_mention,
)

YES, NO, EDIT = "step_yes", "step_no", "step_edit"
EDIT_VIEW, NO_VIEW, NOTE_VIEW = "step_edit_view", "step_no_view", "case_note_view"
REASSIGN = "step_reassign"
ANSWER_SAVED, ANSWER_CHURNED, ANSWER_NOT_YET = "case_saved", "case_churned", "case_not_yet"
CASE_PAUSE, CASE_RESUME, CASE_SKIP = "case_pause", "case_resume", "case_skip"
CASE_NOTE, CASE_RESOLVE, CASE_CHURN = "case_note", "case_resolve", "case_churn"
CASE_EXTEND, CASE_REASSIGN = "case_extend", "case_reassign_current"

MEDIUM_LABEL = {
    "slack": "Slack message",
    "email": "email",
    "call": "call",
    "meeting": "meeting",
    "internal": "internal task",
}
DRAFT_MAX = 2900


@dataclass(frozen=True)
class StepView:
    case_id: int
    step_id: int
    position: int
    total: int
    account: str
    risk: str
    why: str
    summary: str
    medium: str
    recipient: str
    recipient_ref: str | None
    assignee: str | None
    owner: str | None
    draft: str
    status: str


@dataclass(frozen=True)
class StepLine:
    position: int
    summary: str
    medium: str
    assignee: str | None
    status: str
    due_at: dt.datetime | None = None
    decided_by: str | None = None
    decision: str | None = None
    decided_at: dt.datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CaseCard:
    case_id: int
    account: str
    risk: str
    status: str
    outcome: str
    owner: str | None
    why: str
    current_step: int
    total_steps: int
    steps: list[StepLine] = field(default_factory=list)
    notes: str = ""
    opened_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    resolution_step: int | None = None
    reporter: str | None = None
    playbooks: list[str] = field(default_factory=list)  # "key v1", then any extensions
    crm: str = ""  # the account's CRM link line (cards.crm_line)


def when(at: dt.datetime | None) -> str:
    """A Slack date token: each reader sees it in their own timezone."""
    if at is None:
        return "—"
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    fallback = at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _quote(text: str) -> str:
    body = escape(clip(text, DRAFT_MAX))
    return "\n".join(f"> {line}" if line else ">" for line in body.splitlines()) or "> "


def _step_facts(v: StepView) -> list[dict[str, Any]]:
    medium = MEDIUM_LABEL.get(v.medium, v.medium)
    to = f" to *{escape(v.recipient)}*" if v.recipient else ""
    return [
        section(
            f"*{escape(v.account)}* · {escape(v.risk)} · case #{v.case_id}\n"
            f"_Why:_ {escape(clip(v.why, 600))}"
        ),
        section(f"*Step {v.position} of {v.total}:* {escape(v.summary)}\nVia {medium}{to}"),
    ]


def _draft_block(v: StepView) -> dict[str, Any]:
    label = "Message" if v.medium in {"slack", "email"} else "Notes"
    return section(f"*{label}:*\n{_quote(v.draft)}")


def step_dm(v: StepView, *, reminder: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """The DM that asks the assignee to act on a step: Yes / No / Edit."""
    value = f"{v.step_id}:{v.status}"
    yes_label = "Yes, send it" if v.medium == "slack" else "Yes, done"
    title = f"Step {v.position} for {v.account}: {v.summary}"
    blocks: list[dict[str, Any]] = [header(("Reminder: " if reminder else "") + title)]
    if reminder:
        blocks.append(context("No decision yet on this step — it is still waiting for you."))
    blocks += _step_facts(v)
    blocks.append(_draft_block(v))
    blocks.append(
        actions(
            button(yes_label, YES, value, style="primary"),
            button("Edit", EDIT, value),
            button("No, skip", NO, value),
            block_id=f"step:{v.step_id}",
        )
    )
    text = f"{'Reminder: ' if reminder else ''}{title} — Yes, No or Edit?"
    return clip(text, 3000), blocks


def step_settled(
    v: StepView, headline: str, extra: list[dict] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The same DM once nothing more is asked of it: what happened, buttons gone."""
    blocks = [
        header(f"Step {v.position} for {v.account}: {v.summary}"),
        *_step_facts(v),
        _draft_block(v),
        *(extra or []),
        context(headline),
    ]
    return clip(f"Step {v.position} for {v.account}: {headline}", 3000), limit_blocks(blocks)


DECISION_WORDS = {
    "yes": "✅ Yes",
    "edit": "✏️ Edited and sent",
    "no": "⏭️ Skipped",
}


def decided_headline(
    decision: str,
    by: str,
    at: dt.datetime,
    *,
    delivered_to: str | None = None,
    reason: str | None = None,
    by_hand: bool = False,
) -> str:
    word = DECISION_WORDS.get(decision, decision)
    if decision in {"yes", "edit"} and by_hand:
        word = "✅ Done" if decision == "yes" else "✏️ Edited, done"
    line = f"{word} by {user_mention(by)} on {when(at)}"
    if delivered_to:
        line += f" — posted to {delivered_to}"
    if reason:
        line += f" — reason: {escape(clip(reason, 500))}"
    return line


def mailto_link(to: str | None, subject: str, body: str) -> str:
    query = urllib.parse.urlencode(
        {"subject": subject, "body": body[:1500]}, quote_via=urllib.parse.quote
    )
    return f"mailto:{urllib.parse.quote(to or '', safe='@')}?{query}"


def email_ready_blocks(to: str | None, subject: str, body: str) -> list[dict[str, Any]]:
    """The email text ready to copy, and a link that opens it in the mail app."""
    link = mailto_link(to, subject, body)
    target = escape(to) if to else "the recipient"
    blocks = [
        section(
            f"*Ready to send to {target}* — subject: {escape(clip(subject, 200))}\n"
            f"```{clip(body, DRAFT_MAX)}```"
        )
    ]
    if len(link) <= 2900:
        blocks.append(section(f"<{link}|Open it in your mail app>"))
    return blocks


def resolution_question(
    case_id: int, position: int, account: str, asked: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    value = f"{case_id}:{position}"
    text = f"Is the risk at {account} resolved?"
    blocks = [
        section(
            f"*Is the risk at {escape(account)} resolved?*"
            + (f" {user_mention(asked)}" if asked else "")
        ),
        actions(
            button("Resolved — saved", ANSWER_SAVED, value, style="primary"),
            button(
                "Churned",
                ANSWER_CHURNED,
                value,
                style="danger",
                confirm=confirm_dialog(
                    "Mark as churned?", f"This closes case #{case_id} as churned.", "Churned"
                ),
            ),
            button("Not yet", ANSWER_NOT_YET, value),
            block_id=f"answer:{case_id}",
        ),
    ]
    return text, blocks


ANSWER_WORDS = {"saved": "🎉 Resolved — saved", "churned": "Churned", "not_yet": "Not yet"}


def resolution_answered(
    account: str, answer: str, by: str, at: dt.datetime, detail: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    line = f"{ANSWER_WORDS.get(answer, answer)} — {user_mention(by)} on {when(at)}"
    blocks = [section(f"*Is the risk at {escape(account)} resolved?*"), context(line)]
    if detail:
        blocks.append(context(detail))
    return f"Is the risk at {account} resolved? {ANSWER_WORDS.get(answer, answer)}", blocks


def close_or_extend(
    case_id: int, account: str, owner: str | None, playbooks: list[tuple[str, str]]
) -> tuple[str, list[dict[str, Any]]]:
    """Every step is done and the risk is open: close the case or add another playbook
    (`playbooks`: (key, name) of the team's active ones this case has not used)."""
    value = f"{case_id}:awaiting_close"
    elements: list[dict[str, Any]] = [
        button("Resolved — saved", CASE_RESOLVE, value, style="primary"),
        button("Churned", CASE_CHURN, value, style="danger"),
    ]
    if playbooks:
        elements.append(
            {
                "type": "static_select",
                "action_id": CASE_EXTEND,
                "placeholder": plain("Extend with a playbook…", 150),
                "options": [option(name, f"{case_id}:{key}") for key, name in playbooks[:100]],
            }
        )
    text = f"Every step for {account} is done but the risk is still open."
    blocks = [
        section(
            f"{user_mention(owner, 'Owner')}: every step of case #{case_id} "
            f"(*{escape(account)}*) is done and the risk is still open. "
            "Close the case, or extend it with another playbook."
        ),
        actions(*elements, block_id=f"close:{case_id}"),
    ]
    return text, blocks


def extended(
    case_id: int, account: str, playbook: str, by: str, first: int, last: int, due: dt.datetime
) -> tuple[str, list[dict[str, Any]]]:
    """The close-or-extend question, answered with another playbook."""
    text = f"Case #{case_id} ({account}) extended with {playbook}"
    blocks = [
        section(
            f"*Case #{case_id}* (*{escape(account)}*) extended with *{escape(playbook)}* "
            f"by {user_mention(by)}: steps {first}–{last} added."
        ),
        context(f"Step {first} is scheduled for {when(due)}."),
    ]
    return text, blocks


def escalation(
    v: StepView, waited_hours: float, manager: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """Told to the case owner and their manager: a step has waited too long."""
    who = user_mention(v.assignee, "its assignee")
    text = f"Step {v.position} for {v.account} has waited {waited_hours:g} working hours for {who}"
    people = user_mention(v.owner, "Owner") + (f" and {user_mention(manager)}" if manager else "")
    blocks = [
        header(f"Waiting: step {v.position} for {v.account}"),
        section(
            f"{people}: step {v.position} of case #{v.case_id} (*{escape(v.summary)}*) has "
            f"waited {waited_hours:g} working hours for a decision from {who}."
        ),
        section(f"*Why this case:* {escape(clip(v.why, 600))}"),
        actions(
            {
                "type": "users_select",
                "action_id": REASSIGN,
                "placeholder": plain("Reassign to…", 150),
            },
            block_id=f"reassign:{v.step_id}:{v.status}",
        ),
    ]
    return text, blocks


STEP_MARKS = {
    "done": "✅",
    "skipped": "⏭️",
    "cancelled": "✖️",
    "awaiting": "⏳",
    "sending": "📤",
    "scheduled": "🕒",
    "claimed": "🕒",
}


def step_state(s: StepLine) -> str:
    """What happened to a step, or what it waits for, in a few words."""
    at = f" on {when(s.decided_at)}" if s.decided_at else ""
    if s.status == "done":
        verb = "edited and done" if s.decision == "edit" else "done"
        return f"{verb} by {user_mention(s.decided_by, 'someone')}{at}"
    if s.status == "skipped":
        reason = f" — {escape(clip(s.reason, 200))}" if s.reason else ""
        return f"skipped by {user_mention(s.decided_by, 'someone')}{at}{reason}"
    if s.status == "awaiting":
        return f"awaiting {user_mention(s.assignee, 'its owner')}"
    if s.status in {"scheduled", "claimed"}:
        due = f" for {when(s.due_at)}" if s.due_at else ""
        return f"{user_mention(s.assignee, 'unassigned')} · scheduled{due}"
    if s.status == "sending":
        return f"sending (decided by {user_mention(s.decided_by, 'someone')})"
    if s.status == "cancelled":
        return "not needed"
    return f"{user_mention(s.assignee, 'unassigned')} · {s.status}"


def _step_line(s: StepLine, current: int) -> str:
    mark = STEP_MARKS.get(s.status, "·")
    open_step = s.status not in {"done", "skipped", "cancelled"}
    here = " ← current" if s.position == current and open_step else ""
    title = escape(s.summary) if s.status != "cancelled" else f"~{escape(s.summary)}~"
    return (
        f"{mark} {s.position}. {title} · {MEDIUM_LABEL.get(s.medium, s.medium)}"
        f" · {step_state(s)}{here}"
    )


def _resolved_field(c: CaseCard) -> str:
    if c.resolved_at is None:
        return f"*Step:* {c.current_step} of {c.total_steps}"
    took = ""
    if c.opened_at is not None:
        hours = (c.resolved_at - c.opened_at).total_seconds() / 3600
        took = f" ({hours / 24:.1f} days)" if hours >= 48 else f" ({hours:.0f} h)"
    return f"*Resolved:* {when(c.resolved_at)}{took}"


def case_card(c: CaseCard, *, controls: bool = True) -> list[dict[str, Any]]:
    """The case status card for `/case 42`, with its controls while it is open."""
    status = c.status.replace("_", " ")
    if c.outcome in {"saved", "churned"}:
        status += f" ({c.outcome} at step {c.resolution_step or '—'} of {c.total_steps})"
    about = [f"Reported by {user_mention(c.reporter, 'the CLI')}"]
    if c.playbooks:
        about.append("Playbook " + " + ".join(f"`{p}`" for p in c.playbooks[:5]))
    blocks: list[dict[str, Any]] = [
        header(f"Case #{c.case_id}: {c.account}"),
        section(
            f"*Risk:* {escape(c.risk)}\n*Why:* {escape(clip(c.why, 800))}",
            fields=[
                f"*Status:* {status}",
                f"*Owner:* {user_mention(c.owner, '—')}",
                f"*Opened:* {when(c.opened_at)}",
                _resolved_field(c),
            ],
        ),
        context(*about),
        *([context(c.crm)] if c.crm else []),
        divider(),
        section("\n".join(_step_line(s, c.current_step) for s in c.steps[:30]) or "No steps."),
    ]
    if c.notes.strip():
        blocks.append(section(f"*Notes:*\n{notes_text(c.notes)}"))
    if controls and c.status in {"running", "paused", "awaiting_close"}:
        value = f"{c.case_id}:{c.status}"
        toggle = (
            button("Resume", CASE_RESUME, value)
            if c.status == "paused"
            else button("Pause", CASE_PAUSE, value)
        )
        steering = [toggle, button("Skip ahead", CASE_SKIP, value)]
        if c.status == "awaiting_close":  # every step is done: close it (or extend, from the DM)
            steering = []
        blocks.append(
            actions(
                *steering,
                button("Add a note", CASE_NOTE, value),
                button("Resolved — saved", CASE_RESOLVE, value, style="primary"),
                button(
                    "Churned",
                    CASE_CHURN,
                    value,
                    style="danger",
                    confirm=confirm_dialog(
                        "Mark as churned?", f"This closes case #{c.case_id} as churned.", "Churned"
                    ),
                ),
                block_id=f"controls:{c.case_id}",
            )
        )
        if steering:
            blocks.append(
                actions(
                    {
                        "type": "users_select",
                        "action_id": CASE_REASSIGN,
                        "placeholder": plain("Reassign the current step…", 150),
                    },
                    block_id=f"case_reassign:{c.case_id}:{c.status}",
                )
            )
    return limit_blocks(blocks)


_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")


def notes_text(notes: str, limit: int = 2500) -> str:
    """Case notes escaped as user text, except the `<@U…>` each line starts with."""
    return _ESCAPED_MENTION.sub(r"<@\1>", escape(clip(notes, limit)))


def case_list(cards: list[CaseCard]) -> list[dict[str, Any]]:
    if not cards:
        return [section("No open cases. :tada:")]
    lines = [
        f"*#{c.case_id}* {escape(c.account)} · {escape(c.risk)} · "
        f"{c.status.replace('_', ' ')} · step {c.current_step}/{c.total_steps} · "
        f"{user_mention(c.owner, '—')}"
        for c in cards[:40]
    ]
    return [
        header("Open cases"),
        section("\n".join(lines)),
        context("`/case 42` shows one case with its controls."),
    ]


def _modal(
    callback_id: str, title: str, submit: str, metadata: str, blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "submit": plain(submit, 24),
        "close": plain("Cancel", 24),
        "private_metadata": metadata[:3000],
        "blocks": blocks,
    }


def edit_modal(v: StepView) -> dict[str, Any]:
    """The draft (and recipient) editable; submitting sends the edited text."""
    draft = {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": True,
        "max_length": 3000,
        "initial_value": clip(v.draft, 3000),
    }
    blocks = [
        section(f"*Step {v.position}:* {escape(v.summary)}"),
        input_block("draft", "Message", draft),
    ]
    if v.medium == "slack":
        recipient: dict[str, Any] = {
            "type": "conversations_select",
            "action_id": "to",
            "placeholder": plain("Post to…", 150),
        }
        if v.recipient_ref and v.recipient_ref[:1] in {"C", "G", "U", "W"}:
            recipient["initial_conversation"] = v.recipient_ref
        blocks.append(input_block("recipient", "Send to", recipient, optional=True))
    elif v.medium == "email":
        recipient = {"type": "email_text_input", "action_id": "to"}
        if v.recipient_ref and "@" in v.recipient_ref:
            recipient["initial_value"] = v.recipient_ref
        blocks.append(input_block("recipient", "Email to", recipient, optional=True))
    else:
        recipient = {"type": "plain_text_input", "action_id": "to", "max_length": 200}
        if v.recipient:
            recipient["initial_value"] = clip(v.recipient, 200)
        blocks.append(input_block("recipient", "With", recipient, optional=True))
    verb = "Send" if v.medium == "slack" else "Save and done"
    return _modal(EDIT_VIEW, f"Edit step {v.position}", verb, f"{v.step_id}:{v.status}", blocks)


def no_modal(v: StepView) -> dict[str, Any]:
    reason = {
        "type": "plain_text_input",
        "action_id": "reason",
        "multiline": True,
        "max_length": 1000,
    }
    blocks = [
        section(f"Skip step {v.position} for *{escape(v.account)}*: {escape(v.summary)}?"),
        input_block("reason", "Why (optional)", reason, optional=True),
    ]
    return _modal(NO_VIEW, f"Skip step {v.position}", "Skip it", f"{v.step_id}:{v.status}", blocks)


def note_modal(case_id: int, account: str) -> dict[str, Any]:
    note = {"type": "plain_text_input", "action_id": "note", "multiline": True, "max_length": 2000}
    return _modal(
        NOTE_VIEW,
        f"Note on case #{case_id}",
        "Add note",
        str(case_id),
        [
            section(f"Add a note to the case for *{escape(account)}*."),
            input_block("note", "Note", note),
        ],
    )


def notice(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": mrkdwn(text)}]
