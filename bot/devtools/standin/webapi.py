"""Web API method handlers of the stand-in (contract §3.5): arguments in, Slack body out.

Each handler receives a `Ctx` and returns the success body, or raises `ApiError`, which the HTTP
layer turns into `{"ok": false, "error": …}` with HTTP 200 — as Slack does.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .blockkit import (
    MESSAGE_TEXT_MAX,
    chat_error_body,
    validate_message_blocks,
    validate_view,
    view_too_large,
    views_error_body,
)
from .state import Channel, PendingUpload, SlackState, StoredFile, Team


class ApiError(Exception):
    """A Slack `ok: false` answer; `body` may carry extra keys (needed/provided, errors…)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.body: dict[str, Any] = {"ok": False, "error": error, **extra}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ApiError:
        extra = {k: v for k, v in body.items() if k not in ("ok", "error")}
        return cls(body["error"], **extra)


@dataclass
class Ctx:
    state: SlackState
    team: Team
    args: dict[str, Any]
    base_url: str
    trigger_ttl: float

    def arg(self, name: str, default: Any = None) -> Any:
        value = self.args.get(name, default)
        return default if value == "" and default is not None else value

    def flag(self, name: str) -> bool:
        value = self.args.get(name)
        return value in (True, "true", "1", 1)


Handler = Callable[[Ctx], dict[str, Any]]

# -- argument helpers --------------------------------------------------------------------------


def _json_arg(value: Any, error: str) -> Any:
    """Blocks/views/files may arrive as real JSON (JSON body) or as a JSON string (form)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ApiError(error) from exc
    return value


def _blocks(ctx: Ctx) -> list[dict[str, Any]] | None:
    raw = ctx.args.get("blocks")
    if raw is None or raw == "":
        return None
    blocks = _json_arg(raw, "invalid_blocks_format")
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    problems = validate_message_blocks(blocks)
    if problems:
        raise ApiError.from_body(chat_error_body(problems))
    return blocks


def _channel(
    ctx: Ctx, name: str = "channel", *, member: bool = True, channel_id: str | None = None
) -> Channel:
    if channel_id is None:
        channel_id = str(ctx.arg(name) or "")
    chan = ctx.state.channel(ctx.team.id, channel_id)
    if chan is None:
        raise ApiError("channel_not_found")
    if member and ctx.team.bot_user_id not in chan.members:
        raise ApiError("not_in_channel")
    return chan


def _page(items: list[Any], ctx: Ctx) -> tuple[list[Any], str]:
    """Cursor pagination: the cursor encodes the next offset, like Slack's opaque cursors."""
    cursor = ctx.arg("cursor") or ""
    start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
    limit = int(ctx.arg("limit") or 0) or len(items) or 1
    page = items[start : start + limit]
    nxt = start + limit
    next_cursor = base64.b64encode(f"next:{nxt}".encode()).decode() if nxt < len(items) else ""
    return page, next_cursor


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if k != "channel"}


# -- auth / team / users -----------------------------------------------------------------------


def auth_test(ctx: Ctx) -> dict[str, Any]:
    t = ctx.team
    bot_user = ctx.state.user(t.id, t.bot_user_id) or {}
    return {
        "url": f"https://{t.domain}.slack.com/",
        "team": t.name,
        "user": bot_user.get("name", "bot"),
        "team_id": t.id,
        "user_id": t.bot_user_id,
        "bot_id": t.bot_id,
        "is_enterprise_install": False,
    }


def team_info(ctx: Ctx) -> dict[str, Any]:
    t = ctx.team
    return {
        "team": {
            "id": t.id,
            "name": t.name,
            "domain": t.domain,
            "email_domain": "",
            "icon": {"image_default": True},
        }
    }


def users_info(ctx: Ctx) -> dict[str, Any]:
    user_id = ctx.arg("user") or ""
    if ctx.state.user(ctx.team.id, user_id) is None:
        raise ApiError("user_not_found")
    return {"user": ctx.state.user_object(ctx.team.id, user_id)}


