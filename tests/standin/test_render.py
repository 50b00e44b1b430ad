from bot.devtools.standin.render import render_blocks, render_view


def test_render_message_blocks() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "At risk"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Acme* renews soon"},
            "fields": [{"type": "mrkdwn", "text": "ARR: 10k"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "from call 3"}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Confirm"},
                    "action_id": "c",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Edit"},
                    "action_id": "e",
                },
            ],
        },
    ]
    out = render_blocks(blocks)
    assert out.splitlines()[0] == "AT RISK"
    assert "*Acme* renews soon" in out
    assert "  ARR: 10k" in out
    assert "from call 3" in out
    assert "[Confirm] [Edit]" in out
    assert render_blocks([], text="fallback") == "fallback"


def test_render_modal() -> None:
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Report risk"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "r"},
            }
        ],
    }
    assert render_view(view) == "+-- Report risk --+\nReason: ____\n[Cancel] [Save]"
