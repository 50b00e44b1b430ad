"""In-memory Slack state of the stand-in: workspaces, users, channels, messages, views, files.

Plain data plus small helpers that build Slack-shaped objects. Callers hold `SlackState.lock`
around any read-modify-write; the HTTP layer and the test helpers share one instance.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# At least every scope our manifest asks for (`followthrough manifest`), which a fresh install
# grants, plus a few it no longer asks for; a test that wants a token short of some passes its
# own `scopes`.
DEFAULT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "mpim:history",
    "reactions:write",
    "team:read",
    "users:read",
    "users:read.email",
)


@dataclass
class Team:
    id: str
    name: str
    domain: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    app_id: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES


@dataclass
class Channel:
    id: str
    team_id: str
    name: str
    members: list[str]
    is_private: bool = False
    im_user: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def is_im(self) -> bool:
        return self.im_user is not None

    @property
    def is_mpim(self) -> bool:
        """A group DM: Slack names them mpdm-<members>-1."""
        return self.name.startswith("mpdm-")


@dataclass
class StoredFile:
    id: str
    team_id: str
    name: str
    content: bytes
    mimetype: str
    user: str
    channels: list[str]
    title: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    mode: str = "hosted"


@dataclass
class Trigger:
    id: str
    user_id: str
    team_id: str | None
    created: float
    used: bool = False


@dataclass
class ResponseUrl:
    id: str
    team_id: str
    channel_id: str | None
    user_id: str
    message_ts: str | None
    is_ephemeral: bool
    created: float
    uses: int = 0


@dataclass
class PendingUpload:
    file_id: str
    team_id: str
    filename: str
    length: int
    content: bytes | None = None


def filetype_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else "text"


class SlackState:
    """All workspaces of one stand-in. Ids and message timestamps are unique and increasing."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.teams: dict[str, Team] = {}
        self.tokens: dict[str, str] = {}
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.dms: dict[tuple[str, str], str] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_owner: dict[str, tuple[str, str]] = {}
        self.stacks: dict[tuple[str, str], list[str]] = {}
        self.homes: dict[tuple[str, str], str] = {}
        self.files: dict[str, StoredFile] = {}
        self.pending_uploads: dict[str, PendingUpload] = {}
        self.uploads: list[dict[str, Any]] = []
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self._counter = itertools.count(1)
        self._last_ts_us = 0

    # -- ids --------------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):09X}"

    def next_ts(self) -> str:
        with self.lock:
            micros = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    @staticmethod
    def new_hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    # -- lookups ----------------------------------------------------------------------------
    def team_for_token(self, token: str | None) -> Team | None:
        team_id = self.tokens.get(token or "")
        return self.teams.get(team_id) if team_id else None

    def user(self, team_id: str, user_id: str) -> dict[str, Any] | None:
        return self.users.get((team_id, user_id))

    def find_user_team(self, user_id: str) -> str | None:
        for team_id, uid in self.users:
            if uid == user_id:
                return team_id
        return None

    def channel(self, team_id: str, channel_id: str) -> Channel | None:
        """Resolve a channel id, a user id (the bot's DM with that user) or, as Slack's
        chat.postMessage does, a channel name (`#general` or `general`) within the team."""
        if channel_id.startswith(("U", "W")) and (team_id, channel_id) in self.users:
            return self.channels[self.open_dm(team_id, channel_id)]
        chan = self.channels.get(channel_id)
        if chan is not None:
            return chan if chan.team_id == team_id else None
        name = channel_id.removeprefix("#")
        if not name:
            return None
        return next(
            (
                c
                for c in self.channels.values()
                if c.team_id == team_id and not c.is_im and c.name == name
            ),
            None,
        )

    def find_message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        for msg in self.messages.get(channel_id, []):
            if msg["ts"] == ts:
                return msg
        return None

    # -- mutations --------------------------------------------------------------------------
    def open_mpim(self, team_id: str, user_ids: list[str]) -> str:
        """A new group DM of `user_ids` and the app's bot user."""
        mpim_id = self.new_id("G")
        members = [*user_ids, self.teams[team_id].bot_user_id]
        self.channels[mpim_id] = Channel(mpim_id, team_id, f"mpdm-{mpim_id}", members, True)
        return mpim_id

    def open_dm(self, team_id: str, user_id: str) -> str:
        key = (team_id, user_id)
        if key not in self.dms:
            dm_id = self.new_id("D")
            bot = self.teams[team_id].bot_user_id
            self.channels[dm_id] = Channel(dm_id, team_id, "", [user_id, bot], True, user_id)
            self.dms[key] = dm_id
        return self.dms[key]

    def add_message(
        self,
        channel: Channel,
        *,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        ts = self.next_ts()
        msg: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": channel.team_id,
        }
        if blocks:
            msg["blocks"] = blocks
        if bot_id:
            team = self.teams[channel.team_id]
            msg.update(bot_id=bot_id, app_id=team.app_id)
        if thread_ts:
            msg["thread_ts"] = thread_ts
            parent = self.find_message(channel.id, thread_ts)
            if parent is not None:
                parent.setdefault("thread_ts", thread_ts)
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = ts
        msg.update(extra or {})
        msg["channel"] = channel.id
        self.messages.setdefault(channel.id, []).append(msg)
        return msg

    def add_ephemeral(
        self,
        *,
        team_id: str,
        channel_id: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str | None,
        source: str,
    ) -> dict[str, Any]:
        eph = {
            "message_ts": self.next_ts(),
            "team_id": team_id,
            "channel": channel_id,
            "user": user,
            "text": text,
            "blocks": blocks or [],
            "thread_ts": thread_ts,
            "source": source,
            "deleted": False,
        }
        self.ephemerals.append(eph)
        return eph

    # -- Slack-shaped objects ---------------------------------------------------------------
    def user_object(self, team_id: str, user_id: str) -> dict[str, Any]:
        return dict(self.users[(team_id, user_id)])

    def channel_object(self, chan: Channel) -> dict[str, Any]:
        bot = self.teams[chan.team_id].bot_user_id
        if chan.is_im:
            return {
                "id": chan.id,
                "created": chan.created,
                "is_im": True,
                "is_org_shared": False,
                "user": chan.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": chan.id,
            "name": chan.name,
            "is_channel": not chan.is_private,
            "is_group": chan.is_private,
            "is_im": False,
            "is_mpim": chan.is_mpim,
            "is_private": chan.is_private,
            "is_archived": False,
            "is_general": False,
            "created": chan.created,
            "creator": "",
            "name_normalized": chan.name,
            "is_member": bot in chan.members,
            "num_members": len(chan.members),
            "context_team_id": chan.team_id,
        }

    def file_object(self, f: StoredFile, base_url: str) -> dict[str, Any]:
        team = self.teams[f.team_id]
        base = f"{base_url}/files-pri/{f.team_id}-{f.id}"
        ims = [c for c in f.channels if c.startswith("D")]
        groups = [c for c in f.channels if c.startswith("G")]
        public = [c for c in f.channels if c.startswith("C")]
        return {
            "id": f.id,
            "created": f.created,
            "timestamp": f.created,
            "name": f.name,
            "title": f.title or f.name,
            "mimetype": f.mimetype,
            "filetype": filetype_of(f.name),
            "pretty_type": filetype_of(f.name).upper(),
            "user": f.user,
            "user_team": f.team_id,
            "editable": f.mode == "snippet",
            "size": len(f.content),
            "mode": f.mode,
            "is_external": False,
            "external_type": "",
            "is_public": bool(public),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{f.name}",
            "url_private_download": f"{base}/download/{f.name}",
            "permalink": f"{base_url}/{team.domain}/files/{f.user}/{f.id}/{f.name}",
            "channels": public,
            "groups": groups,
            "ims": ims,
            "comments_count": 0,
        }

    def make_view(
        self,
        team_id: str,
        user_id: str,
        body: dict[str, Any],
        *,
        previous: str | None = None,
        root: str | None = None,
        view_id: str | None = None,
    ) -> dict[str, Any]:
        """Store `body` as a view (new id unless `view_id` given) and return the full object."""
        team = self.teams[team_id]
        view_id = view_id or self.new_id("V")
        view: dict[str, Any] = {
            "id": view_id,
            "team_id": team_id,
            "type": body.get("type", "modal"),
            "blocks": body.get("blocks", []),
            "private_metadata": body.get("private_metadata") or "",
            "callback_id": body.get("callback_id") or "",
            "state": {"values": {}},
            "hash": self.new_hash(),
            "title": body.get("title"),
            "close": body.get("close"),
            "submit": body.get("submit"),
            "clear_on_close": bool(body.get("clear_on_close", False)),
            "notify_on_close": bool(body.get("notify_on_close", False)),
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": team.app_id,
            "external_id": body.get("external_id") or "",
            "app_installed_team_id": team_id,
            "bot_id": team.bot_id,
        }
        self.views[view_id] = view
        self.view_owner[view_id] = (team_id, user_id)
        return view


def make_user(
    team_id: str,
    user_id: str,
    name: str,
    real_name: str,
    email: str,
    tz: str,
    deleted: bool,
    is_bot: bool,
) -> dict[str, Any]:
    """A users.info `user` object with tz/tz_label/tz_offset computed from the IANA zone."""
    now = datetime.now(ZoneInfo(tz))
    offset = now.utcoffset()
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "deleted": deleted,
        "real_name": real_name,
        "tz": tz,
        "tz_label": now.tzname() or tz,
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "profile": {
            "real_name": real_name,
            "display_name": name,
            "email": email,
            "team": team_id,
            "real_name_normalized": real_name,
        },
        "is_admin": False,
        "is_owner": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": int(time.time()),
    }
