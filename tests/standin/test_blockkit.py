from typing import Any

import pytest

from bot.devtools.standin.blockkit import (
    chat_error_body,
    validate_message_blocks,
    validate_view,
    view_too_large,
    views_error_body,
)


def pt(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": md(text), **extra}


def button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": pt(text), "action_id": "a", **extra}


def modal(blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": pt("Title"), "submit": pt("Save"), "blocks": blocks, **extra}


def test_valid_message_has_no_problems() -> None:
    blocks = [
        {"type": "header", "text": pt("Risk")},
        section("body", fields=[md("a"), md("b")], accessory=button()),
        {"type": "context", "elements": [md("ctx")]},
        {"type": "divider"},
        {"type": "actions", "elements": [button("Confirm", value="1", style="primary")]},
    ]
    assert validate_message_blocks(blocks) == []


@pytest.mark.parametrize(
    ("blocks", "message", "pointer"),
    [
        ([section()] * 51, "no more than 50 items allowed", "/blocks"),
        ([section("x" * 3001)], "must be less than 3001 characters", "/blocks/0/text/text"),
        ([section(fields=[md("f")] * 11)], "no more than 10 items allowed", "/blocks/0/fields"),
        (
            [section(fields=[md("f" * 2001)])],
            "must be less than 2001 characters",
            "/blocks/0/fields/0/text",
        ),
        (
            [{"type": "header", "text": pt("h" * 151)}],
            "must be less than 151 characters",
            "/blocks/0/text/text",
        ),
        (
            [{"type": "header", "text": md("h")}],
            "must be one of [plain_text]",
            "/blocks/0/text/type",
        ),
        (
            [{"type": "actions", "elements": [button("b" * 76)]}],
            "must be less than 76 characters",
            "/blocks/0/elements/0/text/text",
        ),
        (
            [{"type": "actions", "elements": [button(value="v" * 2001)]}],
            "must be less than 2001 characters",
            "/blocks/0/elements/0/value",
        ),
        (
            [{"type": "actions", "elements": [button(url="u" * 3001)]}],
            "must be less than 3001 characters",
            "/blocks/0/elements/0/url",
        ),
        (
            [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
            "must be less than 256 characters",
            "/blocks/0/elements/0/action_id",
        ),
        ([section(block_id="b" * 256)], "must be less than 256 characters", "/blocks/0/block_id"),
        (
            [{"type": "actions", "elements": [button()] * 26}],
            "no more than 25 items allowed",
            "/blocks/0/elements",
        ),
        (
            [{"type": "context", "elements": [md("c")] * 11}],
            "no more than 10 items allowed",
            "/blocks/0/elements",
        ),
        ([section(text="")], "must be more than 0 characters", "/blocks/0/text/text"),
        (
            [section(block_id="x"), section(block_id="x")],
            "duplicate block_id: x",
            "/blocks/1/block_id",
        ),
        ([{"type": "carousel"}], "failed to match all allowed schemas", "/blocks/0"),
        ([{"text": md("x")}], "missing required field: type", "/blocks/0"),
    ],
)
def test_message_limits(blocks: list[dict[str, Any]], message: str, pointer: str) -> None:
    assert f"{message} [json-pointer:{pointer}]" in validate_message_blocks(blocks)


def test_at_limit_is_accepted() -> None:
    blocks = [section("x" * 3000)] * 50
    assert validate_message_blocks(blocks) == []
    assert validate_message_blocks([{"type": "header", "text": pt("h" * 150)}]) == []


def test_select_and_option_limits() -> None:
    def opt(text: str = "o", value: str = "v") -> dict[str, Any]:
        return {"text": pt(text), "value": value}

    select = {
        "type": "static_select",
        "action_id": "s",
        "placeholder": pt("p" * 151),
        "options": [opt()] * 101,
    }
    problems = validate_message_blocks([section(accessory=select)])
    assert "no more than 100 items allowed [json-pointer:/blocks/0/accessory/options]" in problems
    assert (
        "must be less than 151 characters [json-pointer:/blocks/0/accessory/placeholder/text]"
    ) in problems
    select = {"type": "static_select", "action_id": "s", "options": [opt("t" * 76, "v" * 151)]}
    problems = validate_message_blocks([section(accessory=select)])
    assert (
        "must be less than 76 characters [json-pointer:/blocks/0/accessory/options/0/text/text]"
    ) in problems
    assert (
        "must be less than 151 characters [json-pointer:/blocks/0/accessory/options/0/value]"
    ) in problems
    overflow = {"type": "overflow", "action_id": "o", "options": [opt()] * 6}
    assert validate_message_blocks([section(accessory=overflow)]) == [
        "no more than 5 items allowed [json-pointer:/blocks/0/accessory/options]"
    ]


def test_confirm_dialog_limits() -> None:
    confirm = {
        "title": pt("t" * 101),
        "text": md("x" * 301),
        "confirm": pt("c" * 31),
        "deny": pt("d" * 31),
    }
    problems = validate_message_blocks([{"type": "actions", "elements": [button(confirm=confirm)]}])
    base = "/blocks/0/elements/0/confirm"
    assert f"must be less than 101 characters [json-pointer:{base}/title/text]" in problems
    assert f"must be less than 301 characters [json-pointer:{base}/text/text]" in problems
    assert f"must be less than 31 characters [json-pointer:{base}/confirm/text]" in problems
    assert f"must be less than 31 characters [json-pointer:{base}/deny/text]" in problems


def test_view_limits() -> None:
    assert validate_view(modal([section()])) == []
    problems = validate_view(
        modal(
            [section()] * 101, title=pt("t" * 25), private_metadata="m" * 3001, close=pt("c" * 25)
        )
    )
    assert "no more than 100 items allowed [json-pointer:/view/blocks]" in problems
    assert "must be less than 25 characters [json-pointer:/view/title/text]" in problems
    assert "must be less than 25 characters [json-pointer:/view/close/text]" in problems
    assert "must be less than 3001 characters [json-pointer:/view/private_metadata]" in problems


def test_modal_with_input_needs_submit_and_label_limits() -> None:
    inp = {
        "type": "input",
        "block_id": "n",
        "label": pt("l" * 2001),
        "element": {"type": "plain_text_input", "action_id": "a", "max_length": 5000},
    }
    view = {"type": "modal", "title": pt("T"), "blocks": [section(), inp]}
    problems = validate_view(view)
    assert (
        "a view must define `submit` to use an `input` block in modals "
        "[json-pointer:/view/blocks/1/input]"
    ) in problems
    assert "must be less than 2001 characters [json-pointer:/view/blocks/1/label/text]" in problems
    assert "must be between 1 and 3000 [json-pointer:/view/blocks/1/element/max_length]" in problems


def test_home_view_allows_no_title_and_size_limit() -> None:
    assert validate_view({"type": "home", "blocks": [section()]}) == []
    assert not view_too_large(modal([section()]))
    assert view_too_large(modal([section("x" * 3000)] * 90))


def test_error_bodies_follow_slack_format() -> None:
    body = chat_error_body(["no more than 50 items allowed [json-pointer:/blocks]"])
    assert body["error"] == "invalid_blocks"
    assert body["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    vbody = views_error_body(["x [json-pointer:/view/title]"])
    assert vbody["error"] == "invalid_arguments"
    assert vbody["response_metadata"]["messages"][0].startswith(
        "[ERROR] failed to match all allowed schemas"
    )