def users_lookup_by_email(ctx: Ctx) -> dict[str, Any]:
    email = (ctx.arg("email") or "").lower()
    for (team_id, user_id), user in ctx.state.users.items():
        if team_id == ctx.team.id and user["profile"].get("email", "").lower() == email:
            return {"user": ctx.state.user_object(team_id, user_id)}
    raise ApiError("users_not_found")


def users_list(ctx: Ctx) -> dict[str, Any]:
    members = [dict(u) for (tid, _), u in ctx.state.users.items() if tid == ctx.team.id]
    page, cursor = _page(members, ctx)
    return {
        "members": page,
        "cache_ts": int(time.time()),
        "response_metadata": {"next_cursor": cursor},
    }


# -- conversations ------------------------------------------------------------------------------


def conversations_info(ctx: Ctx) -> dict[str, Any]:
    return {"channel": ctx.state.channel_object(_channel(ctx, member=False))}


def conversations_members(ctx: Ctx) -> dict[str, Any]:
    page, cursor = _page(list(_channel(ctx, member=False).members), ctx)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


def conversations_join(ctx: Ctx) -> dict[str, Any]:
    chan = _channel(ctx, member=False)
    if chan.is_private or chan.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    body: dict[str, Any] = {}
    if ctx.team.bot_user_id in chan.members:
        body["warning"] = "already_in_channel"
    else:
        chan.members.append(ctx.team.bot_user_id)
    body["channel"] = ctx.state.channel_object(chan)
    return body


def conversations_open(ctx: Ctx) -> dict[str, Any]:
    if ctx.arg("channel"):
        return {"channel": ctx.state.channel_object(_channel(ctx, member=False))}
    raw = ctx.arg("users")
    if not raw:
        raise ApiError("users_list_not_supplied")
    users = raw if isinstance(raw, list) else [u for u in str(raw).split(",") if u]
    if len(users) > 8:
        raise ApiError("too_many_users")
    for user_id in users:
        user = ctx.state.user(ctx.team.id, user_id)
        if user is None:
            raise ApiError("user_not_found")
        if user["deleted"]:
            raise ApiError("user_disabled")
    if len(users) > 1:
        return {"channel": {"id": ctx.state.open_mpim(ctx.team.id, list(users))}}
    existed = (ctx.team.id, users[0]) in ctx.state.dms
    dm_id = ctx.state.open_dm(ctx.team.id, users[0])
    body: dict[str, Any] = {"channel": {"id": dm_id}}
    if ctx.flag("return_im"):
        body["channel"] = ctx.state.channel_object(ctx.state.channels[dm_id])
    if existed:
        body.update(no_op=True, already_open=True)
    return body


# -- chat ----------------------------------------------------------------------------------------


def _check_text(ctx: Ctx, blocks: list[dict[str, Any]] | None) -> str:
    text = ctx.arg("text") or ""
    if not text and not blocks and not ctx.arg("attachments") and not ctx.arg("markdown_text"):
        raise ApiError("no_text")
    attachments = ctx.arg("attachments")
    if attachments:
        parsed = _json_arg(attachments, "invalid_attachments")
        if isinstance(parsed, list) and len(parsed) > 100:
            raise ApiError("too_many_attachments")
    return str(text or ctx.arg("markdown_text") or "")


METADATA_MAX = 16_000  # Slack does not publish the exact limit; this is generous


def _metadata(ctx: Ctx) -> dict[str, Any] | None:
    """`metadata={"event_type": …, "event_payload": {…}}` (JSON body or a form's JSON string)."""
    raw = ctx.args.get("metadata")
    if raw is None or raw == "":
        return None
    meta = _json_arg(raw, "invalid_metadata_format")
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("event_type"), str)
        or not meta["event_type"]
        or not isinstance(meta.get("event_payload", {}), dict)
    ):
        raise ApiError("invalid_metadata_format")
    if len(json.dumps(meta)) > METADATA_MAX:
        raise ApiError("metadata_too_large")
    return {"event_type": meta["event_type"], "event_payload": meta.get("event_payload") or {}}


