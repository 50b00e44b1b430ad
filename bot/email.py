"""Sending one email through SMTP_URL (smtp://user:pw@host:port, smtps://… for TLS).

Only used when a person said Yes to an email step; without SMTP_URL the app offers the text
to copy and a mailto: link instead. `?starttls=1` upgrades a plain connection.
"""

from __future__ import annotations

import smtplib
import ssl
import urllib.parse
from email.message import EmailMessage


class EmailError(RuntimeError):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def build_message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def split_subject(text: str, default: str) -> tuple[str, str]:
    """A draft may start with 'Subject: …'; otherwise the default subject is used."""
    first, _, rest = text.strip().partition("\n")
    if first.lower().startswith("subject:"):
        return first.split(":", 1)[1].strip() or default, rest.strip()
    return default, text.strip()


def send_email(
    smtp_url: str, sender: str, to: str, subject: str, body: str, timeout: float = 20.0
) -> None:
    parts = urllib.parse.urlsplit(smtp_url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise EmailError("SMTP_URL must look like smtp://user:pw@host:port", retryable=False)
    query = dict(urllib.parse.parse_qsl(parts.query))
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    msg = build_message(sender, to, subject, body)
    try:
        if parts.scheme == "smtps":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                parts.hostname, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = smtplib.SMTP(parts.hostname, port, timeout=timeout)
        with conn:
            if query.get("starttls") in {"1", "true", "yes"}:
                conn.starttls(context=ssl.create_default_context())
            if parts.username:
                conn.login(
                    urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
                )
            conn.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise EmailError(f"recipient refused: {to}", retryable=False) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise EmailError("SMTP login refused", retryable=False) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise EmailError(f"SMTP failed: {type(exc).__name__}", retryable=True) from exc
