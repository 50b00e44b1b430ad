"""The README's "Connect it to Slack", to the letter: its own commands, read from README.md,
run one after the other in a folder laid out like a fresh clone, against the local stand-in,
with the shipped samples — until a signed /report-risk opens a modal that knows the imported
accounts."""

from __future__ import annotations

from pathlib import Path

from bot.devtools.readme import (
    SIGNING_SECRET,
    TEAM_ID,
    connect_commands,
    copy_for_test,
    follow_readme,
)
from bot.devtools.standin import SlackDriver, SlackStandin

REPO = Path(__file__).resolve().parents[2]


def test_the_steps_are_the_ones_a_new_user_reads() -> None:
    verbs = [c.split()[1] for c in connect_commands()]
    assert verbs == [
        "manifest",
        "manifest",
        "migrate",
        "accounts",
        "contacts",
        "people",
        "doctor",
        "serve",
        "socket",
    ]


def test_connect_it_to_slack_works_to_the_letter(tmp_path: Path) -> None:
    clone = copy_for_test(REPO, tmp_path / "followthrough")
    with SlackStandin() as standin:
        followed = follow_readme(clone, standin)
        try:
            results = followed.results
            for command, result in results.items():
                assert "Traceback" not in result.stdout + result.stderr, command
            urls = followed.manifest["settings"]["event_subscriptions"]["request_url"]
            assert urls == "https://ft.example.com/slack/events"
            imported = {c.split()[1]: r.stdout for c, r in results.items()}
            assert "Workspace T0VENDOR:\n5 created, 0 updated, 0 skipped" in imported["accounts"]
            assert "8 created, 0 updated, 0 skipped" in imported["contacts"]
            assert "6 updated, 0 skipped" in imported["people"]
            assert "Ready:" in imported["doctor"] and "✗" not in imported["doctor"]

            driver = SlackDriver(
                SIGNING_SECRET,
                TEAM_ID,
                standin,
                followed.events_url,
                user_id="U0MAYA",
                channel_id="C0CSRISK",
            )
            assert driver.command("/report-risk", "Acme Corp").status == 200
            standin.wait_for("views.open", lambda c: c.ok)
            [modal] = standin.open_views("U0MAYA", TEAM_ID)
            picked = modal["blocks"][0]["element"]["initial_option"]["text"]["text"]
            assert picked == "Acme Corp"
            offered = driver.block_suggestion("account_select", "")
            names = {o["text"]["text"] for o in offered.json["options"]}
            assert names == {"Acme Corp", "Globex", "Initech", "Umbrella Health", "Hooli"}
        finally:
            followed.stop()
