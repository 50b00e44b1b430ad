"""@Followthrough mentions get a short, useful answer: what the app does and how to start."""

from __future__ import annotations

from slack_bolt import App, Say

from bot.runtime import Runtime

HELP = (
    "Hi! I keep track of what gets promised on customer calls and run playbooks when an "
    "account is at risk.\n"
    "• Upload a call transcript (Zoom/Teams .vtt, .srt, .txt, .json, .docx) in a DM with me or "
    "in a channel I'm in, or use the *Extract commitments* message shortcut.\n"
    "• `/commitments` shows your open commitments (`/commitments @someone`, "
    "`/commitments Acme`, `/commitments settings`).\n"
    "• `/report-risk Acme` starts the playbook for an account at risk; `/case list` shows cases.\n"
    "• `/cs-report` shows what the team's cases and commitments teach."
)


def register(app: App, rt: Runtime) -> None:
    @app.event("app_mention")
    def on_mention(event: dict, say: Say) -> None:
        say(text=HELP, thread_ts=event.get("thread_ts") or event.get("ts"))
