"""The listener modules, in the order Bolt tries them. Each declares its `routes`
(`bot.slack.listeners.base.Routes`); a module may still expose `register(app, rt)`.

Bolt tries listeners one by one until one matches, and each try costs a matcher call with
its arguments built (tens of µs). So the hot requests' modules come first: `/report-risk`
(risk) and a step's Yes (steps) matched after one and nine tries, not fifteen and
twenty-three. Order decides nothing else: no two modules answer the same request
(`test_no_two_modules_answer_the_same_request`), and the fallback is always last.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from slack_bolt import App

from bot.runtime import Runtime
from bot.slack.listeners.base import attach_all

LISTENER_MODULES = (
    "bot.slack.listeners.risk",
    "bot.slack.listeners.steps",
    "bot.slack.listeners.options",
    "bot.slack.listeners.help",
    "bot.slack.listeners.digest",
    "bot.slack.listeners.home",
    "bot.slack.listeners.report",
    "bot.slack.listeners.playbooks_admin",
    "bot.slack.listeners.cases",
    "bot.slack.listeners.capture",
    "bot.slack.listeners.workspaces",
    "bot.slack.listeners.signals",
)


def listener_modules() -> list[ModuleType]:
    """The modules in `LISTENER_MODULES` order (the HTTP edge reads their routes too:
    `bot.slack.listeners.edge`)."""
    return [importlib.import_module(name) for name in LISTENER_MODULES]


def register_all(app: App, rt: Runtime) -> None:
    # the fallback last, so it only ever sees what no listener claimed
    fallback = importlib.import_module("bot.slack.listeners.fallback")
    attach_all(app, [*listener_modules(), fallback], rt)
