"""Block Kit for cases, as pure functions: the /report-risk modal, the case card with its
plan-edit controls, and the small modals those controls open.

Every text is clipped to Slack's limits and user text is escaped, so a 7-step plan with
long drafts and a 10,000-character context still fits one message (≤ 50 blocks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.models import Case, CaseStatus, CaseStep, StepStatus
from bot.playbooks.durations import format_delay
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
    option,
    plain,
    section,
    user_mention,
)

# action / callback ids (the listener registers these)
REPORT_CALLBACK = "report_risk_modal"
ACCOUNT_BLOCK, ACCOUNT_ACTION = "account", "account_select"
RISK_BLOCK, RISK_ACTION = "risk", "risk_select"
CONTEXT_BLOCK, CONTEXT_ACTION = "context", "context_input"
LINKS_BLOCK, LINKS_ACTION = "links", "links_input"
TRANSCRIPT_BLOCK, TRANSCRIPT_ACTION = "transcript", "transcript_file"
TRANSCRIPT_FILETYPES = ["vtt", "srt", "txt", "json", "docx"]
STEP_MENU = "case_step_menu"
START_ACTION = "case_start"
EDIT_DRAFT_CALLBACK = "case_edit_draft"
EDIT_DELAY_CALLBACK = "case_edit_delay"
REASSIGN_CALLBACK = "case_reassign"
VALUE_BLOCK, VALUE_ACTION = "value", "value_input"

CONTEXT_INPUT_MAX = 3000  # Slack's plain_text_input limit; the CLI accepts up to 10,000
CARD_CONTEXT_CHARS = 700
CARD_DRAFT_CHARS = 1200
MEDIUM_LABEL = {
    "slack": "Slack",
    "email": "email",
    "call": "call",
    "meeting": "meeting",
    "internal": "internal task",
}


# --- the /report-risk modal ------------------------------------------------------------


def report_modal(
    risks: Sequence[tuple[str, str]],
    *,
    account: tuple[int, str] | None = None,
    risk_key: str | None = None,
    channel_id: str | None = None,
) -> dict[str, Any]:
    """Account (searchable), risk type (the team's playbooks), what happened, links and a
    call transcript to attach (read like an upload; its lines feed the plan)."""
    account_el: dict[str, Any] = {
        "type": "external_select",
        "action_id": ACCOUNT_ACTION,
        "min_query_length": 0,
        "placeholder": plain("Search accounts"),
    }
    if account is not None:
        account_el["initial_option"] = option(account[1], str(account[0]))
    risk_options = [option(name, key) for key, name in risks][:100]
    risk_el: dict[str, Any] = {
        "type": "static_select",
        "action_id": RISK_ACTION,
        "placeholder": plain("What kind of risk?"),
        "options": risk_options or [option("No playbooks yet", "-")],
    }
    chosen = next((o for o in risk_options if o["value"] == risk_key), None)
    if chosen:
        risk_el["initial_option"] = chosen
    return {
        "type": "modal",
        "callback_id": REPORT_CALLBACK,
        "title": plain("Report a risk", 24),
        "submit": plain("Make a plan", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"channel": channel_id}),
        "blocks": [
            input_block(ACCOUNT_BLOCK, "Account", account_el),
            input_block(RISK_BLOCK, "Risk type", risk_el),
            input_block(
                CONTEXT_BLOCK,
                "What happened?",
                {
                    "type": "plain_text_input",
                    "action_id": CONTEXT_ACTION,
                    "multiline": True,
                    "max_length": CONTEXT_INPUT_MAX,
                    "placeholder": plain(
                        "e.g. Dana (our champion) left Acme last Friday; "
                        "her replacement starts next month."
                    ),
                },
            ),
            input_block(
                LINKS_BLOCK,
                "Links or call notes",
                {
                    "type": "plain_text_input",
                    "action_id": LINKS_ACTION,
                    "multiline": True,
                    "max_length": 2000,
                    "placeholder": plain("CRM record, call recording, ticket … (optional)"),
                },
                optional=True,
            ),
            input_block(
                TRANSCRIPT_BLOCK,
                "Call transcript",
                {
                    "type": "file_input",
                    "action_id": TRANSCRIPT_ACTION,
                    "filetypes": TRANSCRIPT_FILETYPES,
                    "max_files": 1,
                },
                optional=True,
                hint="Optional: a .vtt, .srt, .txt, .json or .docx transcript of "
                "the call where you heard it. Its commitments come to you for review.",
            ),
        ],
    }


def value_modal(
    callback_id: str,
    title: str,
    label: str,
    element: dict[str, Any],
    metadata: Mapping[str, Any],
    hint: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(dict(metadata))[:3000],
        "blocks": [input_block(VALUE_BLOCK, label, element, hint=hint)],
    }


def edit_draft_modal(case_id: int, step: CaseStep) -> dict[str, Any]:
    return value_modal(
        EDIT_DRAFT_CALLBACK,
        "Edit the draft",
        f"Step {step.position}: {step.summary}",
        {
            "type": "plain_text_input",
            "action_id": VALUE_ACTION,
            "multiline": True,
            "max_length": 3000,
            "initial_value": step.draft[:3000],
        },
        {"case": case_id, "position": step.position},
    )


def delay_modal(case_id: int, step: CaseStep) -> dict[str, Any]:
    current = format_delay_seconds(step.delay_seconds)
    return value_modal(
        EDIT_DELAY_CALLBACK,
        "Change the delay",
        f"Step {step.position}: wait before it",
        {
            "type": "plain_text_input",
            "action_id": VALUE_ACTION,
            "max_length": 20,
            "initial_value": current,
        },
        {"case": case_id, "position": step.position},
        hint="e.g. 0 (at once), 4h, 2d, 1w — counted from the step it follows",
    )


def reassign_modal(case_id: int, step: CaseStep) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "users_select",
        "action_id": VALUE_ACTION,
        "placeholder": plain("Pick a person"),
    }
    if step.assignee_user_id:
        element["initial_user"] = step.assignee_user_id
    return value_modal(
        REASSIGN_CALLBACK,
        "Reassign the step",
        f"Step {step.position}: who does it?",
        element,
        {"case": case_id, "position": step.position},
    )


# --- the case card ---------------------------------------------------------------------


def format_delay_seconds(seconds: int) -> str:
    from datetime import timedelta

    return format_delay(timedelta(seconds=max(0, seconds)))


def when_text(step: CaseStep, waits_for: int | None) -> str:
    delay = format_delay_seconds(step.delay_seconds)
    since = f"step {waits_for}" if waits_for else "the start"
    if delay == "0":
        return f"right after {since}" if waits_for else "at the start"
    return f"{delay} after {since}"


def _plan_meta(case: Case) -> dict[int, Mapping[str, Any]]:
    plan = (case.gathered or {}).get("plan") or []
    return {int(p.get("position", 0)): p for p in plan if isinstance(p, Mapping)}


def step_flags(step: CaseStep, meta: Mapping[str, Any]) -> list[str]:
    """What a reader must know before trusting this step as planned."""
    flags = []
    if step.assignee_fallback:
        flags.append(
            f":warning: No {step.assignee_role.replace('_', ' ')} on record for this "
            "account, so the reporter is assigned; reassign if someone else should."
        )
    drafted_for = meta.get("drafted_for")
    if (
        drafted_for
        and step.assignee_user_id
        and drafted_for != step.assignee_user_id
        and step.status == StepStatus.PLANNED
    ):
        flags.append(
            f":warning: Draft written for {user_mention(str(drafted_for))}; check the wording."
        )
    if meta.get("recipient_known") is False:
        flags.append(
            f":warning: Recipient unknown ({escape(step.recipient_label)}); add the "
            "contact or edit the draft before this step."
        )
    if meta.get("fallback_reason"):
        flags.append(
            ":information_source: Template draft (the LLM draft was not usable: "
            f"{escape(clip(str(meta['fallback_reason']), 200))})."
        )
    missing = [m for m in meta.get("missing") or [] if m]
    if missing:
        flags.append(
            ":information_source: Not on record: "
            + ", ".join(m.replace("_", " ").replace(".", " ") for m in missing[:6])
        )
    return flags


def recipient_text(step: CaseStep) -> str:
    """A colleague as a mention, anyone else (contact, channel, email) as escaped text."""
    internal = step.recipient_spec.startswith(("internal:", "person:"))
    ref = step.recipient_ref or ""
    if internal and ref[:1] in {"U", "W"} and "@" not in ref:
        return f"<@{ref}>"
    return escape(step.recipient_label) or escape(step.recipient_spec)


def step_text(step: CaseStep, meta: Mapping[str, Any]) -> str:
    """One step, readable: who, to whom, when, via what, and the draft."""
    dropped = step.status in (StepStatus.CANCELLED, StepStatus.SKIPPED)
    title = f"*{step.position}. {escape(step.summary)}*"
    if dropped:
        title = f"~{step.position}. {escape(step.summary)}~ _({step.status})_"
    who = user_mention(step.assignee_user_id, "_unassigned_")
    lines = [title]
    facts = [f"*Who:* {who}"]
    if step.recipient_spec:
        facts.append(f"*To:* {recipient_text(step)}")
    facts.append(f"*When:* {when_text(step, meta.get('waits_for'))}")
    facts.append(f"*Via:* {MEDIUM_LABEL.get(step.medium, step.medium)}")
    lines.append(" · ".join(facts))
    if dropped:
        return "\n".join(lines)
    lines += step_flags(step, meta)
    head = "\n".join(lines)
    subject = meta.get("subject")
    if subject:
        head += f"\n*Subject:* {escape(clip(str(subject), 150))}"
    budget = min(CARD_DRAFT_CHARS, 2900 - len(head))
    draft = step.draft or ""
    shown = clip(draft, budget) if len(draft) > budget else draft
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in escape(shown).splitlines())
    return clip(f"{head}\n{quoted}", 3000)


def plan_card(
    case: Case,
    steps: Sequence[CaseStep],
    *,
    account_name: str,
    playbook_name: str,
    editable: bool | None = None,
) -> list[dict[str, Any]]:
    """The case: what, why, and the plan step by step; edit controls while it is planned."""
    if editable is None:
        editable = case.status == CaseStatus.PLANNED
    meta = _plan_meta(case)
    why = case.context or ""
    why_shown = clip(why, CARD_CONTEXT_CHARS)
    note = (
        f"\n_(first {CARD_CONTEXT_CHARS:,} of {len(why):,} characters shown)_"
        if len(why) > CARD_CONTEXT_CHARS
        else ""
    )
    gathered = case.gathered or {}
    live = [s for s in steps if s.status not in (StepStatus.CANCELLED, StepStatus.SKIPPED)]
    blocks: list[dict[str, Any]] = [
        header(f"Risk: {playbook_name} · {account_name}"),
        section(f"*Why:* {escape(why_shown)}{note}"),
        context(
            f"Reported by {user_mention(case.reporter_user_id, 'the CLI')}",
            f"Owner {user_mention(case.owner_user_id, '_none_')}",
            f"Playbook `{case.risk_key}` v{case.playbook_version}",
            f"Status *{case.status}* · {len(live)} of {len(steps)} steps",
        ),
    ]
    summary = _context_summary(gathered)
    if summary:
        blocks.append(context(summary))
    crm = crm_line(gathered.get("account") or {})
    if crm:
        blocks.append(context(crm))
    if case.links:
        blocks.append(section(f"*Links:* {escape(clip(case.links, 1000))}"))
    attached = attachment_note(gathered.get("attachment"), case.reporter_user_id)
    if attached:
        blocks.append(context(attached))
    blocks.append(divider())
    for step in steps:
        block = section(
            step_text(step, meta.get(step.position, {})), block_id=f"case_step_{step.position}"
        )
        if editable and step.status == StepStatus.PLANNED:
            block["accessory"] = step_menu(case.id or 0, step.position)
        blocks.append(block)
    if editable:
        blocks.append(divider())
        blocks.append(
            actions(
                button(
                    "Start plan",
                    START_ACTION,
                    f"{case.id}:{CaseStatus.PLANNED}",
                    "primary",
                    confirm=confirm_dialog(
                        "Start this plan?",
                        "Step 1 will be sent to its owner when it falls due. "
                        "The plan can no longer be changed here.",
                        "Start",
                    ),
                ),
                block_id="case_controls",
            )
        )
        blocks.append(
            context(
                "Change a step from its ⋯ menu before you start. The reporter, "
                "the case owner and CS admins can change or start the plan."
            )
        )
    return limit_blocks(blocks, 50)


def step_menu(case_id: int, position: int) -> dict[str, Any]:
    value = f"{case_id}:{position}"
    return {
        "type": "overflow",
        "action_id": STEP_MENU,
        "options": [
            option("Edit the draft", f"{value}:draft"),
            option("Change the delay", f"{value}:delay"),
            option("Reassign", f"{value}:reassign"),
            option("Drop this step", f"{value}:drop"),
        ],
    }


def attachment_note(attachment: Any, reporter: str | None) -> str | None:
    """What became of the transcript sent with the report, in a line."""
    if not isinstance(attachment, Mapping) or not attachment.get("status"):
        return None
    name = f"*{escape(clip(str(attachment.get('filename') or 'the transcript'), 150))}*"
    status = attachment["status"]
    where = user_mention(reporter, "the reporter")
    if status == "read":
        return (
            f":page_facing_up: Transcript {name} read: its relevant lines are in the "
            f"context of these drafts; its commitments went to {where} for review."
        )
    if status == "reading":
        return (
            f":hourglass_flowing_sand: Transcript {name} is still being read, so these "
            f"drafts do not quote it yet; its commitments will go to {where} for review."
        )
    reason = escape(clip(str(attachment.get("reason") or "it could not be read"), 300))
    return (
        f":warning: Transcript {name} could not be read ({reason}). The plan was made "
        "without it; attach a text transcript (.vtt, .txt, .docx) in a DM to read it."
    )


def crm_line(account: Mapping[str, Any], deleted_at: str | None = None) -> str:
    """The account's CRM record: a link, when the data was synced, a deletion flag."""
    label = account.get("crm")
    if not label:
        return ""
    parts = [f"<{account['crm_url']}|Open in {label}>" if account.get("crm_url") else label]
    if account.get("crm_synced_at"):
        parts.append(f"synced {str(account['crm_synced_at'])[:16].replace('T', ' ')} UTC")
    deleted = deleted_at or account.get("crm_deleted_at")
    if deleted:
        parts.append(f":warning: deleted in {label} on {deleted}; this case stays open here")
    return " · ".join(parts)


def _context_summary(gathered: Mapping[str, Any]) -> str:
    parts = []
    for key, label in (
        ("open_commitments", "open commitments"),
        ("overdue_commitments", "overdue"),
        ("previous_cases", "earlier cases"),
    ):
        count = len(gathered.get(key) or [])
        if count:
            parts.append(f"{count} {label}")
    excerpts = gathered.get("excerpts") or []
    if excerpts:
        parts.append(f"{len(excerpts)} recent call(s) quoted")
    contacts = gathered.get("contacts") or {}
    if not contacts:
        parts.append(":warning: no contacts on record")
    return ("Context used: " + ", ".join(parts)) if parts else ""


def card_text(case: Case, account_name: str, playbook_name: str) -> str:
    """Notification text for the card (what shows in a push or a screen reader)."""
    if case.status == CaseStatus.PLANNED:
        return clip(
            f"Risk reported: {playbook_name} at {account_name} — plan of "
            f"{case.total_steps} steps ({case.status})",
            3000,
        )
    if case.outcome in {"saved", "churned"}:
        state = (
            f"{'resolved — saved' if case.outcome == 'saved' else 'churned'} at step "
            f"{case.resolution_step or '—'} of {case.total_steps}"
        )
    else:
        state = f"{case.status.replace('_', ' ')}, step {case.current_step} of {case.total_steps}"
    return clip(f"Case #{case.id}: {playbook_name} at {account_name} — {state}", 3000)


def existing_case_text(case: Case, account_name: str, playbook_name: str) -> str:
    return (
        f"There is already an open *{escape(playbook_name)}* case for "
        f"*{escape(account_name)}* (reported by "
        f"{user_mention(case.reporter_user_id, 'someone')}, status {case.status}); "
        "here it is instead of a second one."
    )
