"""The two requests a team sends most, answered from the HTTP edge without Bolt's dispatch.

By the time `bot.web`'s edge has checked the signature and parsed the body, what Bolt would
still do for a slash command or a step's Yes decides nothing: build its context and a client,
check the signature again, authorize, run the middleware (our `ReadInteraction`; the dedupe
of Events API retries), then try one matcher per listener. On a 2-core machine that was about
a fifth of a `/report-risk`'s web CPU and a quarter of a click's (py-spy, `bench/ack.py`).

`AtEdge` answers them with the same route, the same `run` and a client for the same token,
so what the handler does is what it does behind Bolt:

* a slash command the listener modules route by name: its handler runs on the request's own
  thread (`run_here`: no hop to the listener pool and back), with the workspace's client and
  a `Respond` on the command's response_url, as Bolt would pass them, and the request is
  answered with its ack (an answer later than 2.5 s goes to the response_url instead);
* a durable click, written down for a listening worker (`bot.inbox`): an empty 200.

Everything else goes to Bolt as before, and so does anything the edge cannot answer the way
Bolt would: a body that does not parse as Slack's (Bolt's 400), a workspace we do not serve
(Bolt's answer to an unauthorized team), a click with no worker listening (this process then
carries it out, behind Bolt), a database that refused to write the click down. Socket Mode
has no such edge: there every request goes through Bolt and `dispatch`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from slack_bolt import Ack, BoltResponse, Respond

from bot.notify import DeliveryError
from bot.outbox.scheduled import workers_listen
from bot.runtime import Runtime
from bot.slack.listeners.base import SORRY, Call, Route, record, run_here, where
from bot.slack.payload import BadPayload, Interaction

log = logging.getLogger(__name__)
EMPTY = BoltResponse(status=200, body="")  # how Bolt acks a click


def durable_actions(modules: Iterable[Any]) -> dict[str, Route]:
    """The durable clicks of these listener modules, by action id."""
    return {
        r.constraints: r
        for r in _routes(modules)
        if r.durable and r.method == "action" and isinstance(r.constraints, str)
    }


def commands(modules: Iterable[Any]) -> dict[str, Route]:
    """The slash commands of these listener modules, by name (the first route wins, as in
    Bolt, which tries them in this order)."""
    found: dict[str, Route] = {}
    for r in _routes(modules):
        if r.method == "command" and isinstance(r.constraints, str):
            found.setdefault(r.constraints, r)
    return found


def _routes(modules: Iterable[Any]) -> Iterable[Route]:
    for m in modules:
        yield from getattr(getattr(m, "routes", None), "routes", ())


class AtEdge:
    """`bot.web.slack_edge`'s `at_edge`: a response for the requests answered here, else None."""

    def __init__(self, rt: Runtime, clients: Any, modules: Iterable[Any]) -> None:
        modules = list(modules)
        self.rt = rt
        self.clients = clients  # `bot.slack.client.WorkspaceClients`
        self.durable = durable_actions(modules)
        self.commands = commands(modules)

    def __call__(self, body: Mapping[str, Any]) -> BoltResponse | None:
        since = time.monotonic()
        if body.get("type") == "block_actions":
            return EMPTY if self.written_down(body) else None
        name = body.get("command")
        route = self.commands.get(name) if isinstance(name, str) else None
        if route is not None and "ssl_check" not in body:
            return self.command(route, body, since)
        return None

    def _interaction(self, body: Mapping[str, Any]) -> Interaction | None:
        """The typed request, from a workspace we serve; None leaves it to Bolt (which gives
        a malformed body its 400 and an unknown workspace its usual answer)."""
        try:
            i = Interaction.parse(body)
            self.clients.grant(i.team_id)
        except (BadPayload, DeliveryError):
            return None
        return i

    def command(self, route: Route, body: Mapping[str, Any], since: float) -> BoltResponse | None:
        """Run the command's handler on this thread (`run_here`), and answer with its ack."""
        i = self._interaction(body)
        if i is None:
            return None
        try:
            client = self.clients.client(i.team_id)
        except DeliveryError:  # the grant lapsed since `_interaction` read it: Bolt answers
            return None
        respond = (
            Respond(response_url=i.response_url, proxy=client.proxy, ssl=client.ssl)
            if i.response_url
            else None
        )
        ack = Ack()
        try:
            run_here(route, Call(i, self.rt, ack, client, respond, body), since)
        except Exception as exc:  # noqa: BLE001 — `run` catches the handler's; this is the rest
            log.error(
                "command %s failed: %s at %s (team %s)",
                i.route or "?",
                type(exc).__name__,
                where(exc),
                i.team_id or "?",
            )
            log.debug("traceback of the failure above", exc_info=exc)
            return ack.response or Ack()(text=SORRY)
        return ack.response or EMPTY

    def written_down(self, body: Mapping[str, Any]) -> bool:
        """Write a durable click down for a listening worker, and say so: its ack needs
        nothing else. False (Bolt takes it) when no worker listens or the write was refused."""
        actions = body.get("actions")
        if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
            return False
        action_id = actions[0].get("action_id")
        route = self.durable.get(action_id) if isinstance(action_id, str) else None
        if route is None:
            return False
        i = self._interaction(body)
        if i is None or not workers_listen(self.rt):
            return False
        return record(self.rt, route, i, body, woken=True) is not None
