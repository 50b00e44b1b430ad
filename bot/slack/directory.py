"""Slack as the people directory (users.info / users.lookupByEmail) for `bot.people.service`."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError


class SlackDirectory:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def user(self, user_id: str) -> dict | None:
        try:
            return self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in {"user_not_found", "users_not_found"}:
                return None
            raise

    def user_by_email(self, email: str) -> dict | None:
        try:
            return self.client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in {"users_not_found", "user_not_found"}:
                return None
            raise
