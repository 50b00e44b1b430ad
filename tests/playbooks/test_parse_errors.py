"""Every bad input is reported at the right line, with a message an author can act on."""

import textwrap
from pathlib import Path

import pytest

from bot.playbooks.parse import PlaybookError, Problem, check_playbook, parse_playbook, validate_dir

GOOD = textwrap.dedent("""\
    key: sample
    name: Sample playbook
    summary: A small but valid playbook used by the tests.
    steps:
      - id: first
        summary: CSM emails the champion
        assignee: csm
        recipient: contact:champion
        delay: 0
        medium: email
        subject: Hello from {csm.name}
        message: |
          Hi {recipient.first_name},

          A note about {account.name}.
      - id: second
        summary: AE meets the economic buyer
        assignee: account_executive
        recipient: contact:economic_buyer
        delay: 2d
        medium: meeting
        message: Agenda for {account.name}, renewing {account.renewal_date}.
      - id: third
        summary: CSM updates the account plan
        assignee: csm
        delay: 4h
        medium: internal
        message: Update the CRM for {account.name}.
      - id: fourth
        summary: CSM checks in with the CS manager
        assignee: csm
        recipient: internal:cs_manager
        delay: 1w
        medium: slack
        message: "Status of {account.name}: {context}"
    """)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `needle` (the tests' ground truth)."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def errors(text: str) -> list[Problem]:
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(text, "sample.yaml")
    found = [p for p in caught.value.problems if p.is_error]
    assert found, "expected at least one error"
    return found


def test_good_sample_parses_cleanly() -> None:
    template, problems = check_playbook(GOOD, "sample.yaml")
    assert problems == []
    assert template is not None and [s.id for s in template.steps] == [
        "first",
        "second",
        "third",
        "fourth",
    ]


def test_missing_field_is_reported_at_its_parent_mapping() -> None:
    text = GOOD.replace("    summary: AE meets the economic buyer\n", "")
    [problem] = errors(text)
    assert problem.line == line_of(text, "- id: second")
    assert problem.message == "missing required field 'summary' in step 2 ('second')"


def test_missing_top_level_field_is_reported_at_the_document() -> None:
    text = GOOD.replace("name: Sample playbook\n", "")
    [problem] = errors(text)
    assert (problem.line, problem.message) == (1, "missing required field 'name'")


def test_bad_delay_is_reported_at_its_own_line() -> None:
    text = GOOD.replace("delay: 4h", "delay: 2x")
    [problem] = errors(text)
    assert problem.line == line_of(text, "delay: 2x")
    assert str(problem) == (
        f"sample.yaml:{problem.line}:12: delay '2x' is not a duration; use e.g. 0, 4h, 2d, 1w"
    )


def test_order_gap() -> None:
    text = (
        GOOD.replace("  - id: first\n", "  - id: first\n    order: 1\n")
        .replace("  - id: second\n", "  - id: second\n    order: 2\n")
        .replace("  - id: third\n", "  - id: third\n    order: 4\n")
        .replace("  - id: fourth\n", "  - id: fourth\n    order: 5\n")
    )
    found = errors(text)
    assert found[0].line == line_of(text, "order: 4")
    assert "order 4 leaves a gap after 2; expected 3" in found[0].message


def test_order_must_be_on_every_step_if_on_any() -> None:
    text = GOOD.replace("  - id: first\n", "  - id: first\n    order: 1\n")
    found = errors(text)
    assert found[0].line == line_of(text, "- id: second")
    assert "step 2 has no order while others do" in found[0].message


def test_reference_loop_is_detected_and_explained() -> None:
    text = GOOD.replace("    delay: 2d\n", "    delay: 2d\n    after: third\n")
    [problem] = errors(text)
    assert problem.line == line_of(text, "after: third")
    assert problem.message.startswith(
        "after: 'third' makes a loop: 'second' waits for "
        "'third', 'third' waits for 'second' (listed before it)"
    )


def test_longer_loop_through_explicit_references() -> None:
    text = GOOD.replace("    delay: 4h\n", "    delay: 4h\n    after: fourth\n").replace(
        "    delay: 1w\n", "    delay: 1w\n    after: third\n"
    )
    [problem] = errors(text)
    assert problem.line == line_of(text, "after: fourth")
    assert "'third' waits for 'fourth', 'fourth' waits for 'third'" in problem.message


def test_after_unknown_step_and_self() -> None:
    text = GOOD.replace("    delay: 2d\n", "    delay: 2d\n    after: frist\n").replace(
        "    delay: 4h\n", "    delay: 4h\n    after: third\n"
    )
    unknown, itself = errors(text)
    assert unknown.line == line_of(text, "after: frist")
    assert unknown.message == (
        "after: 'frist' is not a step id in this playbook; did you mean 'first'?"
    )
    assert itself.line == line_of(text, "after: third")
    assert "cannot wait for itself" in itself.message


def test_after_may_point_forward_when_there_is_no_loop() -> None:
    text = GOOD.replace("    delay: 2d\n", "    delay: 2d\n    after: fourth\n").replace(
        "    delay: 1w\n", "    delay: 1w\n    after: first\n"
    )
    template = parse_playbook(text, "sample.yaml")
    assert template.anchor_of("second") == "fourth"


def test_duplicate_step_id() -> None:
    text = GOOD.replace("- id: fourth", "- id: second")
    [problem] = errors(text)
    assert problem.line == line_of(text, "- id: second", occurrence=2)
    assert problem.message.startswith("step id 'second' is used twice (first by step 2)")


def test_unknown_placeholder_points_at_its_line_and_column_in_a_block() -> None:
    text = GOOD.replace("A note about {account.name}.", "A note about {acount.name}.")
    [problem] = errors(text)
    assert problem.line == line_of(text, "{acount.name}")
    assert problem.column == text.splitlines()[problem.line - 1].index("{acount.name}") + 2
    assert problem.message == (
        "unknown placeholder {acount.name} in message; did you mean {account.name}?"
    )


def test_unknown_placeholder_in_subject() -> None:
    text = GOOD.replace("Hello from {csm.name}", "Hello from {csm.nickname}")
    [problem] = errors(text)
    assert problem.line == line_of(text, "subject: Hello")
    assert "unknown placeholder {csm.nickname} in subject" in problem.message


def test_unmatched_brace() -> None:
    text = GOOD.replace("Update the CRM for {account.name}.", "Update the CRM for {account.name.")
    [problem] = errors(text)
    assert problem.line == line_of(text, "Update the CRM")
    assert problem.message.startswith("unmatched '{' in message")


def test_unknown_field_suggests_the_right_one_and_hides_the_echo() -> None:
    text = GOOD.replace("    assignee: account_executive", "    asignee: account_executive")
    [problem] = errors(text)  # no second "missing 'assignee'" error for the same typo
    assert problem.line == line_of(text, "asignee:")
    assert problem.message == (
        "unknown field 'asignee' in step 2 ('second'); did you mean 'assignee'?"
    )


def test_unknown_top_level_field_lists_known_fields() -> None:
    text = GOOD + "colour: red\n"
    [problem] = errors(text)
    assert problem.line == line_of(text, "colour: red")
    assert problem.message.startswith("unknown field 'colour'; known fields: key, name,")


def test_invalid_yaml_reports_the_parser_line() -> None:
    text = GOOD.replace("    medium: meeting\n", "    medium: [meeting\n")
    [problem] = errors(text)
    assert problem.message.startswith("invalid YAML (while parsing a flow sequence)")
    assert line_of(text, "medium: [meeting") <= problem.line <= line_of(text, "- id: third")


def test_invalid_yaml_bad_indentation() -> None:
    text = GOOD.replace(
        "    assignee: csm\n    recipient: contact:champion",
        "    assignee: csm\n   recipient: contact:champion",
    )
    [problem] = errors(text)
    assert problem.message.startswith("invalid YAML")
    assert problem.message.endswith("check this line's indentation")
    assert problem.line == line_of(text, "   recipient: contact:champion")


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    [problem] = errors(text)
    assert (problem.line, problem.column) == (1, 1)
    assert problem.message.startswith("file is empty")


def test_top_level_must_be_a_mapping() -> None:
    [problem] = errors("- just\n- a list\n")
    assert problem.line == 1
    assert "must be a mapping" in problem.message


def test_bad_enums_and_recipients_are_reported_at_their_lines() -> None:
    text = (
        GOOD.replace("medium: slack", "medium: sms")
        .replace("recipient: contact:economic_buyer", "recipient: contact:cfo")
        .replace("    assignee: account_executive", "    assignee: sales")
    )
    found = errors(text)
    by_line = {p.line: p.message for p in found}
    assert by_line[line_of(text, "medium: sms")].startswith("medium 'sms' is not one of: slack,")
    assert "contact role must be one of" in by_line[line_of(text, "contact:cfo")]
    assert by_line[line_of(text, "assignee: sales")].startswith("assignee 'sales' is not one of")


def test_message_over_slack_limit() -> None:
    long = "word " * 700
    text = GOOD.replace("message: Update the CRM for {account.name}.", f"message: {long}")
    [problem] = errors(text)
    assert problem.line == line_of(text, "message: word")
    assert "at most 3000 allowed" in problem.message


def test_step_without_recipient_must_be_internal() -> None:
    text = GOOD.replace("    recipient: internal:cs_manager\n", "")
    [problem] = errors(text)
    assert problem.line == line_of(text, "- id: fourth")
    assert "missing required field 'recipient'" in problem.message


def test_email_to_a_channel_is_refused() -> None:
    text = GOOD.replace("recipient: contact:champion", "recipient: channel:#cs-escalations")
    [problem] = errors(text)
    assert problem.line == line_of(text, "channel:#cs-escalations")


def test_duplicate_yaml_key_is_an_error() -> None:
    text = GOOD.replace("    delay: 4h\n", "    delay: 4h\n    delay: 1d\n")
    [problem] = errors(text)
    assert problem.line == line_of(text, "delay: 1d")
    assert "given twice" in problem.message


def test_warnings_do_not_block_parsing() -> None:
    text = GOOD.replace("    subject: Hello from {csm.name}\n", "").replace(
        "Agenda for {account.name}", "Agenda for\n          the {account.name}"
    )
    text = text.replace("message: Agenda for\n", "message: |\n          Agenda for\n")
    template, problems = check_playbook(text, "sample.yaml")
    assert template is not None
    assert [p.severity for p in problems] == ["warning", "warning"]
    assert "has no subject" in problems[0].message
    assert problems[0].line == line_of(text, "- id: first")
    assert "hard-wrapped" in problems[1].message
    assert problems[1].line == line_of(text, "the {account.name}")


def test_too_few_steps_is_a_warning_with_line() -> None:
    text = GOOD.split("  - id: third")[0]
    template, problems = check_playbook(text, "sample.yaml")
    assert template is not None
    [warning] = problems
    assert warning.severity == "warning" and "this one has 2" in warning.message
    assert str(warning).startswith(f"sample.yaml:{line_of(text, '- id: first')}:3: warning:")


def test_validate_dir_checks_file_names_and_keys(tmp_path: Path) -> None:
    (tmp_path / "sample.yaml").write_text(GOOD)
    (tmp_path / "other.yaml").write_text(GOOD)
    (tmp_path / "broken.yml").write_text(GOOD.replace("delay: 4h", "delay: 2x"))
    (tmp_path / "README.md").write_text("# not a playbook {")
    templates, problems = validate_dir(tmp_path)
    assert [t.key for t in templates] == ["sample"]
    assert [(p.source, p.line) for p in problems] == [
        ("broken.yml", line_of(GOOD, "delay: 4h")),
        ("other.yaml", 1),
    ]
    assert "does not match the file name" in problems[1].message
