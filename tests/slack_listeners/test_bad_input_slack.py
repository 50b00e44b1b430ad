"""Every command, button and form that takes an id, fed the ids that used to break it —
through signed requests against the Slack stand-in. Each answer is HTTP 200 (400 for a body
no Slack request has) with a message the person can act on; nothing changes in the
database; no traceback (nor any ERROR line) reaches the log.

Ids from the old failures: '²' (isdigit() yes, int() no), '١' (Arabic-Indic one: read as 1
and acted on — the world has a case, step, transcript, account and commitment 1 so that
would show), past int4, NUL (PostgreSQL refuses it), very long, and the ordinary bad ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import select

from bot.capture import blocks as rb
from bot.capture.blocks import ReviewItem
from bot.cases import blocks as msgs
from bot.cases import decisions
from bot.cases import plan_blocks as cards
from bot.devtools.standin.driver import DriverResponse
from bot.digest.blocks import A_DONE, A_REASSIGN, settings_modal
from bot.followup.blocks import A_CLOSE_COPY, A_CLOSE_SEND, A_REPORT_MISSED, missed_report_modal
from bot.models import CaseStep, Playbook
from bot.slack.listeners import playbooks_admin
from bot.slack.listeners.base import SORRY

BAD_IDS = {
    "superscript-2": "²",
    "arabic-indic-1": "١",
    "letters": "12a",
    "empty": "",
    "negative": "-1",
    "zero": "0",
    "int4+1": str(2**31),
    "20-digits": "9" * 20,
    "nul": "\x00x",
    "very-long": "1" * 5000,
}
BAD_USERS = {
    "nul": "U0LI\x00",
    "empty": "",
    "lower-case": "u0li",
    "mention": "<@U0LI>",
    "channel": "C0CSRISK",
    "very-long": "U" + "1" * 5000,
}
NOT_RECOGNISED = ("not recognised any more",)


@dataclass(frozen=True)
class Target:
    """One place an id arrives. `send(forge, ctx, bad)`; the answer is looked for `where`
    (ephemeral | ack | errors | modal) and must contain one of `needles`."""

    send: Callable[[Any, dict[str, Any], str], DriverResponse]
    where: str
    needles: tuple[str, ...]
    legit: frozenset[str] = field(default_factory=frozenset)  # values this target accepts


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value[:20] or "-"}, "value": value}


def _click(action_id: str, where: str = "message", **fixed: Any) -> Callable[..., DriverResponse]:
    """A click whose fields are formatted with the bad value (`{bad}`)."""

    def send(forge: Any, ctx: dict[str, Any], bad: str) -> DriverResponse:
        kw: dict[str, Any] = {}
        for key, val in fixed.items():
            if isinstance(val, str):
                kw[key] = val.format(bad=bad)
            elif isinstance(val, dict):
                kw[key] = _option(val["value"].format(bad=bad))
            else:
                kw[key] = val
        return forge.click(action_id, where=where, **kw)

    return send


def _submit(
    modal: str, values: Callable[[str], dict[str, Any]], meta: Callable[[str], str | None]
) -> Callable[..., DriverResponse]:
    def send(forge: Any, ctx: dict[str, Any], bad: str) -> DriverResponse:
        return forge.submit(
            ctx["modals"][modal],
            values(bad),
            private_metadata=meta(bad),
            user=ctx.get("modal_users", {}).get(modal),
        )

    return send


def _command(name: str, prefix: str = "") -> Callable[..., DriverResponse]:
    def send(forge: Any, ctx: dict[str, Any], bad: str) -> DriverResponse:
        return forge.command(name, prefix + bad)

    return send


ID_TARGETS: dict[str, Target] = {
    # -- commands ----------------------------------------------------------------------------
    "/case": Target(_command("/case"), "ack", ("Use `/case list`",), frozenset({"empty"})),
    "/commitments": Target(
        _command("/commitments"), "ack", ("No account matches", "open commitments")
    ),
    "/report-risk": Target(
        _command("/report-risk"), "ephemeral", ("couldn't find an account",), frozenset({"empty"})
    ),
    "/cs-report": Target(
        _command("/cs-report"),
        "ack",
        ("I don't understand the period", "empty period"),
        frozenset({"empty"}),
    ),
    "/playbooks view": Target(
        _command("/playbooks", "view "), "ephemeral", ("No active playbook", "Which playbook")
    ),
    # -- step DMs ------------------------------------------------------------------------------
    "step Yes": Target(_click(msgs.YES, value="{bad}:awaiting"), "ephemeral", NOT_RECOGNISED),
    "step Edit": Target(_click(msgs.EDIT, value="{bad}:awaiting"), "ephemeral", NOT_RECOGNISED),
    "step No": Target(_click(msgs.NO, value="{bad}:awaiting"), "ephemeral", NOT_RECOGNISED),
    "step reassign (block id)": Target(
        _click(msgs.REASSIGN, block_id="reassign:{bad}:awaiting", selected_user="U0LI"),
        "ephemeral",
        NOT_RECOGNISED,
    ),
    "resolved? (case)": Target(
        _click(msgs.ANSWER_SAVED, value="{bad}:1"), "ephemeral", NOT_RECOGNISED
    ),
    "resolved? (position)": Target(
        _click(msgs.ANSWER_NOT_YET, value="1:{bad}"), "ephemeral", NOT_RECOGNISED
    ),
    # -- the case card (an ephemeral from /case) ---------------------------------------------
    "case Pause": Target(
        _click(msgs.CASE_PAUSE, "ephemeral", value="{bad}:running"), "ephemeral", NOT_RECOGNISED
    ),
    "case Churned": Target(
        _click(msgs.CASE_CHURN, "ephemeral", value="{bad}:running"), "ephemeral", NOT_RECOGNISED
    ),
    "case note": Target(
        _click(msgs.CASE_NOTE, "ephemeral", value="{bad}:running"), "ephemeral", NOT_RECOGNISED
    ),
    "case reassign (block id)": Target(
        _click(
            msgs.CASE_REASSIGN,
            "ephemeral",
            block_id="case_reassign:{bad}:running",
            selected_user="U0LI",
        ),
        "ephemeral",
        NOT_RECOGNISED,
    ),
    "case extend (option)": Target(
        _click(msgs.CASE_EXTEND, selected_option={"value": "{bad}:churn_signal"}),
        "ephemeral",
        ("not recognised any more",),
    ),
    # -- the plan card ----------------------------------------------------------------------
    "plan Start": Target(
        _click(cards.START_ACTION, value="{bad}:planned"), "ephemeral", ("out of date",)
    ),
    "plan step menu (case)": Target(
        _click(cards.STEP_MENU, selected_option={"value": "{bad}:1:drop"}),
        "ephemeral",
        ("out of date",),
    ),
    "plan step menu (position)": Target(
        _click(cards.STEP_MENU, selected_option={"value": "1:{bad}:drop"}),
        "ephemeral",
        ("out of date",),
    ),
    # -- digest, Home and the /commitments list ----------------------------------------------
    "digest Done": Target(
        _click(A_DONE, block_id="ftitem:c:{bad}:open", value="c"), "ephemeral", ("not one of ours",)
    ),
    "Home Done": Target(
        _click(A_DONE, "home", block_id="ftitem:c:{bad}:open", value="c"),
        "modal",
        ("not one of ours",),
    ),
    "/commitments list Done": Target(
        _click(A_DONE, "ephemeral", block_id="ftlist:U0MAYA:c:{bad}:open", value="c"),
        "ephemeral",
        ("not one of ours",),
    ),
    "/commitments list (its account)": Target(
        _click(A_DONE, "ephemeral", block_id="ftlist:a{bad}:c:2:open", value="c"),
        "ephemeral",
        ("list is out of date",),
    ),
    "close the loop: send": Target(
        _click(A_CLOSE_SEND, value="{bad}"), "ephemeral", ("no longer available",)
    ),
    "close the loop: copy": Target(
        _click(A_CLOSE_COPY, value="{bad}"), "ephemeral", ("no longer available",)
    ),
    "report missed commitment": Target(
        _click(A_REPORT_MISSED, value="c:{bad}"), "ephemeral", ("out of date",)
    ),
    # -- the review thread -------------------------------------------------------------------
    "review Confirm": Target(
        _click(rb.A_CONFIRM, value="{bad}:proposed", block_id="ftcap:{bad}:proposed"),
        "ephemeral",
        ("older message",),
    ),
    "review Edit": Target(
        _click(rb.A_EDIT, value="{bad}:proposed", block_id="ftcap:{bad}:proposed"),
        "ephemeral",
        ("older message",),
    ),
    "review owner (block id)": Target(
        _click(rb.A_OWNER, block_id="ftcap:{bad}:proposed", selected_user="U0LI"),
        "ephemeral",
        ("older message",),
    ),
    "review Confirm all": Target(
        _click(rb.A_CONFIRM_ALL, value="{bad}"), "ephemeral", ("older message",)
    ),
    "review account (block id)": Target(
        _click(rb.A_ACCOUNT, block_id="ftcapacct:{bad}", selected_option={"value": "1"}),
        "ephemeral",
        ("older message",),
    ),
    "review account (option)": Target(
        _click(rb.A_ACCOUNT, block_id="ftcapacct:1", selected_option={"value": "{bad}"}),
        "ephemeral",
        ("Pick an account from the list",),
    ),
    # -- forms (private_metadata and selects) -------------------------------------------------
    "step Edit form": Target(
        _submit("step_edit", lambda bad: {"draft": "Hi Dana"}, lambda bad: f"{bad}:awaiting"),
        "errors",
        NOT_RECOGNISED,
    ),
    "step No form": Target(
        _submit("step_no", lambda bad: {"reason": "not needed"}, lambda bad: f"{bad}:awaiting"),
        "errors",
        NOT_RECOGNISED,
    ),
    "case note form": Target(
        _submit("note", lambda bad: {"note": "Champion left"}, lambda bad: bad),
        "errors",
        ("out of date",),
    ),
    "plan edit form (case)": Target(
        _submit(
            "plan_draft",
            lambda bad: {cards.VALUE_BLOCK: "New draft"},
            lambda bad: json.dumps({"case": bad, "position": 1}),
        ),
        "errors",
        ("out of date",),
    ),
    "plan edit form (position)": Target(
        _submit(
            "plan_draft",
            lambda bad: {cards.VALUE_BLOCK: "New draft"},
            lambda bad: json.dumps({"case": 1, "position": bad}),
        ),
        "errors",
        ("out of date",),
    ),
    "review Edit form": Target(
        _submit("review_edit", lambda bad: {"text": "Send it"}, lambda bad: json.dumps({"c": bad})),
        "errors",
        ("out of date",),
    ),
    "missed-commitment form": Target(
        _submit(
            "missed",
            lambda bad: {"context": "It slipped"},
            lambda bad: json.dumps({"account_id": bad}),
        ),
        "errors",
        ("out of date",),
    ),
    "digest settings (hour)": Target(
        _submit("settings", lambda bad: {"digest_hour": bad}, lambda bad: None),
        "errors",
        ("Pick an hour",),
        frozenset({"zero"}),  # 00:00 is an hour
    ),
    "playbook edit form (key)": Target(
        _submit(
            "playbook_edit",
            lambda bad: {},
            lambda bad: json.dumps({"key": bad, "step": "call_champion"}),
        ),
        "errors",
        ("No active playbook",),
    ),
    "report form (account)": Target(
        _submit(
            "report",
            lambda bad: {"account": bad, "risk": "champion_left", "context": "Dana resigned"},
            lambda bad: None,
        ),
        "errors",
        ("Pick the account at risk",),
    ),
}

USER_TARGETS: dict[str, Target] = {
    "digest reassign": Target(
        _click(A_REASSIGN, block_id="ftitem:c:2:open", selected_user="{bad}"),
        "ephemeral",
        ("Pick the person",),
    ),
    "step reassign": Target(
        _click(msgs.REASSIGN, block_id="reassign:1:awaiting", selected_user="{bad}"),
        "ephemeral",
        ("Pick a person",),
    ),
    "case reassign": Target(
        _click(
            msgs.CASE_REASSIGN,
            "ephemeral",
            block_id="case_reassign:1:running",
            selected_user="{bad}",
        ),
        "ephemeral",
        ("Pick a person",),
    ),
    "review owner": Target(
        _click(rb.A_OWNER, block_id="ftcap:1:proposed", selected_user="{bad}"),
        "ephemeral",
        ("Pick who owns this",),
    ),
    "plan reassign form": Target(
        _submit(
            "plan_reassign",
            lambda bad: {cards.VALUE_BLOCK: {"type": "users_select", "selected_user": bad}},
            lambda bad: json.dumps({"case": 1, "position": 1}),
        ),
        "errors",
        ("Pick the person",),
    ),
}


@pytest.fixture(scope="module")
def ctx(bad_world: Any) -> dict[str, Any]:
    """The modals the app builds, to submit with forged metadata; the world's ids."""
    world, ids = bad_world
    step_view = decisions.decidable(
        world.rt.engine, world.team_id, ids["step"], "U0MAYA", world.settings
    )
    with world.session() as s:
        step = s.get(CaseStep, ids["step"])
        playbook = s.exec(
            select(Playbook).where(Playbook.key == "champion_left", Playbook.retired == False)  # noqa: E712
        ).first()
    assert step is not None and playbook is not None
    first_step = playbook.definition["steps"][0]
    modals = {
        "step_edit": msgs.edit_modal(step_view),
        "step_no": msgs.no_modal(step_view),
        "note": msgs.note_modal(ids["case"], "Acme Corp"),
        "plan_draft": cards.edit_draft_modal(ids["case"], step),
        "plan_reassign": cards.reassign_modal(ids["case"], step),
        "review_edit": rb.edit_modal(
            ReviewItem(id=1, number=1, text="Send the SSO guide", status="proposed"),
            "C0CSRISK",
            "1700000000.000100",
        ),
        "missed": missed_report_modal("Acme Corp", "It is overdue.", json.dumps({"account_id": 1})),
        "settings": settings_modal(True, 9),
        "playbook_edit": playbooks_admin.edit_modal(playbook, first_step),
        "report": cards.report_modal([("champion_left", "Champion left")], account=None),
    }
    return {"world": world, "ids": ids, "modals": modals, "modal_users": {"playbook_edit": "U0ANA"}}


