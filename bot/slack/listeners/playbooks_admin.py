"""/playbooks: list and view playbooks (anyone); new, edit step, reorder, retire (CS admins).

`/playbooks` · `/playbooks view KEY` · `/playbooks new` · `/playbooks edit KEY STEP_ID` ·
`/playbooks reorder KEY` · `/playbooks retire KEY`. Every change is a new version (running
cases keep theirs) and is validated like a file, with the problems shown in the modal.
The Block Kit builders below are pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.models import Playbook
from bot.playbooks import service as store
from bot.playbooks.parse import PlaybookError
from bot.playbooks.schema import AssigneeRole, Medium
from bot.slack.blocks.common import (
    clip,
    context,
    divider,
    escape,
    header,
    input_block,
    limit_blocks,
    option,
    plain,
    section,
)
from bot.slack.listeners.base import Call, Routes
from bot.slack.payload import BadInput, View, clean_text

NEW_CALLBACK, EDIT_CALLBACK, REORDER_CALLBACK = "playbook_new", "playbook_edit", "playbook_reorder"
YAML_BLOCK = "yaml"
ORDER_BLOCK = "order"
STEP_FIELDS = ("summary", "assignee", "recipient", "delay", "medium", "subject", "message")
USAGE = (
    "`/playbooks` lists playbooks · `/playbooks view KEY` · `/playbooks new` · "
    "`/playbooks edit KEY STEP_ID` · `/playbooks reorder KEY` · `/playbooks retire KEY`"
)
NOT_ADMIN = (
    "Only CS admins can change playbooks (ask one of them, or an admin can add you "
    "to CS_ADMINS). `/playbooks` and `/playbooks view KEY` work for everyone."
)
YAML_EXAMPLE = """key: churn_signal
name: Churn signal
summary: The customer mentioned evaluating a competitor.
steps:
  - id: call_champion
    summary: CSM calls the champion
    assignee: csm
    recipient: contact:champion
    delay: 0
    medium: call
    message: |
      Talking points for {account.name}: {context}
