"""/playbooks through signed requests against the Slack stand-in."""

from __future__ import annotations

from bot.db import session_scope
from bot.playbooks import service as store
from bot.playbooks.parse import SEED_DIR

NEW = """key: churn_signal
name: Churn signal
summary: The customer mentioned evaluating a competitor.
steps:
  - id: call_champion
    summary: CSM calls the champion
    assignee: csm
    recipient: contact:champion
    delay: 0
    medium: call
    message: Talking points for {account.name}
"""


def _then(world, method: str, fn, count: int = 1):  # type: ignore[no-untyped-def]
    before = len(world.standin.calls(method))
    result = fn()
    world.standin.wait_for(method, before + count, timeout=20)
    return result


def _initial(view: dict, **changes: str) -> dict:
    """What Slack reports for untouched inputs (their initial values), plus `changes`."""
    values = {}
    for block in view["blocks"]:
        el = block.get("element") or {}
        if block.get("type") == "input":
            start = el.get("initial_value") or (el.get("initial_option") or {}).get("value")
            if start is not None:
                values[block["block_id"]] = start
    return {**values, **changes}


def _command(world, text: str, user: str) -> None:
    method = (
        "views.open" if text.split()[:1] in (["new"], ["edit"], ["reorder"]) else "response_url"
    )
    _then(world, method, lambda: world.driver.command("/playbooks", text, user_id=user))


def test_list_and_view_for_everyone(slack) -> None:
    _command(slack, "", "U0SAM")
    listing = str(slack.standin.ephemerals(user="U0SAM"))
    assert "champion_left" in listing and "usage_dip" in listing
    _command(slack, "view budget_cut", "U0SAM")
    assert "understand_scope" in str(slack.standin.ephemerals(user="U0SAM")[-1])


def test_changes_are_for_admins_only(slack) -> None:
    for text in ("new", "retire usage_dip", "edit budget_cut understand_scope"):
        _then(
            slack,
            "response_url",
            lambda t=text: slack.driver.command("/playbooks", t, user_id="U0SAM"),
        )
    notes = [str(e) for e in slack.standin.ephemerals(user="U0SAM")]
    assert len(notes) == 3 and all("Only CS admins" in n for n in notes)
    assert slack.standin.open_views("U0SAM") == []


def test_new_playbook_from_yaml_with_line_precise_errors(slack) -> None:
    _command(slack, "new", "U0ANA")
    view = slack.standin.open_views("U0ANA")[-1]
    bad = slack.driver.view_submission(
        view, {"yaml": NEW.replace("delay: 0", "delay: 2x")}, user_id="U0ANA"
    )
    assert "line 9," in bad.json["errors"]["yaml"] and "2x" in bad.json["errors"]["yaml"]
    ok = slack.driver.view_submission(view, {"yaml": NEW}, user_id="U0ANA")
    assert ok.json["response_action"] == "update"
    with session_scope(slack.rt.engine) as s:
        row = store.get_playbook(s, slack.team_id, "churn_signal")
        assert row is not None and row.source == "slack" and row.created_by == "U0ANA"


def test_edit_step_reorder_and_retire(slack) -> None:
    _command(slack, "edit budget_cut understand_scope", "U0ANA")
    view = slack.standin.open_views("U0ANA")[-1]
    bad = slack.driver.view_submission(view, _initial(view, delay="2x"), user_id="U0ANA")
    assert "2x" in bad.json["errors"]["delay"]
    ok = slack.driver.view_submission(view, _initial(view, delay="1h"), user_id="U0ANA")
    assert ok.json["response_action"] == "update"

    _command(slack, "reorder budget_cut", "U0ANA")
    view = slack.standin.open_views("U0ANA")[-1]
    bad = slack.driver.view_submission(view, {"order": "understand_scope"}, user_id="U0ANA")
    assert "exactly once" in bad.json["errors"]["order"]
    ids = [
        ln.split("id: ")[1]
        for ln in (SEED_DIR / "budget_cut.yaml").read_text().splitlines()
        if "- id: " in ln
    ]
    ids[0], ids[1] = ids[1], ids[0]
    slack.driver.view_submission(view, {"order": ", ".join(ids)}, user_id="U0ANA")

    _command(slack, "retire usage_dip", "U0ANA")
    with session_scope(slack.rt.engine) as s:
        budget = store.get_playbook(s, slack.team_id, "budget_cut")
        assert budget.version == 3
        assert [st["id"] for st in budget.definition["steps"]] == ids
        assert budget.definition["steps"][1]["delay"] == "1h"
        assert store.get_playbook(s, slack.team_id, "usage_dip") is None
    _then(slack, "views.open", lambda: slack.driver.command("/report-risk", "", user_id="U0MAYA"))
    risks = [
        o["value"]
        for o in slack.standin.open_views("U0MAYA")[-1]["blocks"][1]["element"]["options"]
    ]
    assert "usage_dip" not in risks and "budget_cut" in risks
