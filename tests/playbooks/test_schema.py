from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.playbooks.parse import SEED_DIR, validate_dir
from bot.playbooks.schema import (
    Assignee,
    AssigneeRole,
    PlaybookTemplate,
    Recipient,
    RecipientKind,
    parse_assignee,
    parse_recipient,
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("contact:champion", RecipientKind.CONTACT, "champion"),
        ("contact:new_point_of_contact", RecipientKind.CONTACT, "new_point_of_contact"),
        ("internal:cs_manager", RecipientKind.INTERNAL, "cs_manager"),
        ("channel:#cs-escalations", RecipientKind.CHANNEL, "#cs-escalations"),
        ("person:Ana@Example.com", RecipientKind.PERSON, "ana@example.com"),
    ],
)
def test_parse_recipient(text: str, kind: RecipientKind, value: str) -> None:
    recipient = parse_recipient(text)
    assert (recipient.kind, recipient.value) == (kind, value)
    assert str(Recipient.model_validate(text)) == f"{kind}:{value}"


@pytest.mark.parametrize(
    "text",
    [
        "champion",
        "contact:cfo",
        "internal:ceo",
        "channel:cs",
        "channel:#CS Team",
        "person:bob",
        "slack:#x",
    ],
)
def test_parse_recipient_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_recipient(text)


def test_parse_assignee() -> None:
    assert parse_assignee("support_lead").role is AssigneeRole.SUPPORT_LEAD
    named = Assignee.model_validate("person:ana@example.com")
    assert (named.role, named.email, str(named)) == (
        None,
        "ana@example.com",
        "person:ana@example.com",
    )
    with pytest.raises(ValueError, match="is not one of: csm, cs_manager"):
        parse_assignee("sales")


def test_template_round_trips_through_json() -> None:
    templates, _ = validate_dir(SEED_DIR)
    for template in templates:
        dumped = template.model_dump(mode="json")
        assert isinstance(dumped["steps"][0]["assignee"], str)
        assert isinstance(dumped["steps"][0]["delay"], str)
        assert PlaybookTemplate.model_validate(dumped) == template
        assert PlaybookTemplate.model_validate_json(template.model_dump_json()) == template


def test_model_enforces_cross_step_rules_outside_yaml_too() -> None:
    templates, _ = validate_dir(SEED_DIR)
    data = templates[0].model_dump(mode="json")
    data["steps"][1]["after"] = data["steps"][2]["id"]
    data["steps"][2]["after"] = data["steps"][1]["id"]
    with pytest.raises(ValidationError, match="makes a loop"):
        PlaybookTemplate.model_validate(data)


def test_anchor_of_and_delays() -> None:
    templates, _ = validate_dir(SEED_DIR)
    champion = next(t for t in templates if t.key == "champion_left")
    assert champion.anchor_of("find_new_poc") is None
    assert champion.anchor_of("map_org_chart") == "find_new_poc"
    assert champion.anchor_of("update_account_plan") == "intro_call"
    assert champion.step("map_org_chart").delay == timedelta(hours=4)
    with pytest.raises(KeyError):
        champion.step("nope")
