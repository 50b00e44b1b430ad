"""`POST /webhooks/zoom` and `POST /transcripts`: recorders tell us a transcript exists.

Zoom (developers.zoom.us): `endpoint.url_validation` is answered with the HMAC of its
`plainToken`; every request's `x-zm-signature` (v0, HMAC of `v0:{ts}:{body}` with the app's
Secret Token) is checked on the raw body; `recording.transcript_completed` carries the
transcript's `download_url` and a `download_token` (24 h). Zoom wants 200 within 3 s, so the
delivery is stored (once per meeting UUID + file id) and the worker downloads it.

`/transcripts` (`followthrough.transcript/v1`, signed like `/signals`) is for other
recorders and scripts: the text inline (`content` or `content_base64`) or a `download_url`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.db import session_scope
from bot.inbound import HttpError, headers_of, parse_json, read_body
from bot.recorders import service
from bot.runtime import Runtime
from bot.signals import verify
from bot.signals.inbound import make_route
from bot.signals.store import only_team

MAX_ZOOM_BODY = 1024 * 1024
SCHEMA = "followthrough.transcript/v1"


def _team(rt: Runtime) -> str:
    with session_scope(rt.engine) as session:
        team = only_team(session)
    if team is None:
        raise HttpError(503, "no single workspace to file this under")
    return team


def _when(text: Any) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def zoom_items(data: dict[str, Any]) -> list[service.Incoming]:
    """The transcript files of a `recording.transcript_completed` event (pure)."""
    payload: dict[str, Any] = data["payload"] if isinstance(data.get("payload"), dict) else {}
    obj: dict[str, Any] = payload["object"] if isinstance(payload.get("object"), dict) else {}
    token = data.get("download_token") or payload.get("download_token")
    uuid = str(obj.get("uuid") or obj.get("id") or "")
    topic = str(obj.get("topic") or "Zoom call")
    out = []
    for f in obj.get("recording_files") or []:
        if not isinstance(f, dict):
            continue
        kind = str(f.get("file_type") or "").upper()
        ext = str(f.get("file_extension") or "VTT").lower()
        if kind != "TRANSCRIPT" and f.get("recording_type") != "audio_transcript":
            continue
        start = _when(obj.get("start_time"))
        stamp = f"{start:%Y-%m-%d}" if start else "call"
        out.append(
            service.Incoming(
                vendor="zoom",
                external_id=f"{uuid}:{f.get('id') or f.get('download_url')}",
                topic=topic,
                host_email=str(obj.get("host_email") or "") or None,
                started_at=start,
                filename=f"{topic[:80]} {stamp}.{ext}".replace("/", "-"),
                download_url=str(f.get("download_url") or "") or None,
                download_token=str(token) if token else None,
            )
        )
    return out


def zoom(rt: Runtime, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if environ.get("REQUEST_METHOD") != "POST":
        raise HttpError(405, "POST Zoom events here")
    secret = rt.settings.zoom_webhook_secret_token
    body = read_body(environ, MAX_ZOOM_BODY)
    if not secret:
        raise HttpError(503, "Zoom is not set up: set ZOOM_WEBHOOK_SECRET_TOKEN")
    try:
        verify.zoom(secret, body, headers_of(environ))
    except verify.Unauthorized as exc:
        raise HttpError(401, str(exc)) from None
    data = parse_json(body)
    if not isinstance(data, dict):
        raise HttpError(400, "expected a Zoom event object")
    event = data.get("event")
    if event == "endpoint.url_validation":
        plain = (
            ((data.get("payload") or {}).get("plainToken"))
            if isinstance(data.get("payload"), dict)
            else None
        )
        if not isinstance(plain, str) or not plain:
            raise HttpError(400, "url_validation without payload.plainToken")
        return 200, verify.zoom_url_validation(secret, plain)
    if event != "recording.transcript_completed":
        return 200, {"ok": True, "ignored": event}
    items = zoom_items(data)
    if not items:
        raise HttpError(400, "no transcript file in payload.object.recording_files")
    team = _team(rt)
    new = sum(service.accept(rt.engine, team, item) for item in items)
    return 200, {"ok": True, "accepted": new, "duplicates": len(items) - new}


class Participant(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)


class TranscriptIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    schema_: str | None = Field(default=None, alias="schema")
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(default="recorder", max_length=32)
    title: str = Field(default="Call", max_length=300)
    started_at: dt.datetime | None = None
    host_email: str | None = Field(default=None, max_length=254)
    participants: list[Participant] = Field(default_factory=list, max_length=200)
    filename: str | None = Field(default=None, max_length=200)
    format: str = Field(default="vtt", max_length=8)
    content: str | None = None
    content_base64: str | None = None
    download_url: str | None = Field(default=None, max_length=2000)
    download_token: str | None = Field(default=None, max_length=4000)


def transcripts(rt: Runtime, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if environ.get("REQUEST_METHOD") != "POST":
        raise HttpError(405, "POST transcripts here")
    limit = int(rt.settings.max_transcript_mb * 1024 * 1024 * 1.4) + 65536  # base64 + JSON
    body = read_body(environ, limit)
    secret = rt.settings.transcripts_webhook_secret
    if not secret:
        raise HttpError(503, "transcripts are not set up: set TRANSCRIPTS_WEBHOOK_SECRET")
    try:
        verify.standard_webhooks(secret, body, headers_of(environ))
    except verify.Unauthorized as exc:
        raise HttpError(401, str(exc)) from None
    try:
        item = TranscriptIn.model_validate(parse_json(body))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise HttpError(400, f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    content = item.content.encode() if item.content is not None else None
    if item.content_base64 is not None:
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "content_base64 is not base64") from None
    if content is None and not item.download_url:
        raise HttpError(400, "send content, content_base64 or download_url")
    start = (
        item.started_at.replace(tzinfo=dt.UTC)
        if item.started_at and not item.started_at.tzinfo
        else item.started_at
    )
    name = (
        item.filename or f"{item.title[:80]} {start:%Y-%m-%d}.{item.format}"
        if start
        else f"{item.title[:80]}.{item.format}"
    )
    new = service.accept(
        rt.engine,
        _team(rt),
        service.Incoming(
            vendor=item.source.lower(),
            external_id=item.id,
            topic=item.title,
            host_email=item.host_email,
            participants=tuple(p.model_dump() for p in item.participants),
            started_at=start,
            filename=name.replace("/", "-"),
            download_url=item.download_url,
            download_token=item.download_token,
            content=content,
        ),
    )
    return 202, {"ok": True, "accepted": int(new), "duplicates": int(not new)}


ROUTES = [
    ("/webhooks/zoom", lambda rt: make_route(rt, zoom)),
    ("/transcripts", lambda rt: make_route(rt, transcripts)),
]
