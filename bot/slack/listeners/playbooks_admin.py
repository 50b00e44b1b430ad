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

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.db import session_scope
from bot.models import Playbook
from bot.playbooks import store
from bot.playbooks.parse import PlaybookError
from bot.playbooks.schema import AssigneeRole, Medium
from bot.runtime import Runtime
from bot.slack.blocks.common import (
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


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


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
            _input(
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
        _input("summary", "Summary", _text_el(step.get("summary"), max_length=200)),
        _input(
            "assignee",
            "Assignee",
            _text_el(str(step.get("assignee")), max_length=120),
            hint=assignee_hint,
        ),
        _input(
            "recipient",
            "Recipient",
            _text_el(step.get("recipient"), max_length=120),
            optional=True,
            hint="contact:champion, internal:cs_manager, channel:#name or "
            "person:<email>; empty only for internal tasks",
        ),
        _input(
            "delay",
            "Delay",
            _text_el(str(step.get("delay")), max_length=20),
            hint="0, 4h, 2d, 1w — after the step it follows",
        ),
        _input("medium", "Medium", medium),
        _input(
            "subject", "Email subject", _text_el(step.get("subject"), max_length=150), optional=True
        ),
        _input(
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
            _input(
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


def _values(view: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block_id, elements in ((view.get("state") or {}).get("values") or {}).items():
        for state in elements.values():
            out[block_id] = (
                state.get("value")
                if "value" in state
                else (state.get("selected_option") or {}).get("value")
            )
    return out


def register(app: App, rt: Runtime) -> None:
    def admin(team_id: str, user_id: str) -> bool:
        with session_scope(rt.engine) as s:
            return store.is_admin(s, team_id, user_id, rt.settings.cs_admins)

    @app.command("/playbooks")
    def playbooks_command(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        team_id, user_id = body.get("team_id", ""), body.get("user_id", "")
        verb, *args = (body.get("text") or "list").split() or ["list"]
        verb = verb.lower()
        store.ensure_seeded_once(rt.engine, team_id)
        if verb in {"list", "ls"}:
            with session_scope(rt.engine) as s:
                blocks = list_blocks(store.active_playbooks(s, team_id))
            respond(text="Playbooks", blocks=blocks, response_type="ephemeral")
            return
        if verb not in {"view", "new", "edit", "reorder", "retire"}:
            respond(text=f"I don't know `{escape(verb)}`. {USAGE}", response_type="ephemeral")
            return
        if verb != "view" and not admin(team_id, user_id):
            respond(text=NOT_ADMIN, response_type="ephemeral")
            return
        if verb == "new":
            client.views_open(trigger_id=body["trigger_id"], view=new_modal())
            return
        if not args:
            respond(text=f"Which playbook? {USAGE}", response_type="ephemeral")
            return
        with session_scope(rt.engine) as s:
            row = store.get_playbook(s, team_id, args[0])
            if row is not None and verb == "retire":
                store.retire(s, team_id, row.key, user_id)
        if row is None:
            respond(
                text=f"No active playbook `{escape(args[0])}`; `/playbooks` lists them.",
                response_type="ephemeral",
            )
        elif verb == "view":
            respond(text=row.name, blocks=view_blocks(row), response_type="ephemeral")
        elif verb == "retire":
            respond(
                text=f"Retired `{row.key}`: it is no longer offered in /report-risk; open "
                "cases keep their steps.",
                response_type="ephemeral",
            )
        elif verb == "reorder":
            client.views_open(trigger_id=body["trigger_id"], view=reorder_modal(row))
        else:
            steps = {s["id"]: s for s in row.definition.get("steps", [])}
            step = steps.get(args[1]) if len(args) > 1 else None
            if step is None:
                respond(
                    text=f"Name the step: `/playbooks edit {row.key} STEP_ID` with one of "
                    + ", ".join(f"`{i}`" for i in steps),
                    response_type="ephemeral",
                )
                return
            client.views_open(trigger_id=body["trigger_id"], view=edit_modal(row, step))

    @app.view(NEW_CALLBACK)
    def new_submitted(ack: Ack, body: dict) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        if not admin(team_id, user_id):
            ack(response_action="errors", errors={YAML_BLOCK: NOT_ADMIN[:150]})
            return
        text = _values(body["view"]).get(YAML_BLOCK) or ""
        try:
            with session_scope(rt.engine) as s:
                row, loaded = store.save_yaml(s, team_id, text, user_id)
        except PlaybookError as exc:
            ack(response_action="errors", errors={YAML_BLOCK: problems_text(exc)})
            return
        ack(
            response_action="update",
            view=_done(f"Saved `{row.key}` v{row.version} ({loaded.outcome.replace('_', ' ')})."),
        )

    @app.view(EDIT_CALLBACK)
    def edit_submitted(ack: Ack, body: dict) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        meta = json.loads(body["view"].get("private_metadata") or "{}")
        values = _values(body["view"])
        changes = {f: values.get(f) for f in STEP_FIELDS}
        if not admin(team_id, user_id):
            ack(response_action="errors", errors={"summary": NOT_ADMIN[:150]})
            return
        try:
            with session_scope(rt.engine) as s:
                row, _ = store.edit_step(
                    s, team_id, meta.get("key", ""), meta.get("step", ""), changes, user_id
                )
        except store.PlaybookStoreError as exc:
            block = exc.field if exc.field in STEP_FIELDS else "message"
            ack(response_action="errors", errors={block: clip(str(exc), 1900)})
            return
        ack(response_action="update", view=_done(f"Saved `{row.key}` v{row.version}."))

    @app.view(REORDER_CALLBACK)
    def reorder_submitted(ack: Ack, body: dict) -> None:
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        meta = json.loads(body["view"].get("private_metadata") or "{}")
        order = [
            p.strip()
            for p in (_values(body["view"]).get(ORDER_BLOCK) or "").split(",")
            if p.strip()
        ]
        if not admin(team_id, user_id):
            ack(response_action="errors", errors={ORDER_BLOCK: NOT_ADMIN[:150]})
            return
        try:
            with session_scope(rt.engine) as s:
                row, _ = store.reorder(s, team_id, meta.get("key", ""), order, user_id)
        except store.PlaybookStoreError as exc:
            ack(response_action="errors", errors={ORDER_BLOCK: clip(str(exc), 1900)})
            return
        ack(response_action="update", view=_done(f"Saved `{row.key}` v{row.version}."))


def _done(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain("Playbooks", 24),
        "close": plain("Done", 24),
        "blocks": [section(text)],
    }
