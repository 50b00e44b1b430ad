import datetime as dt
from datetime import timedelta

from bot.playbooks.parse import SEED_DIR, parse_playbook, validate_dir
from bot.playbooks.plan import describe_step, person_facts, plan_case, projected_offsets
from bot.playbooks.render import find_placeholders, unfilled_placeholders
from bot.playbooks.schema import Assignee, Recipient

FACTS = {
    "account": {
        "name": "Acme Corp",
        "arr": 120000,
        "renewal_date": dt.date(2025, 3, 12),
        "tier": "Enterprise",
    },
    "days_to_renewal": 84,
    "csm": person_facts("Dana Reyes"),
    "reporter": person_facts("Sam Lee"),
    "context": "Priya (champion) left on Friday; Tom from ops is covering.",
    "open_commitments": ["Send the SSO guide (Dana, Mar 1)"],
    "overdue_commitments": [],
    "previous_cases": [],
    "last_call_excerpt": "Priya: we'll loop in Tom next week.",
}
PEOPLE = {
    "csm": "Dana Reyes",
    "account_executive": "Ravi Shah",
    "exec_sponsor": "Maria Gomez",
    "support_lead": "Lee Park",
    "cs_manager": "Jo Kim",
    "champion": "Priya Nair",
    "economic_buyer": "Alex Brown",
    "new_point_of_contact": "Tom Ito",
    "admin": "Kim Wu",
    "executive_sponsor": "Chris Dale",
}


def recipient_of(recipient: Recipient) -> dict[str, object] | None:
    name = PEOPLE.get(recipient.value)
    return person_facts(name or recipient.value)


def assignee_of(assignee: Assignee) -> dict[str, object] | None:
    return person_facts(PEOPLE.get(str(assignee)))


def test_every_seed_renders_completely_when_facts_are_known() -> None:
    templates, _ = validate_dir(SEED_DIR)
    for template in templates:
        for planned in plan_case(
            template, FACTS, recipient_of=recipient_of, assignee_of=assignee_of
        ):
            assert planned.draft.missing == [], (template.key, planned.step.id)
            assert unfilled_placeholders(planned.draft.text) == [], planned.step.id
            assert len(planned.draft.text) <= 3000
            assert not planned.draft.truncated


def test_plan_uses_recipient_and_assignee_per_step() -> None:
    template = parse_playbook((SEED_DIR / "champion_left.yaml").read_text(), "champion_left")
    plan = plan_case(template, FACTS, recipient_of=recipient_of, assignee_of=assignee_of)
    intro = next(p for p in plan if p.step.id == "intro_call")
    assert intro.draft.text.startswith("Hi Tom,")
    assert intro.draft.subject == "Introduction: Acme Corp and Dana Reyes"
    exec_mail = next(p for p in plan if p.step.id == "exec_outreach")
    assert exec_mail.draft.text.startswith("Hi Alex,")
    assert exec_mail.draft.text.rstrip().endswith("Maria Gomez")


def test_plan_reports_unknown_people_and_facts() -> None:
    template = parse_playbook((SEED_DIR / "champion_left.yaml").read_text(), "champion_left")
    plan = plan_case(template, {"account": {"name": "Acme Corp"}})
    first = plan[0]
    assert first.draft.text.startswith("Hi there,")
    assert not first.recipient_known
    assert "recipient.first_name" in first.draft.missing
    assert "assignee.name" in first.draft.missing
    assert all(not find_placeholders(p.draft.text) for p in plan)
    internal = next(p for p in plan if p.step.id == "update_account_plan")
    assert internal.recipient_known  # an internal task has no recipient to find


def test_projected_offsets_follow_after_references() -> None:
    template = parse_playbook((SEED_DIR / "champion_left.yaml").read_text(), "champion_left")
    offsets = dict(zip([s.id for s in template.steps], projected_offsets(template), strict=True))
    assert offsets["find_new_poc"] == timedelta(0)
    assert offsets["map_org_chart"] == timedelta(hours=4)
    assert offsets["intro_call"] == timedelta(days=3, hours=4)
    assert offsets["update_account_plan"] == offsets["intro_call"] + timedelta(hours=4)
    assert offsets["renewal_risk_check"] == offsets["value_review"] + timedelta(days=1)


def test_describe_step_is_one_plain_line() -> None:
    template = parse_playbook((SEED_DIR / "champion_left.yaml").read_text(), "champion_left")
    plan = plan_case(template, FACTS)
    assert describe_step(plan[0]) == (
        "1. at once · csm · email → contact:admin — CSM asks the remaining contacts who now "
        "owns the relationship (same day)"
    )
    assert describe_step(plan[5]).startswith("6. +4h after step 4 · csm · task — ")


def test_long_drafts_are_cut_at_a_sentence() -> None:
    template = parse_playbook((SEED_DIR / "missed_commitment.yaml").read_text(), "x")
    many = [f"Commitment number {i} is still open." for i in range(200)]
    plan = plan_case(template, {**FACTS, "overdue_commitments": many})
    first = plan[0]
    assert first.draft.truncated
    assert len(first.draft.text) <= 3000
    assert first.draft.text.endswith("open.")