def chat_post_message(ctx: Ctx) -> dict[str, Any]:
    chan = _channel(ctx)
    blocks = _blocks(ctx)
    text = _check_text(ctx, blocks)
    metadata = _metadata(ctx)
    msg = ctx.state.add_message(
        chan,
        user=ctx.team.bot_user_id,
        text=text,
        blocks=blocks,
        thread_ts=ctx.arg("thread_ts") or None,
        bot_id=ctx.team.bot_id,
        extra={"metadata": metadata} if metadata else None,
    )
    return {"channel": chan.id, "ts": msg["ts"], "message": _public(msg)}


HISTORY_SCOPE = {"im": "im:history", "private": "groups:history", "public": "channels:history"}


def conversations_history(ctx: Ctx) -> dict[str, Any]:
    """Newest first, top-level messages only (replies live in conversations.replies), with
    `oldest`/`latest`/`inclusive`, cursor paging, and metadata only when asked for."""
    chan = _channel(ctx, member=False)
    kind = "im" if chan.is_im else "private" if chan.is_private else "public"
    needed = HISTORY_SCOPE[kind]
    if needed not in ctx.team.scopes:
        raise ApiError("missing_scope", needed=needed, provided=",".join(ctx.team.scopes))
    if not chan.is_im and ctx.team.bot_user_id not in chan.members:
        raise ApiError("not_in_channel")
    try:
        oldest = float(ctx.arg("oldest") or 0)
        latest = float(ctx.arg("latest") or 0) or float("inf")
        limit = int(ctx.arg("limit") or 100)
    except ValueError as exc:
        raise ApiError("invalid_arguments") from exc
    inclusive = ctx.flag("inclusive")
    with_meta = ctx.flag("include_all_metadata")

    def within(ts: float) -> bool:
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    top = [
        m
        for m in ctx.state.messages.get(chan.id, [])
        if (not m.get("thread_ts") or m.get("thread_ts") == m["ts"]) and within(float(m["ts"]))
    ]
    top.sort(key=lambda m: float(m["ts"]), reverse=True)
    ctx.args["limit"] = max(1, min(limit, 999))
    page, cursor = _page(top, ctx)
    out = []
    for m in page:
        shown = _public(m)
        if not with_meta:
            shown.pop("metadata", None)
        out.append(shown)
    return {
        "messages": out,
        "has_more": bool(cursor),
        "pin_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


def chat_post_ephemeral(ctx: Ctx) -> dict[str, Any]:
    chan = _channel(ctx)
    user_id = ctx.arg("user") or ""
    if user_id not in chan.members:
        raise ApiError("user_not_in_channel")
    blocks = _blocks(ctx)
    text = _check_text(ctx, blocks)
    eph = ctx.state.add_ephemeral(
        team_id=ctx.team.id,
        channel_id=chan.id,
        user=user_id,
        text=text,
        blocks=blocks,
        thread_ts=ctx.arg("thread_ts"),
        source="chat.postEphemeral",
    )
    return {"message_ts": eph["message_ts"]}


def _own_message(ctx: Ctx, ts_arg: str, denied: str) -> tuple[Channel, dict[str, Any]]:
    chan = _channel(ctx, member=False)
    msg = ctx.state.find_message(chan.id, str(ctx.arg(ts_arg) or ""))
    if msg is None:
        raise ApiError("message_not_found")
    if msg.get("user") != ctx.team.bot_user_id:
        raise ApiError(denied)
    return chan, msg


def chat_update(ctx: Ctx) -> dict[str, Any]:
    chan, msg = _own_message(ctx, "ts", "cant_update_message")
    text = ctx.arg("text")
    if text is not None and len(str(text)) > MESSAGE_TEXT_MAX:
        raise ApiError("msg_too_long")
    blocks = _blocks(ctx)
    if text is None and blocks is None and "blocks" not in ctx.args:
        raise ApiError("no_text")
    if text is not None:
        msg["text"] = str(text)
    if blocks is not None:
        msg["blocks"] = blocks
    elif ctx.args.get("blocks") == []:
        msg.pop("blocks", None)
    msg["edited"] = {"user": ctx.team.bot_user_id, "ts": ctx.state.next_ts()}
    return {"channel": chan.id, "ts": msg["ts"], "text": msg["text"], "message": _public(msg)}


def chat_delete(ctx: Ctx) -> dict[str, Any]:
    chan, msg = _own_message(ctx, "ts", "cant_delete_message")
    ctx.state.messages[chan.id].remove(msg)
    return {"channel": chan.id, "ts": msg["ts"]}


def chat_get_permalink(ctx: Ctx) -> dict[str, Any]:
    chan = _channel(ctx, member=False)
    ts = str(ctx.arg("message_ts") or "")
    if ctx.state.find_message(chan.id, ts) is None:
        raise ApiError("message_not_found")
    link = f"https://{ctx.team.domain}.slack.com/archives/{chan.id}/p{ts.replace('.', '')}"
    return {"channel": chan.id, "permalink": link}


def reactions_add(ctx: Ctx) -> dict[str, Any]:
    chan = _channel(ctx, member=False)
    msg = ctx.state.find_message(chan.id, str(ctx.arg("timestamp") or ""))
    if msg is None:
        raise ApiError("message_not_found")
    name = str(ctx.arg("name") or "")
    if not name:
        raise ApiError("invalid_name")
    reactions = msg.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if ctx.team.bot_user_id in reaction["users"]:
                raise ApiError("already_reacted")
            reaction["users"].append(ctx.team.bot_user_id)
            reaction["count"] += 1
            return {}
    reactions.append({"name": name, "users": [ctx.team.bot_user_id], "count": 1})
    return {}


# -- views ---------------------------------------------------------------------------------------


def _view_arg(ctx: Ctx, kind: str | None = None) -> dict[str, Any]:
    view = _json_arg(ctx.arg("view"), "invalid_arguments")
    if view is None:
        raise ApiError("invalid_arguments")
    if kind is not None and isinstance(view, dict) and view.get("type") != kind:
        raise ApiError.from_body(views_error_body([f"must be {kind} [json-pointer:/view/type]"]))
    problems = validate_view(view)
    if problems:
        raise ApiError.from_body(views_error_body(problems))
    if view_too_large(view):
        raise ApiError("view_too_large")
    ext = view.get("external_id")
    if ext:
        for vid, existing in ctx.state.views.items():
            owner_team = ctx.state.view_owner[vid][0]
            if owner_team == ctx.team.id and existing.get("external_id") == ext:
                raise ApiError("duplicate_external_id")
    return view


def _take_trigger(ctx: Ctx) -> str:
    trigger_id = str(ctx.arg("trigger_id") or ctx.arg("interactivity_pointer") or "")
    trig = ctx.state.triggers.get(trigger_id)
    if trig is None or trig.team_id not in (None, ctx.team.id):
        raise ApiError("invalid_trigger_id")
    if trig.used:
        raise ApiError("exchanged_trigger_id")
    if time.monotonic() - trig.created > ctx.trigger_ttl:
        raise ApiError("expired_trigger_id")
    trig.used = True
    return trig.user_id


def views_open(ctx: Ctx) -> dict[str, Any]:
    user_id = _take_trigger(ctx)
    body = _view_arg(ctx, "modal")
    view = ctx.state.make_view(ctx.team.id, user_id, body)
    ctx.state.stacks[(ctx.team.id, user_id)] = [view["id"]]
    return {"view": view}


def views_push(ctx: Ctx) -> dict[str, Any]:
    user_id = _take_trigger(ctx)
    body = _view_arg(ctx, "modal")
    stack = ctx.state.stacks.setdefault((ctx.team.id, user_id), [])
    if len(stack) >= 3:
        raise ApiError("push_limit_reached")
    previous = stack[-1] if stack else None
    root = stack[0] if stack else None
    view = ctx.state.make_view(ctx.team.id, user_id, body, previous=previous, root=root)
    stack.append(view["id"])
    return {"view": view}


def views_update(ctx: Ctx) -> dict[str, Any]:
    view_id = ctx.arg("view_id")
    external_id = ctx.arg("external_id")
    if not view_id and external_id:
        view_id = next(
            (
                vid
                for vid, v in ctx.state.views.items()
                if v.get("external_id") == external_id
                and ctx.state.view_owner[vid][0] == ctx.team.id
            ),
            None,
        )
    current = ctx.state.views.get(str(view_id or ""))
    if current is None or ctx.state.view_owner[current["id"]][0] != ctx.team.id:
        raise ApiError("not_found")
    expected = ctx.arg("hash")
    if expected and expected != current["hash"]:
        raise ApiError("hash_conflict")
    body = _view_arg_for_update(ctx, current)
    team_id, user_id = ctx.state.view_owner[current["id"]]
    view = ctx.state.make_view(
        team_id,
        user_id,
        body,
        previous=current["previous_view_id"],
        root=current["root_view_id"],
        view_id=current["id"],
    )
    return {"view": view}


def _view_arg_for_update(ctx: Ctx, current: dict[str, Any]) -> dict[str, Any]:
    # external_id may stay the same on update: skip the duplicate check against itself.
    saved = current.get("external_id")
    current["external_id"] = ""
    try:
        return _view_arg(ctx)
    finally:
        current["external_id"] = saved


def views_publish(ctx: Ctx) -> dict[str, Any]:
    user_id = str(ctx.arg("user_id") or "")
    if ctx.state.user(ctx.team.id, user_id) is None:
        raise ApiError("user_not_found")
    key = (ctx.team.id, user_id)
    existing_id = ctx.state.homes.get(key)
    expected = ctx.arg("hash")
    if expected and existing_id and expected != ctx.state.views[existing_id]["hash"]:
        raise ApiError("hash_conflict")
    saved = ctx.state.views[existing_id].get("external_id") if existing_id else None
    if existing_id:
        ctx.state.views[existing_id]["external_id"] = ""
    try:
        body = _view_arg(ctx, "home")
    finally:
        if existing_id:
            ctx.state.views[existing_id]["external_id"] = saved
    view = ctx.state.make_view(ctx.team.id, user_id, body, view_id=existing_id)
    ctx.state.homes[key] = view["id"]
    return {"view": view}


# -- files ---------------------------------------------------------------------------------------


def _file(ctx: Ctx) -> StoredFile:
    stored = ctx.state.files.get(str(ctx.arg("file") or ""))
    if stored is None or stored.team_id != ctx.team.id:
        raise ApiError("file_not_found")
    return stored


def files_info(ctx: Ctx) -> dict[str, Any]:
    return {
        "file": ctx.state.file_object(_file(ctx), ctx.base_url),
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


def files_get_upload_url_external(ctx: Ctx) -> dict[str, Any]:
    filename = str(ctx.arg("filename") or "")
    try:
        length = int(ctx.arg("length") or 0)
    except (TypeError, ValueError) as exc:
        raise ApiError("invalid_arguments") from exc
    if not filename or length <= 0:
        raise ApiError("missing_argument" if filename else "invalid_arguments")
    file_id = ctx.state.new_id("F")
    ctx.state.pending_uploads[file_id] = PendingUpload(file_id, ctx.team.id, filename, length)
    return {"upload_url": f"{ctx.base_url}/upload/v1/{file_id}", "file_id": file_id}


def files_complete_upload_external(ctx: Ctx) -> dict[str, Any]:
    entries = _json_arg(ctx.arg("files"), "invalid_arguments")
    if not isinstance(entries, list) or not entries:
        raise ApiError("invalid_arguments")
    raw_channels = ctx.arg("channel_id") or ctx.arg("channels") or ""
    channel_ids = (
        raw_channels
        if isinstance(raw_channels, list)
        else [c for c in str(raw_channels).split(",") if c]
    )
    channels = [_channel(ctx, channel_id=c) for c in channel_ids]
    pending = []
    for entry in entries:
        up = ctx.state.pending_uploads.get(str(entry.get("id", "")))
        if up is None or up.team_id != ctx.team.id or up.content is None:
            raise ApiError("file_not_found")
        pending.append((up, entry))
    done = []
    for up, entry in pending:
        del ctx.state.pending_uploads[up.file_id]
        mimetype = (
            "text/plain"
            if up.filename.endswith((".txt", ".vtt", ".srt", ".md"))
            else "application/octet-stream"
        )
        stored = StoredFile(
            up.file_id,
            ctx.team.id,
            up.filename,
            up.content or b"",
            mimetype,
            ctx.team.bot_user_id,
            [c.id for c in channels],
            title=entry.get("title") or up.filename,
        )
        ctx.state.files[stored.id] = stored
        done.append(ctx.state.file_object(stored, ctx.base_url))
        for chan in channels or [None]:
            ctx.state.uploads.append(
                {
                    "file_id": stored.id,
                    "team_id": ctx.team.id,
                    "filename": stored.name,
                    "title": stored.title,
                    "content": stored.content,
                    "channel_id": chan.id if chan else None,
                    "initial_comment": ctx.arg("initial_comment"),
                    "thread_ts": ctx.arg("thread_ts"),
                }
            )
    for chan in channels:
        ctx.state.add_message(
            chan,
            user=ctx.team.bot_user_id,
            text=str(ctx.arg("initial_comment") or ""),
            thread_ts=ctx.arg("thread_ts") or None,
            bot_id=ctx.team.bot_id,
            extra={"files": done, "upload": True},
        )
    return {"files": done}


def files_upload(ctx: Ctx) -> dict[str, Any]:
    raise ApiError("method_deprecated")


# -- registry ------------------------------------------------------------------------------------

METHODS: dict[str, tuple[Handler, str | None]] = {
    "auth.test": (auth_test, None),
    "team.info": (team_info, "team:read"),
    "users.info": (users_info, "users:read"),
    "users.lookupByEmail": (users_lookup_by_email, "users:read.email"),
    "users.list": (users_list, "users:read"),
    "conversations.info": (conversations_info, "channels:read"),
    "conversations.members": (conversations_members, "channels:read"),
    "conversations.join": (conversations_join, "channels:join"),
    "conversations.open": (conversations_open, "im:write"),
    "conversations.history": (conversations_history, None),
    "chat.postMessage": (chat_post_message, "chat:write"),
    "chat.postEphemeral": (chat_post_ephemeral, "chat:write"),
    "chat.update": (chat_update, "chat:write"),
    "chat.delete": (chat_delete, "chat:write"),
    "chat.getPermalink": (chat_get_permalink, None),
    "reactions.add": (reactions_add, "reactions:write"),
    "views.open": (views_open, None),
    "views.push": (views_push, None),
    "views.update": (views_update, None),
    "views.publish": (views_publish, None),
    "files.info": (files_info, "files:read"),
    "files.getUploadURLExternal": (files_get_upload_url_external, "files:write"),
    "files.completeUploadExternal": (files_complete_upload_external, "files:write"),
    "files.upload": (files_upload, "files:write"),
}


def call_method(method: str, ctx: Ctx) -> dict[str, Any]:
    """Run one method: scope check, handler; always returns a Slack body (ok true/false)."""
    entry = METHODS.get(method)
    if entry is None:
        return {"ok": False, "error": "unknown_method"}
    handler, scope = entry
    if scope is not None and scope not in ctx.team.scopes:
        return {
            "ok": False,
            "error": "missing_scope",
            "needed": scope,
            "provided": ",".join(ctx.team.scopes),
        }
    try:
        with ctx.state.lock:
            return {"ok": True, **handler(ctx)}
    except ApiError as err:
        return err.body
