"""Email steps: Yes sends through SMTP_URL when set (a tiny local SMTP server here)."""

from __future__ import annotations

import datetime as dt
import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from sqlmodel import select

from bot.cases.blocks import YES
from bot.cases.engine import start_case
from bot.devtools.world import World
from bot.email import EmailError, send_email, split_subject
from bot.models import CaseStep

MON_9AM_NY = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 localhost ready")
        mail: dict[str, Any] = {"rcpt": []}
        while line := self.rfile.readline():
            cmd = line.decode().strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in {"EHLO", "HELO"}:
                self.reply("250 localhost")
            elif verb == "MAIL":
                mail["from"] = cmd
                self.reply("250 OK")
            elif verb == "RCPT":
                mail["rcpt"].append(cmd.split(":", 1)[1].strip(" <>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                mail["data"] = data
                self.server.mails.append(mail)  # type: ignore[attr-defined]
                mail = {"rcpt": []}
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def smtp_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.mails = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_send_email_and_subject_line(smtp_server: Any) -> None:
    port = smtp_server.server_address[1]
    subject, body = split_subject("Subject: Quick call?\n\nHi Lee", "fallback")
    assert (subject, body) == ("Quick call?", "Hi Lee")
    assert split_subject("Hi Lee", "fallback") == ("fallback", "Hi Lee")
    send_email(f"smtp://127.0.0.1:{port}", "maya@vendor.io", "lee@acme.com", subject, body)
    (mail,) = smtp_server.mails
    assert mail["rcpt"] == ["lee@acme.com"]
    parsed = message_from_bytes(mail["data"])
    assert parsed["Subject"] == "Quick call?" and "Hi Lee" in parsed.get_payload()
    with pytest.raises(EmailError) as refused:
        send_email("smtp://127.0.0.1:1", "a@b.io", "c@d.io", "s", "b", timeout=2)
    assert refused.value.retryable
    with pytest.raises(EmailError):
        send_email("http://nope", "a@b.io", "c@d.io", "s", "b")


def test_yes_on_an_email_step_sends_it_through_smtp(
    database_url: str, smtp_server: Any, kit: Any
) -> None:
    port = smtp_server.server_address[1]
    with World(database_url, smtp_url=f"smtp://127.0.0.1:{port}") as world:
        email_step = {**kit.DEFAULT_STEPS[1], "delay_seconds": 0}
        case_id = kit.make_case(world.rt.engine, people=False, steps=[email_step])
        with world.session() as s:
            start_case(s, kit.TEAM, case_id, "U0MAYA", MON_9AM_NY, settings=world.settings)
        world.tick(MON_9AM_NY)
        dm = next(m for m in world.standin.messages("U0MAYA") if m["text"].startswith("Step 1"))
        world.driver.block_action(YES, user_id="U0MAYA", message=dm)
        world.standin.wait_for(
            "chat.postMessage", predicate=lambda c: "resolved" in str(c.args.get("text"))
        )
        (mail,) = smtp_server.mails
        assert mail["rcpt"] == ["lee@acme.com"] and "maya@vendor.io" in mail["from"]
        assert message_from_bytes(mail["data"])["Subject"] == "Checking in"
        with world.session() as s:
            row = s.exec(select(CaseStep).where(CaseStep.case_id == case_id)).one()
            assert (row.status, row.delivered_ts) == ("done", "email")
        world.standin.wait_message(
            "U0MAYA", lambda m: m["ts"] == dm["ts"] and "lee@acme.com by email" in str(m)
        )
