"""The listener modules, in the order Bolt tries them. Each declares its `routes`
(`bot.slack.listeners.base.Routes`); a module may still expose `register(app, rt)`."""

from __future__ import annotations

import importlib

from slack_bolt import App

from bot.runtime import Runtime
from bot.slack.listeners.base import attach_all

LISTENER_MODULES = (
    "bot.slack.listeners.options",
    "bot.slack.listeners.help",
    "bot.slack.listeners.digest",
    "bot.slack.listeners.home",
    "bot.slack.listeners.report",
    "bot.slack.listeners.risk",
    "bot.slack.listeners.playbooks_admin",
    "bot.slack.listeners.steps",
    "bot.slack.listeners.cases",
    "bot.slack.listeners.capture",
    "bot.slack.listeners.workspaces",
    "bot.slack.listeners.signals",
)


def register_all(app: App, rt: Runtime) -> None:
    modules = [importlib.import_module(name) for name in LISTENER_MODULES]
    # last, so it only ever sees what no listener claimed
    attach_all(app, [*modules, importlib.import_module("bot.slack.listeners.fallback")], rt)
