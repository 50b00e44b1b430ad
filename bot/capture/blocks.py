"""Pure Block Kit for commitment capture: the "Reading…" note, the review thread, the Edit
modal, failure answers and the `/commitments` list.

A review is split into several thread messages when it is long (Slack allows 50 blocks per
message): part k always holds commitments k*PER_MESSAGE … in id order, so any part can be
rebuilt from the database after a click. Every control of one commitment lives in one
actions block whose block_id carries the commitment id and the state the reviewer saw.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from bot.slack import payload
from bot.slack.blocks.common import (
    actions,
    button,
    clip,
    context,
    divider,
    escape,
    header,
    limit_blocks,
    option,
    plain,
    section,
)

PER_MESSAGE = 10
TENTATIVE_BELOW = 0.5  # the engines' confidence under which a promise was hedged
ITEM_BLOCK = "ftcap"  # ftcap:<commitment id>:<state>
ACCOUNT_BLOCK = "ftcapacct"  # ftcapacct:<transcript id>
A_CONFIRM = "cap_confirm"
A_EDIT = "cap_edit"
A_DISMISS = "cap_dismiss"
A_DONE = "cap_done"
A_OWNER = "cap_owner"
A_CONFIRM_ALL = "cap_confirm_all"
A_ACCOUNT = "account_select"  # shared external select; its options handler already exists
ITEM_ACTIONS = (A_CONFIRM, A_EDIT, A_DISMISS, A_DONE, A_OWNER)
EDIT_CALLBACK = "cap_edit_modal"

CATEGORY_LABELS = {
    "integration": "Integration or configuration",
    "milestone": "Success milestone",
    "risk": "Risk acknowledgement",
    "renewal": "Renewal prerequisite",
    "follow_up": "Send a resource or follow up",
    "other": "Other",
}


@dataclass(frozen=True)
class ReviewItem:
    """One proposed (or decided) commitment, as the review shows it."""

    id: int
    number: int
    text: str
    status: str
    owner_user_id: str | None = None
    owner_name: str | None = None
    side: str = "unknown"
    due: dt.date | None = None
    due_phrase: str | None = None
    category: str = "other"
    evidence: str | None = None
    confidence: float = 0.5
    last_action: str | None = None  # confirm | dismiss | done | reopen | edited
    last_actor: str | None = None
    edited_by: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.id}:{self.status}"

    @property
    def tentative(self) -> bool:
        """Proposed with low confidence: a hedged promise ("I'll try…, no promises")."""
        return self.status == "proposed" and self.confidence < TENTATIVE_BELOW

    @property
    def needs_owner(self) -> bool:
        return self.owner_user_id is None and self.side != "customer"


@dataclass(frozen=True)
class Review:
    transcript_id: int
    filename: str
    call_date: dt.date | None
    account_id: int | None = None
    account_name: str | None = None
    engine: str | None = None
    fallback_reason: str | None = None
    speakers: tuple[str, ...] = ()
    word_count: int = 0
    skipped_cues: int = 0
    uploader: str | None = None
    items: tuple[ReviewItem, ...] = field(default_factory=tuple)

    def parts(self) -> list[tuple[ReviewItem, ...]]:
        chunks = [self.items[i : i + PER_MESSAGE] for i in range(0, len(self.items), PER_MESSAGE)]
        return chunks or [()]


def parse_item_ref(block_id: str | None, value: str | None = None) -> tuple[int, str] | None:
    """(commitment id, expected state) from a control's button value or block_id."""
    for raw in (value, (block_id or "").removeprefix(f"{ITEM_BLOCK}:")):
        try:
            ident, state = payload.parse_ref(raw)
        except payload.BadInput:
            continue
        if state.isascii() and state.isalpha():
            return ident, state
    return None


def parse_transcript_ref(value: str | None) -> int | None:
    """The transcript id at the end of `ftcapacct:42` (or a bare `42`)."""
    try:
        return payload.parse_id((value or "").rsplit(":", 1)[-1])
    except payload.BadInput:
        return None


# --- small answers -------------------------------------------------------------------------


def reading_text(filename: str) -> str:
    return f":hourglass_flowing_sand: Reading {filename or 'your file'}…"


def failure_message(filename: str, reason: str) -> tuple[str, list[dict[str, Any]]]:
    text = f"I couldn't read {filename or 'this file'}: {reason}"
    blocks = [
        section(
            f":warning: *I couldn't read {escape(filename or 'this file')}.*\n{escape(reason)}"
        ),
        context("The file is kept as you uploaded it; nothing was tracked from it."),
    ]
    return text, blocks


