"""Carry out the clicks the web processes wrote down (`bot.inbox`) on a worker, woken by the
web process's NOTIFY, and on every tick what no wake-up took (where no worker listens, the
web process carries its own clicks out: `listeners.base._carry_out_here`). Each click runs
its listener exactly as Bolt would have, through the same wrapper (`listeners.base.run`):
refusals and failures are told to the person."""

from __future__ import annotations

import datetime as dt
import importlib
import logging

from slack_bolt.context.respond import Respond

from bot import clock
from bot.db import autocommit, session_scope
from bot.inbox import service as inbox
from bot.notify import DeliveryError, Notifier
from bot.outbox.scheduled import lease_for
from bot.runtime import Runtime
from bot.slack.listeners import LISTENER_MODULES
from bot.slack.listeners.base import Call, Route, run
from bot.slack.outbound import SlackNotifier
from bot.slack.payload import BadPayload, Interaction

log = logging.getLogger(__name__)
GIVEN_UP = (
    ":warning: That click could not be carried out on our side, so nothing changed. Please "
    "click again; tell your Followthrough admin if it keeps happening."
)


class _Acked:
    """The `ack` of a click Slack heard back about when it was written down."""

    response = True

    def __call__(self, *args: object, **kwargs: object) -> None:
        return None


def resolve(key: str) -> Route | None:
    """The durable route a row names (`module.function`), from the listener modules only:
    a row never makes this import anything else."""
    module_name = key.rpartition(".")[0]
    if module_name not in LISTENER_MODULES:
        return None
    routes = getattr(importlib.import_module(module_name), "routes", None)
    return next((r for r in getattr(routes, "routes", ()) if r.durable and r.key == key), None)


def carry_out(rt: Runtime, notifier: SlackNotifier, claimed: inbox.Claimed) -> bool:
    """Run one click's listener; False when it cannot be run at all (given up)."""
    where = f"click {claimed.id} ({claimed.route}, team {claimed.team_id})"
    try:
        interaction = Interaction.parse(dict(claimed.body))
        client = notifier.client(claimed.team_id)
    except (BadPayload, DeliveryError) as exc:
        log.warning("%s: %s; given up", where, type(exc).__name__)
        return False
    respond = Respond(response_url=interaction.response_url) if interaction.response_url else None
    route = resolve(claimed.route)
    if route is None or claimed.token > inbox.MAX_ATTEMPTS:
        why = (
            "no such durable listener in this version"
            if route is None
            else f"{claimed.token - 1} workers stopped while carrying it out"
        )
        log.error("%s: %s; given up", where, why)
        _tell(respond, GIVEN_UP)
        return False
    call = Call(interaction, rt, _Acked(), client, respond, retried=claimed.retried)
    run(route, call)
    return True


def _tell(respond: Respond | None, text: str) -> None:
    if respond is None:
        return
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # noqa: BLE001 — Slack itself may be what is failing
        log.warning("could not tell about a click given up: %s", type(exc).__name__)


def carry_out_due(
    rt: Runtime, notifier: Notifier, now: dt.datetime | None = None, *, team_id: str | None = None
) -> int:
    """Claim and carry out pending clicks one by one, oldest first, until none is left.
    Without `now` (a wake-up) the clock is read for each; a tick's `now` is kept."""
    if not isinstance(notifier, SlackNotifier):
        return 0  # a click needs the workspace's Slack client (a notifier of Slack's)
    done, lease = 0, lease_for(rt.settings)
    while True:
        with autocommit(rt.engine) as conn:  # one UPDATE … RETURNING: atomic by itself
            claimed = inbox.claim_next(conn, now or clock.now(), lease, team_id=team_id)
        if not claimed:
            return done
        for one in claimed:
            ran = carry_out(rt, notifier, one)
            with autocommit(rt.engine) as conn:
                inbox.finish(conn, one, now or clock.now(), failed=not ran)
            done += 1


def due(rt: Runtime, notifier: Notifier, now: dt.datetime) -> int:
    """The tick's share: what no wake-up carried out (a lost NOTIFY, an expired claim), and
    forgetting finished rows."""
    done = carry_out_due(rt, notifier, now)
    with session_scope(rt.engine) as session:
        inbox.forget(session, now)
    return done


DUE_JOBS = [("inbox", due)]
