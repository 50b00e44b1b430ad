"""`bot.slack.payload`: the one reading of ids, refs, text and the Interaction of a request."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.payload import (
    INT4_MAX,
    BadInput,
    BadPayload,
    Interaction,
    clean_text,
    metadata,
    parse_id,
    parse_int,
    parse_ref,
    parse_user,
    user_id_ok,
)

BAD_IDS: list[Any] = [
    "²",  # superscript two: str.isdigit() says yes, int() raises
    "١",  # Arabic-Indic one: isdigit() and int() both take it as 1
    "١٢",
    "12a",
    "",
    " 12",
    "12 ",
    "-1",
    "+1",
    "0",
    "00",
    "1.0",
    "1e3",
    "0x1f",
    str(2**31),  # one past int4
    "9" * 20,
    "1" * 11,
    "1\x00",
    "\x001",
    "1" * 100_000,
    None,
    True,
    False,
    1.0,
    [],
    {},
    -5,
    0,
    2**31,
]


@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
def test_parse_id_refuses_everything_but_ascii_digits_in_range(value: Any) -> None:
    with pytest.raises(BadInput) as caught:
        parse_id(value)
    assert "nothing changed" in str(caught.value)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("42", 42), (str(INT4_MAX), INT4_MAX)])
def test_parse_id_reads_ids(value: str, expected: int) -> None:
    assert parse_id(value) == expected
    assert parse_id(expected) == expected  # a JSON number in private_metadata


def test_parse_id_says_what_the_caller_wants_said() -> None:
    with pytest.raises(BadInput, match="Use `/case list`"):
        parse_id("abc", "Use `/case list`.")


def test_parse_int_has_its_own_range() -> None:
    assert parse_int("0", low=0, high=23) == 0 and parse_int("23", low=0, high=23) == 23
    for bad in ("24", "-1", "²", "١"):
        with pytest.raises(BadInput):
            parse_int(bad, low=0, high=23)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42:awaiting", (42, "awaiting")),
        ("42", (42, "")),
        ("42:", (42, "")),
        ("7:awaiting_close", (7, "awaiting_close")),
        ("3:churn-signal", (3, "churn-signal")),
    ],
)
def test_parse_ref(value: str, expected: tuple[int, str]) -> None:
    assert parse_ref(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        ":open",
        "x:open",
        "١:open",
        "²:open",
        "42:open:extra",
        "42:op en",
        "42:\x00",
        "42:" + "a" * 41,
        None,
        42,
        str(2**31) + ":open",
    ],
    ids=repr,
)
def test_parse_ref_refuses(value: Any) -> None:
    with pytest.raises(BadInput):
        parse_ref(value)


def test_clean_text_removes_nul_controls_and_lone_surrogates() -> None:
    assert clean_text("\x00x", 100) == "x"
    assert clean_text("a\x00b\x07c\x1bd\x7fe", 100) == "abcde"
    assert clean_text("line one\r\nline\ttwo\n", 100) == "line one\nline\ttwo\n"
    assert clean_text("ok \ud800 then", 100) == "ok  then"  # PostgreSQL refuses unpaired surrogates
    assert clean_text("Olá 😀 ١٢", 100) == "Olá 😀 ١٢"  # everything printable stays
    assert clean_text(None, 10) == ""
    assert clean_text("x" * 10_000, 3000) == "x" * 3000
    with pytest.raises(BadInput):
        clean_text(5, 10)


def test_user_ids() -> None:
    assert user_id_ok("U0MAYA") and user_id_ok("W012ABC")
    for bad in ("", "u0maya", "U", "C0CSRISK", "U0MAYA\x00", "U0MAYA ", "<@U0MAYA>", None, 5):
        assert not user_id_ok(bad)
    assert parse_user("U0LI") == "U0LI"
    with pytest.raises(BadInput, match="Pick a person"):
        parse_user("U0LI\x00")


def test_metadata() -> None:
    assert metadata("") == {} and metadata(None) == {}
    assert metadata('{"case": 3}') == {"case": 3}
    for bad in ("not json", "[1, 2]", '"text"', "3", "{", "null"):
        with pytest.raises(BadInput, match="out of date"):
            metadata(bad)


# --- the Interaction -----------------------------------------------------------------------


def _click(**action: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "vendor"},
        "user": {"id": "U0MAYA", "team_id": "T0TEST"},
        "trigger_id": "1.2.abc",
        "response_url": "http://127.0.0.1:1/response/x",
        "container": {"type": "message", "channel_id": "C0CSRISK", "message_ts": "1.000100"},
        "channel": {"id": "C0CSRISK", "name": "cs-risk"},
        "message": {"ts": "1.000100", "thread_ts": "0.999", "text": "Step 1", "blocks": []},
        "actions": [
            {"action_id": "step_yes", "block_id": "step:4", "value": "4:awaiting", **action}
        ],
    }


def test_a_click() -> None:
    i = Interaction.parse(_click())
    assert (i.kind, i.team_id, i.user_id, i.channel_id) == (
        "block_actions",
        "T0TEST",
        "U0MAYA",
        "C0CSRISK",
    )
    assert (i.action_id, i.block_id, i.value) == ("step_yes", "step:4", "4:awaiting")
    assert (i.message_ts, i.thread_ts, i.container_type, i.is_ephemeral) == (
        "1.000100",
        "0.999",
        "message",
        False,
    )
    assert i.route == "step_yes" and i.response_url.endswith("/x")


def test_selections() -> None:
    i = Interaction.parse(
        _click(
            type="static_select",
            value=None,
            selected_option={"text": {"type": "plain_text", "text": "x"}, "value": "3:2:drop"},
        )
    )
    assert i.action is not None and i.action.selected_option == "3:2:drop"
    assert i.action.picked == "3:2:drop" and i.value is None
    picked = Interaction.parse(_click(selected_user="U0LI", value=None)).action
    assert picked is not None and picked.picked == "U0LI"
    date = Interaction.parse(_click(selected_date="2026-11-30", value=None)).action
    assert date is not None and date.picked == "2026-11-30"


def test_a_command_text_is_cleaned() -> None:
    i = Interaction.parse(
        {
            "command": "/commitments",
            "text": '"\x00x"',
            "team_id": "T0TEST",
            "user_id": "U0MAYA",
            "channel_id": "C0CSRISK",
            "trigger_id": "t",
            "response_url": "http://127.0.0.1/r",
        }
    )
    assert (i.kind, i.command, i.text, i.route) == (
        "command",
        "/commitments",
        '"x"',
        "/commitments",
    )
    long = Interaction.parse({"command": "/case", "text": "1" * 100_000, "user_id": "U0MAYA"})
    assert len(long.text) == 4000


def test_a_view_submission() -> None:
    i = Interaction.parse(
        {
            "type": "view_submission",
            "team": {"id": "T0TEST"},
            "user": {"id": "U0MAYA"},
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": "step_edit",
                "private_metadata": "12:awaiting",
                "state": {
                    "values": {
                        "draft": {"draft": {"type": "plain_text_input", "value": "Hi\x00 Dana"}},
                        "recipient": {"r": {"type": "users_select", "selected_user": "U0LI"}},
                        "files": {"f": {"type": "file_input", "files": [{"id": "F1"}]}},
                    }
                },
            },
        }
    )
    assert i.view is not None and i.route == "step_edit"
    assert i.view.text("draft") == "Hi Dana" and i.view.value("recipient") == "U0LI"
    assert i.view.private_metadata == "12:awaiting" and i.view.value("missing") is None
    assert i.view.element("files").files == ({"id": "F1"},)


def test_an_event() -> None:
    i = Interaction.parse(
        {
            "type": "event_callback",
            "team_id": "T0TEST",
            "event_id": "Ev1",
            "event": {"type": "app_mention", "user": "U0MAYA", "channel": "C0CSRISK", "ts": "1.2"},
        }
    )
    assert (i.kind, i.user_id, i.channel_id, i.route, i.event_id) == (
        "event_callback",
        "U0MAYA",
        "C0CSRISK",
        "app_mention",
        "Ev1",
    )
    changed = Interaction.parse(
        {"type": "event_callback", "event": {"type": "user_change", "user": {"id": "U0MAYA"}}}
    )
    assert changed.user_id == ""  # an object under `user` is not a user id


SHAPES: list[Any] = [
    "not an object",
    [1, 2],
    {"type": "block_actions", "user": {"id": "U0MAYA"}},  # no actions
    {"type": "block_actions", "actions": []},
    {"type": "block_actions", "actions": [{}]},
    {"type": "block_actions", "actions": [{"action_id": 5}]},
    {"type": "block_actions", "actions": ["step_yes"]},
    {"type": "block_actions", "actions": "step_yes"},
    {"type": "block_actions", "actions": [{"action_id": "step_yes", "value": 5}]},
    {"type": "block_actions", "actions": [{"action_id": "x", "selected_option": "3"}]},
    {"type": "block_actions", "actions": [{"action_id": "x", "selected_options": [3]}]},
    {"type": "block_actions", "actions": [{"action_id": "x", "files": "F1"}]},
    {"type": "block_actions", "actions": [{"action_id": "x"}], "user": {"id": "U0MAYA\x00"}},
    {"type": "block_actions", "actions": [{"action_id": "x"}], "user": {"id": 5}},
    {"type": "block_actions", "actions": [{"action_id": "x"}], "team": {"id": "T0\x00"}},
    {"type": "block_actions", "actions": [{"action_id": "x"}], "user": "junk"},
    {"type": "block_actions", "actions": [{"action_id": "x"}], "container": "junk"},
    {"type": "view_submission", "view": {"type": "modal", "state": {}}},  # no callback_id
    {"type": "view_submission", "view": {"callback_id": "x"}},  # no type: Bolt indexes it
    {"type": "workflow_step_edit", "callback_id": "x"},
    {"type": "view_submission", "view": "V1"},
    {
        "type": "view_submission",
        "view": {"type": "modal", "callback_id": "x", "private_metadata": 5},
    },
    {
        "type": "view_submission",
        "view": {"type": "modal", "callback_id": "x", "state": {"values": {"b": 5}}},
    },
    {
        "type": "view_submission",
        "view": {"type": "modal", "callback_id": "x", "state": {"values": []}},
    },
    {"type": "shortcut"},
    {"type": "block_suggestion", "value": "acme"},
    {"type": 5},
    {"command": "case", "text": "1"},
    {"command": "/case", "text": 5},
    {"type": "event_callback", "event": "app_mention"},
    {"type": "event_callback", "event": {"type": "message", "user": "U\x00"}},
    {"type": "event_callback", "event": {"type": "app_home_opened", "channel": "D0\x00"}},
]


@pytest.mark.parametrize("body", SHAPES, ids=repr)
def test_bodies_not_shaped_like_slack_are_bad_payloads(body: Any) -> None:
    with pytest.raises(BadPayload):
        Interaction.parse(body)


@pytest.mark.parametrize(
    "action",
    [{"value": None}, {"value": ""}, {"value": "²:awaiting"}, {"value": "١:awaiting"}],
    ids=repr,
)
def test_well_formed_bodies_with_useless_values_parse_and_their_ids_do_not(
    action: dict[str, Any],
) -> None:
    i = Interaction.parse(_click(**action))
    with pytest.raises(BadInput) as caught:
        parse_ref(i.value)
    assert not isinstance(caught.value, BadPayload)


def test_private_metadata_that_is_not_json_is_bad_input_for_the_person() -> None:
    i = Interaction.parse(
        {
            "type": "view_submission",
            "user": {"id": "U0MAYA"},
            "view": {"type": "modal", "callback_id": "x", "private_metadata": "{not json"},
        }
    )
    assert i.view is not None
    with pytest.raises(BadInput) as caught:
        i.view.metadata()
    assert not isinstance(caught.value, BadPayload)