def duplicate_message(
    filename: str,
    earlier_name: str,
    when: dt.date,
    link: str | None,
    earlier_error: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    where = f" — <{link}|here is that review>" if link else ""
    if earlier_error:
        text = (
            f":repeat: I already tried {escape(earlier_name)} on {when:%b} {when.day} and "
            f"couldn't read it then either: {escape(earlier_error)}"
        )
    else:
        text = (
            f":repeat: I already read this file ({escape(earlier_name)}) on "
            f"{when:%a %b} {when.day}{where}. Nothing new was added."
        )
    return (f"{filename}: already read on {when.isoformat()}", [section(text)])


def no_file_text() -> str:
    return (
        "That message has no file attached. Use *Extract commitments* on the message "
        "that carries the transcript (.vtt, .srt, .txt, .json or .docx)."
    )


# --- the review --------------------------------------------------------------------------


def _due_text(item: ReviewItem) -> str:
    if item.due is None and not item.due_phrase:
        return ":calendar: no due date"
    if item.due is None:
        return f":calendar: _{escape(item.due_phrase)}_ (no date found)"
    when = f"{item.due:%a %b} {item.due.day}"
    if item.due_phrase:
        return f":calendar: {when} (_{escape(clip(item.due_phrase, 80))}_)"
    return f":calendar: {when}"


def _owner_text(item: ReviewItem) -> str:
    if item.owner_user_id:
        return f":bust_in_silhouette: <@{item.owner_user_id}>"
    name = escape(item.owner_name) if item.owner_name else "someone"
    if item.side == "customer":
        return f":bust_in_silhouette: {name} (customer)"
    return f":bust_in_silhouette: {name}? — pick the owner below"


def _status_note(item: ReviewItem) -> str | None:
    who = f"<@{item.last_actor}>" if item.last_actor else "someone"
    notes = {
        "open": f":white_check_mark: Confirmed by {who} — tracked until done",
        "done": f":ballot_box_with_check: Done — marked by {who}",
        "dismissed": f":x: Dismissed by {who}",
    }
    note = notes.get(item.status)
    if item.edited_by:
        edited = f":pencil2: Edited by <@{item.edited_by}>"
        note = f"{note} · {edited}" if note else edited
    return note


def item_blocks(item: ReviewItem) -> list[dict[str, Any]]:
    title = escape(clip(item.text, 500))
    if item.status == "dismissed":
        title = f"~{title}~"
    category = CATEGORY_LABELS.get(item.category, item.category)
    facts = [_owner_text(item), _due_text(item), category]
    if item.tentative:
        facts.append(":grey_question: _tentative: said with reservations_")
    lines = [f"*{item.number}.* {title}", " · ".join(facts)]
    blocks: list[dict[str, Any]] = [section("\n".join(lines))]
    quote = clip(item.evidence or "", 600)
    said_by = bool(item.owner_name) and f"{item.owner_name}:" in (item.evidence or "")
    speaker = f" — {escape(item.owner_name)}" if item.owner_name and not said_by else ""
    notes = [f"“{escape(quote)}”{speaker}" if item.evidence else ""]
    status = _status_note(item)
    if status:
        notes.append(status)
    blocks.append(context(*[n for n in notes if n]))
    controls: list[dict[str, Any]] = []
    if item.status == "proposed":
        controls = [
            button("Confirm", A_CONFIRM, item.ref, style="primary"),
            button("Edit", A_EDIT, item.ref),
            button("Dismiss", A_DISMISS, item.ref, style="danger"),
        ]
    elif item.status == "open":
        controls = [
            button("Done", A_DONE, item.ref, style="primary"),
            button("Edit", A_EDIT, item.ref),
        ]
    if item.needs_owner and item.status in {"proposed", "open"}:
        controls.append(
            {"type": "users_select", "action_id": A_OWNER, "placeholder": plain("Who owns this?")}
        )
    if controls:
        blocks.append(actions(*controls, block_id=f"{ITEM_BLOCK}:{item.ref}"))
    return blocks


def _counts(items: tuple[ReviewItem, ...]) -> str:
    by: dict[str, int] = {}
    for i in items:
        by[i.status] = by.get(i.status, 0) + 1
    names = (
        ("proposed", "to review"),
        ("open", "confirmed"),
        ("done", "done"),
        ("dismissed", "dismissed"),
    )
    return " · ".join(f"{by[k]} {label}" for k, label in names if by.get(k))


def _account_picker(review: Review) -> dict[str, Any]:
    picker: dict[str, Any] = {
        "type": "external_select",
        "action_id": A_ACCOUNT,
        "min_query_length": 0,
        "placeholder": plain("Which account?"),
    }
    if review.account_id and review.account_name:
        picker["initial_option"] = option(review.account_name, str(review.account_id))
    return picker


def head_blocks(review: Review) -> list[dict[str, Any]]:
    when = f"call on {review.call_date:%a %b} {review.call_date.day}" if review.call_date else ""
    facts = [
        f
        for f in (
            when,
            f"{len(review.speakers)} speakers" if review.speakers else "",
            f"{review.word_count:,} words" if review.word_count else "",
        )
        if f
    ]
    account = (
        f"*{escape(review.account_name)}*"
        if review.account_name
        else "_no account guessed — pick one_"
    )
    blocks: list[dict[str, Any]] = [
        header(f"Commitments from {review.filename}"),
        section(
            f"{len(review.items)} commitment(s) found for {account}"
            + (f" · {' · '.join(facts)}" if facts else "")
            + ("\n" + _counts(review.items) if review.items else "")
        ),
    ]
    notes = []
    if review.fallback_reason:
        notes.append(
            f":warning: The LLM step failed ({escape(clip(review.fallback_reason, 300))}),"
            " so these are the offline rules engine's proposals. Check them closely."
        )
    if review.skipped_cues:
        notes.append(
            f":warning: {review.skipped_cues} caption(s) had broken timestamps and were skipped."
        )
    if notes:
        blocks.append(context(*notes))
    controls: list[dict[str, Any]] = [_account_picker(review)]
    pending = sum(1 for i in review.items if i.status == "proposed")
    if pending:
        controls.append(
            button(
                f"Confirm all ({pending})",
                A_CONFIRM_ALL,
                str(review.transcript_id),
                style="primary",
            )
        )
    blocks.append(actions(*controls, block_id=f"{ACCOUNT_BLOCK}:{review.transcript_id}"))
    return blocks


def review_part(review: Review, index: int) -> tuple[str, list[dict[str, Any]]]:
    """Thread message `index` of the review (0 carries the header and Confirm all)."""
    parts = review.parts()
    chunk = parts[index]
    blocks: list[dict[str, Any]] = []
    if index == 0:
        blocks += head_blocks(review)
    else:
        blocks.append(
            context(f"Commitments from {escape(review.filename)}, part {index + 1} of {len(parts)}")
        )
    for item in chunk:
        blocks.append(divider())
        blocks += item_blocks(item)
    text = (
        f"{len(review.items)} commitments proposed from {review.filename}"
        if index == 0
        else f"More commitments from {review.filename}"
    )
    return text, limit_blocks(blocks)


def review_messages(review: Review) -> list[tuple[str, list[dict[str, Any]]]]:
    if not review.items:
        return [nothing_found(review)]
    return [review_part(review, i) for i in range(len(review.parts()))]


def part_of(review: Review, commitment_id: int) -> int | None:
    for index, chunk in enumerate(review.parts()):
        if any(i.id == commitment_id for i in chunk):
            return index
    return None


def nothing_found(review: Review) -> tuple[str, list[dict[str, Any]]]:
    text = f"No commitments found in {review.filename}"
    blocks = [
        section(
            f":mag: *No commitments found in {escape(review.filename)}.*\n"
            f"I read {review.word_count:,} words from {len(review.speakers)} speaker(s) and nobody "
            'promised anything with an owner ("I\'ll…", "we will… by…"). Nothing was tracked.'
        )
    ]
    if review.fallback_reason:
        blocks.append(
            context(
                f":warning: The LLM step failed "
                f"({escape(clip(review.fallback_reason, 300))}); the offline "
                "rules engine read the call instead."
            )
        )
    return text, blocks


# --- the Edit modal ------------------------------------------------------------------------


def edit_modal(item: ReviewItem, channel: str | None, ts: str | None) -> dict[str, Any]:
    meta = json.dumps({"c": item.id, "ch": channel, "ts": ts})
    category_options = [option(label, key) for key, label in CATEGORY_LABELS.items()]
    owner: dict[str, Any] = {
        "type": "users_select",
        "action_id": "owner",
        "placeholder": plain("Who owns this?"),
    }
    if item.owner_user_id:
        owner["initial_user"] = item.owner_user_id
    due: dict[str, Any] = {
        "type": "datepicker",
        "action_id": "due",
        "placeholder": plain("No due date"),
    }
    if item.due:
        due["initial_date"] = item.due.isoformat()
    category = {
        "type": "static_select",
        "action_id": "category",
        "options": category_options,
        "initial_option": option(
            CATEGORY_LABELS.get(item.category, "Other"),
            item.category if item.category in CATEGORY_LABELS else "other",
        ),
    }
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": meta,
        "title": plain("Edit commitment", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {
                "type": "input",
                "block_id": "text",
                "label": plain("What is promised"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "max_length": 500,
                    "initial_value": clip(item.text, 500),
                },
            },
            {
                "type": "input",
                "block_id": "owner",
                "optional": True,
                "label": plain("Owner"),
                "element": owner,
            },
            {
                "type": "input",
                "block_id": "due",
                "optional": True,
                "label": plain("Due date"),
                "element": due,
            },
            {
                "type": "input",
                "block_id": "category",
                "label": plain("Category"),
                "element": category,
            },
            context(f"“{escape(clip(item.evidence or '', 500))}”")
            if item.evidence
            else context("No quote."),
        ],
    }


# --- /commitments --------------------------------------------------------------------------


def list_message(
    title: str, item_blocks_list: list[list[dict[str, Any]]], total: int, empty: str
) -> tuple[str, list[dict[str, Any]]]:
    """`/commitments`: a title (mrkdwn, already escaped), then each open item's blocks."""
    if not total:
        return empty, [section(empty)]
    blocks: list[dict[str, Any]] = [section(f"*{title}* — {total} open")]
    shown = 0
    for blocks_of_item in item_blocks_list:
        if len(blocks) + len(blocks_of_item) > 48:
            break
        blocks += blocks_of_item
        shown += 1
    if shown < total:
        blocks.append(
            context(f"…and {total - shown} more. Your daily digest and the Home tab list them all.")
        )
    return f"{title}: {total} open", blocks
