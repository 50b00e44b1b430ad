"""Every listener module exposes `register(app, rt)`; this wires them all."""

from __future__ import annotations

import importlib

from slack_bolt import App

from bot.runtime import Runtime

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
    "bot.slack.listeners.signals",
)


def register_all(app: App, rt: Runtime) -> None:
    for name in LISTENER_MODULES:
        importlib.import_module(name).register(app, rt)