def _answer(world: Any, resp: DriverResponse, where: str, seen: set[str], user: str) -> str:
    """The answer the person got, once it is there."""
    if where == "errors":
        assert isinstance(resp.json, dict) and resp.json.get("response_action") == "errors", resp
        return " ".join(resp.json["errors"].values())
    if where == "ack":  # Bolt sends a text-only ack as text/plain
        return str(resp.json.get("text")) if isinstance(resp.json, dict) else resp.body_text
    if where == "modal":
        view = world.standin.wait_until(
            lambda: next((v for v in world.standin.open_views(user) if v["id"] not in seen), None),
            what="a note in a modal",
        )
        return json.dumps(view["blocks"], ensure_ascii=False)
    found = world.standin.wait_until(
        lambda: next(
            (e for e in world.standin.ephemerals(user=user) if e["message_ts"] not in seen), None
        ),
        what="an ephemeral answer",
    )
    return str(found["text"])


def _seen(world: Any, user: str, where: str) -> set[str]:
    if where == "modal":
        return {v["id"] for v in world.standin.open_views(user)}
    return {e["message_ts"] for e in world.standin.ephemerals(user=user)}


def _clean_log(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.exc_info is None, f"traceback logged: {record.getMessage()}"
        assert "Traceback" not in record.getMessage()
        assert record.levelno < logging.ERROR, f"ERROR logged: {record.getMessage()}"


CASES = [
    pytest.param(name, label, id=f"{name}|{label}")
    for name, target in ID_TARGETS.items()
    for label in BAD_IDS
    if label not in target.legit
] + [
    pytest.param(name, label, id=f"{name}|user:{label}")
    for name in USER_TARGETS
    for label in BAD_USERS
]


@pytest.mark.parametrize(("name", "label"), CASES)
def test_bad_ids_get_a_clear_answer_and_change_nothing(
    ctx: dict[str, Any],
    forge: Any,
    snapshot: Callable[[], dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
    name: str,
    label: str,
) -> None:
    caplog.set_level(logging.INFO)
    world = ctx["world"]
    target = ID_TARGETS.get(name) or USER_TARGETS[name]
    bad = BAD_IDS[label] if name in ID_TARGETS else BAD_USERS[label]
    user = ctx["modal_users"].get("playbook_edit") if name.startswith("playbook") else "U0MAYA"
    before = snapshot()
    seen = _seen(world, user, target.where)
    resp = target.send(forge, ctx, bad)
    assert resp.status == 200, resp.body_text
    answer = _answer(world, resp, target.where, seen, user)
    record_property("status", resp.status)  # --junitxml shows what each input got
    record_property("answer", answer[:120])
    assert any(n in answer for n in target.needles), answer
    assert SORRY not in answer
    assert snapshot() == before
    _clean_log(caplog)
