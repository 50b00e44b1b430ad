from pathlib import Path

import pytest

from bot.playbooks.parse import SEED_DIR, parse_playbook, validate_dir
from bot.playbooks.render import find_placeholders
from bot.playbooks.schema import Medium, RecipientKind

EXPECTED_KEYS = {
    "champion_left",
    "budget_cut",
    "usage_dip",
    "meeting_absence",
    "renewal_window",
    "missed_commitment",
    "onboarding_stalled",
}
SEED_FILES = sorted(SEED_DIR.glob("*.yaml"))


def test_seed_folder_holds_exactly_the_seed_set_without_problems() -> None:
    templates, problems = validate_dir(SEED_DIR)
    assert [str(p) for p in problems] == []  # no errors and no warnings either
    assert {t.key for t in templates} == EXPECTED_KEYS


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_seed_parses_with_four_to_seven_distinct_steps(path: Path) -> None:
    template = parse_playbook(path.read_text(encoding="utf-8"), path.name)
    assert template.key == path.stem
    assert 4 <= len(template.steps) <= 7
    summaries = [" ".join(s.summary.lower().split()) for s in template.steps]
    assert len(set(summaries)) == len(summaries)
    messages = [s.message for s in template.steps]
    assert len(set(messages)) == len(messages)


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_seed_messages_read_like_real_drafts(path: Path) -> None:
    template = parse_playbook(path.read_text(encoding="utf-8"), path.name)
    for step in template.steps:
        assert len(step.message) >= 150, step.id
        if step.recipient is not None and step.recipient.kind is RecipientKind.CONTACT:
            used = find_placeholders(step.message)
            assert "recipient.first_name" in used, step.id
            if step.medium is not Medium.CALL:  # a call's message is a brief for our side
                # what leaves the building never quotes the reporter's internal note
                assert "context" not in used, step.id
        if step.medium is Medium.EMAIL:
            assert step.subject, step.id
    assert any(find_placeholders(s.message) & {"account.name"} for s in template.steps)


def test_seed_set_uses_every_role_and_medium_somewhere() -> None:
    templates, _ = validate_dir(SEED_DIR)
    steps = [s for t in templates for s in t.steps]
    assert {s.medium for s in steps} == set(Medium)
    assert {str(s.assignee) for s in steps} == {
        "csm",
        "account_executive",
        "support_lead",
        "exec_sponsor",
    }
    assert "internal:cs_manager" in {str(s.recipient) for s in steps}
    assert any(s.after for s in steps)  # at least one seed runs two steps side by side