"""


# --- pure builders -----------------------------------------------------------------------


def list_blocks(rows: Sequence[Playbook]) -> list[dict[str, Any]]:
    lines = [
        f"• `{r.key}` v{r.version} — *{escape(r.name)}* "
        f"({len(r.definition.get('steps', []))} steps)"
        for r in rows
    ]
    return [
        header("Playbooks"),
        section("\n".join(lines) if lines else "No active playbooks."),
        context(USAGE),
    ]


def view_blocks(row: Playbook) -> list[dict[str, Any]]:
    steps = row.definition.get("steps", [])
    blocks: list[dict[str, Any]] = [
        header(f"{row.name} (v{row.version})"),
        section(escape(clip(row.summary, 2900))),
        context(
            f"`{row.key}` · {len(steps)} steps · source {row.source}"
            + (" · retired" if row.retired else "")
        ),
        divider(),
    ]
    for index, step in enumerate(steps, start=1):
        to = f" → `{step.get('recipient')}`" if step.get("recipient") else ""
        after = f" after `{step['after']}`" if step.get("after") else ""
        text = (
            f"*{index}. {escape(step.get('summary', ''))}* (`{step.get('id')}`)\n"
            f"`{step.get('assignee')}`{to} · {step.get('medium')} · wait "
            f"{step.get('delay')}{after}\n>"
            + escape(clip(step.get("message", ""), 600)).replace("\n", "\n>")
        )
        blocks.append(section(clip(text, 3000)))
    return limit_blocks(blocks, 50)


def _text_el(
    value: str | None = None, *, multiline: bool = False, max_length: int = 3000
) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": max_length,
    }
    if value:
        el["initial_value"] = value[:max_length]
    return el


def new_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": NEW_CALLBACK,
        "title": plain("New playbook", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            section(
                "Paste the playbook as YAML (the same format as the files in "
                "`prompts/playbooks/`). A key that exists becomes its next version."
            ),
            input_block(
                YAML_BLOCK,
                "Playbook YAML",
                {**_text_el(multiline=True), "placeholder": plain("key: churn_signal …")},
                hint="Longer playbooks: use `followthrough playbooks load DIR`.",
            ),
            context("Example:\n```" + YAML_EXAMPLE + "```"),
        ],
    }


def edit_modal(row: Playbook, step: dict[str, Any]) -> dict[str, Any]:
    medium = {
        "type": "static_select",
        "action_id": "value",
        "options": [option(m.value, m.value) for m in Medium],
        "initial_option": option(str(step.get("medium")), str(step.get("medium"))),
    }
    assignee_hint = ", ".join(r.value for r in AssigneeRole) + " or person:<email>"
    blocks = [
        context(
            f"`{row.key}` v{row.version} · step `{step['id']}` — saving makes v{row.version + 1}"
        ),
        input_block("summary", "Summary", _text_el(step.get("summary"), max_length=200)),
        input_block(
            "assignee",
            "Assignee",
            _text_el(str(step.get("assignee")), max_length=120),
            hint=assignee_hint,
        ),
        input_block(
            "recipient",
            "Recipient",
            _text_el(step.get("recipient"), max_length=120),
            optional=True,
            hint="contact:champion, internal:cs_manager, channel:#name or "
            "person:<email>; empty only for internal tasks",
        ),
        input_block(
            "delay",
            "Delay",
            _text_el(str(step.get("delay")), max_length=20),
            hint="0, 4h, 2d, 1w — after the step it follows",
        ),
        input_block("medium", "Medium", medium),
        input_block(
            "subject", "Email subject", _text_el(step.get("subject"), max_length=150), optional=True
        ),
        input_block(
            "message",
            "Message template",
            _text_el(step.get("message"), multiline=True),
            hint="Placeholders such as {account.name}, {recipient.first_name}, {context}",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "title": plain("Edit step", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"key": row.key, "step": step["id"]}),
        "blocks": blocks,
    }


def reorder_modal(row: Playbook) -> dict[str, Any]:
    ids = [s["id"] for s in row.definition.get("steps", [])]
    return {
        "type": "modal",
        "callback_id": REORDER_CALLBACK,
        "title": plain("Reorder steps", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"key": row.key}),
        "blocks": [
            input_block(
                ORDER_BLOCK,
                "Step ids in their new order",
                _text_el(", ".join(ids), max_length=2000),
                hint="Comma-separated; every step exactly once.",
            )
        ],
    }


def problems_text(error: PlaybookError, limit: int = 6) -> str:
    """Line-precise problems for the modal (errors first, a few at most)."""
    problems = sorted(error.problems, key=lambda p: (not p.is_error, p.line))
    lines = [f"line {p.line}, col {p.column}: {p.message}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"…and {len(problems) - limit} more")
    return clip("\n".join(lines), 1900)


# --- listeners ---------------------------------------------------------------------------

routes = Routes(store.PlaybookStoreError)


def _admin(call: Call) -> bool:
    return store.may_change(call.rt.engine, call.team_id, call.user_id, call.rt.settings.cs_admins)


def _say(call: Call, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    if call.respond is not None:
        call.respond(text=text, blocks=blocks, response_type="ephemeral")


@routes.command("/playbooks")
def on_playbooks_command(call: Call) -> None:
    call.ack()
    engine, team_id = call.rt.engine, call.team_id
    verb, *args = call.interaction.text.split() or ["list"]
    verb = verb.lower()
    store.ensure_seeded_once(engine, team_id)
    if verb in {"list", "ls"}:
        _say(call, "Playbooks", list_blocks(store.list_active(engine, team_id)))
        return
    if verb not in {"view", "new", "edit", "reorder", "retire"}:
        _say(call, f"I don't know `{escape(clip(verb, 40))}`. {USAGE}")
        return
    if verb != "view" and not _admin(call):
        _say(call, NOT_ADMIN)
        return
    if verb == "new":
        call.open_view(new_modal())
        return
    if not args:
        _say(call, f"Which playbook? {USAGE}")
        return
    key = clip(args[0], 40)
    row = store.find_active(
        engine, team_id, key, retire_it_as=call.user_id if verb == "retire" else None
    )
    if row is None:
        _say(call, f"No active playbook `{escape(key)}`; `/playbooks` lists them.")
    else:
        _on_playbook(call, verb, row, args[1:])


def _on_playbook(call: Call, verb: str, row: Playbook, args: list[str]) -> None:
    """`view`, `retire` (done by then), `reorder` or `edit` on the playbook found."""
    if verb == "view":
        _say(call, row.name, view_blocks(row))
    elif verb == "retire":
        _say(
            call,
            f"Retired `{row.key}`: it is no longer offered in /report-risk; open "
            "cases keep their steps.",
        )
    elif verb == "reorder":
        call.open_view(reorder_modal(row))
    else:
        steps = {s["id"]: s for s in row.definition.get("steps", [])}
        step = steps.get(args[0]) if args else None
        if step is None:
            _say(
                call,
                f"Name the step: `/playbooks edit {row.key} STEP_ID` with one of "
                + ", ".join(f"`{i}`" for i in steps),
            )
            return
        call.open_view(edit_modal(row, step))


@routes.view(NEW_CALLBACK, error_block=YAML_BLOCK)
def on_new_submitted(call: Call) -> None:
    if not _admin(call):
        raise BadInput(NOT_ADMIN, block_id=YAML_BLOCK)
    text = call.view.text(YAML_BLOCK, 20_000)
    try:
        row, loaded = store.save_yaml_text(call.rt.engine, call.team_id, text, call.user_id)
    except PlaybookError as exc:
        call.ack(response_action="errors", errors={YAML_BLOCK: problems_text(exc)})
        return
    outcome = loaded.outcome.replace("_", " ")
    call.ack(response_action="update", view=_done(f"Saved `{row.key}` v{row.version} ({outcome})."))


def _target(view: View) -> tuple[str, str]:
    """(playbook key, step id) the form was opened for."""
    meta = view.metadata()
    return clean_text(meta.get("key"), 40), clean_text(meta.get("step"), 40)


@routes.view(EDIT_CALLBACK, error_block="message")
def on_edit_submitted(call: Call) -> None:
    view = call.view
    key, step_id = _target(view)
    if not _admin(call):
        raise BadInput(NOT_ADMIN, block_id="summary")
    changes = {f: clean_text(view.value(f), 3000) or None for f in STEP_FIELDS}
    try:
        row = store.edit_step_of(call.rt.engine, call.team_id, key, step_id, changes, call.user_id)
    except store.PlaybookStoreError as exc:
        block = exc.field if exc.field in STEP_FIELDS else "message"
        raise BadInput(clip(str(exc), 1900), block_id=block) from None
    call.ack(response_action="update", view=_done(f"Saved `{row.key}` v{row.version}."))


@routes.view(REORDER_CALLBACK, error_block=ORDER_BLOCK)
def on_reorder_submitted(call: Call) -> None:
    view = call.view
    key, _ = _target(view)
    order = [p.strip() for p in view.text(ORDER_BLOCK, 2000).split(",") if p.strip()]
    if not _admin(call):
        raise BadInput(NOT_ADMIN, block_id=ORDER_BLOCK)
    row = store.reorder_steps(call.rt.engine, call.team_id, key, order, call.user_id)
    call.ack(response_action="update", view=_done(f"Saved `{row.key}` v{row.version}."))


def _done(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain("Playbooks", 24),
        "close": plain("Done", 24),
        "blocks": [section(text)],
    }
