"""@Followthrough mentions get a short, useful answer: what the app does and how to start."""

from __future__ import annotations

from bot.slack.listeners.base import Call, Routes

routes = Routes()
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


@routes.event("app_mention")
def on_mention(call: Call) -> None:
    i = call.interaction
    event = i.event or {}
    call.client.chat_postMessage(
        channel=i.channel_id, text=HELP, thread_ts=i.thread_ts or str(event.get("ts") or "")
    )
