"""How every listener is called: module-level handlers `fn(call)` behind one Bolt wrapper.

A listener module declares `routes = Routes(<its domain's refusal errors>)` and decorates
plain functions (`@routes.action(YES) def on_yes(call: Call) -> None`). `register_all`
attaches them to the app. The wrapper builds a `Call` from what Bolt passes and the
`Interaction` and `Runtime` the app's middleware put in the request context, then answers
every way a handler can end:

* `BadInput` or a refusal of the module's domain → acknowledged, and the person is told why
  (an ephemeral answer; field errors in a modal when an input is at fault);
* any other exception → acknowledged, one ERROR line naming the request (type, route, team,
  user) and the exception's type and place — never tokens or payload text; the traceback
  only at DEBUG — and the person is told nothing was half-done and what to do.

So no exception ever reaches Bolt after `ack()` (which would leave Slack waiting 3 s for a
404) or before it (a 500).

When the answer leaves: the app runs Bolt with `process_before_response=True`, so Bolt
calls the listener on the request's own thread and answers Slack (the HTTP response, or the
Socket Mode envelope's ack) the moment it returns — no 10 ms polling for `ack()`, which is
what Bolt's other mode does. `dispatch` decides what runs before that moment: a click, a
shortcut or an event is acknowledged at once and its handler runs on the runtime's listener
pool — or, for a `durable` click, is written down first and carried
out by a worker (`bot.inbox`); a command, a form or a search (whose ack carries the answer)
runs its handler on the pool and returns the instant the handler calls `ack()` (an Event,
not a poll); what the handler does after its ack runs on, off the request. Over HTTP, slash
commands and durable clicks skip Bolt's dispatch altogether (`bot.slack.listeners.edge`):
a command's handler then runs on the request's own thread (`run_here`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import clock
from bot.db import autocommit, session_scope
from bot.inbox import service as inbox
from bot.outbox.scheduled import INBOX_WAKE, WAKE_CHANNEL, lease_for, workers_listen
from bot.runtime import Runtime
from bot.slack.blocks.common import plain, section
from bot.slack.outbound import SlackNotifier
from bot.slack.payload import BadInput, BadPayload, Interaction, View

log = logging.getLogger(__name__)

# Clicks and shortcuts carry nothing in their ack: acknowledged before the handler runs (events
# are acknowledged by Bolt). Commands, view submissions and options ack with their answer.
ACK_FIRST = frozenset({"block_actions", "shortcut", "message_action", "view_closed"})
# Slack gives up on an answer after 3 s; a handler that has not acked by then gets an empty ack
ACK_WAIT_SECONDS = 2.5
RT_KEY = "ft_runtime"
INTERACTION_KEY = "ft_interaction"
SORRY = (
    ":warning: Something went wrong on our side while handling that. Nothing was saved "
    "half-way; please try again, and tell your Followthrough admin if it keeps happening."
)


def user_facing_error(error: BaseException) -> str:
    """What the person reads when a request failed on our side (or Slack's)."""
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if error.response is not None else "unknown"
        return (
            f":warning: Slack answered `{code}` while I was working on that, even after "
            "retrying. Nothing was saved half-way; please try again in a minute."
        )
    return SORRY


def where(error: BaseException) -> str:
    """`file:function:line` of the innermost frame, and of the innermost one in our own code
    when that is another (`base_client.py:api_call:… via steps.py:on_yes:31`): a log line
    that needs no traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    ours = [f for f in frames if f"{os.sep}bot{os.sep}" in f.filename and f.filename != __file__]

    def at(frame: traceback.FrameSummary) -> str:
        return f"{os.path.basename(frame.filename)}:{frame.name}:{frame.lineno}"

    if ours and ours[-1] is not frames[-1]:
        return f"{at(frames[-1])} via {at(ours[-1])}"
    return at(frames[-1])


# --- the call --------------------------------------------------------------------------------


@dataclass
class Call:
    """One request as a handler sees it. Tests build it directly (no Bolt needed)."""

    interaction: Interaction
    rt: Runtime
    ack: Ack | Callable[..., Any]
    client: WebClient
    respond: Respond | Callable[..., Any] | None = None
    body: Mapping[str, Any] | None = None  # Slack's payload as Bolt parsed it (the inbox keeps it)
    retried: bool = False  # carried out again after a worker died mid-way (see `bot.inbox`)

    @cached_property
    def notifier(self) -> SlackNotifier:
        return SlackNotifier(self.client)

    @property
    def acked(self) -> bool:
        return getattr(self.ack, "response", None) is not None

    @property
    def view(self) -> View:
        """The submitted view (view routes only get requests that have one)."""
        if self.interaction.view is None:
            raise BadPayload("This request carries no view.")
        return self.interaction.view

    @property
    def team_id(self) -> str:
        return self.interaction.team_id

    @property
    def user_id(self) -> str:
        return self.interaction.user_id

    def open_view(self, view: dict[str, Any]) -> None:
        """Open a modal (or push one onto the modal the click came from)."""
        i = self.interaction
        if i.in_view and i.view is not None and i.view.type == "modal":
            self.client.views_push(trigger_id=i.trigger_id, view=view)
        else:
            self.client.views_open(trigger_id=i.trigger_id, view=view)

    def tell(self, text: str) -> None:
        """A private answer to the person, where they are looking: through the request's
        response_url (the original message stays), a small modal on the Home tab, an
        ephemeral in the channel, or else a DM."""
        i = self.interaction
        if self.respond is not None and i.response_url:
            self.respond(text=text, response_type="ephemeral", replace_original=False)
        elif i.in_view and i.trigger_id and i.kind == "block_actions":
            self.open_view(note_modal(text))
        else:
            self.tell_in_thread(text)

    def tell_in_thread(self, text: str) -> None:
        """An ephemeral under the message (in its thread) the request came from — for review
        threads and DMs, where the answer belongs next to the message; through the
        response_url for a click on an ephemeral (the bot may not be in that channel), a
        small modal on the Home tab, or a DM when the request came from no conversation."""
        i = self.interaction
        if (i.in_view and i.kind == "block_actions") or (i.is_ephemeral and self.respond):
            self.tell(text)
        elif i.channel_id and i.kind not in ("view_submission", "view_closed"):
            self.client.chat_postEphemeral(
                channel=i.channel_id, user=i.user_id, text=text, thread_ts=i.thread_ts or None
            )
        else:
            self.notifier.dm(i.team_id, i.user_id, text)


def note_modal(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": plain("Followthrough", 24),
        "close": plain("OK", 24),
        "blocks": [section(text)],
    }


Handler = Callable[[Call], None]


# --- routes ------------------------------------------------------------------------------------


Teller = Callable[[Call, str], None]


@dataclass(frozen=True)
class Route:
    method: str  # the App method: action | command | view | event | shortcut | options
    constraints: Any
    handler: Handler
    refusals: tuple[type[Exception], ...]
    error_block: str | None = None  # view submissions: the input a refusal is shown under
    tell: Teller = Call.tell
    durable: bool = False  # a click written down before the ack, carried out by a worker

    @property
    def key(self) -> str:
        """How an inbox row names this route (`bot.inbox.scheduled.resolve`)."""
        return f"{self.handler.__module__}.{self.handler.__name__}"


class Routes:
    """A listener module's routes, in order (Bolt runs the first that matches). `refusals`
    are the domain's errors whose message is an answer for the person (stale, not allowed)."""

    def __init__(self, *refusals: type[Exception], tell: Teller = Call.tell) -> None:
        self.refusals = refusals
        self.tell = tell  # how refusals and failures are told (`Call.tell_in_thread` …)
        self.routes: list[Route] = []

    def _add(
        self,
        method: str,
        constraints: Any,
        error_block: str | None = None,
        durable: bool = False,
    ) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            route = Route(method, constraints, fn, self.refusals, error_block, self.tell, durable)
            self.routes.append(route)
            return fn

        return decorate

    def action(self, constraints: Any, *, durable: bool = False) -> Callable[[Handler], Handler]:
        """`durable`: a click that only changes rows and queues messages (no modal to open
        with its trigger) — written down before the ack and carried out by a worker."""
        return self._add("action", constraints, durable=durable)

    def command(self, name: str) -> Callable[[Handler], Handler]:
        return self._add("command", name)

    def view(
        self, callback_id: Any, error_block: str | None = None
    ) -> Callable[[Handler], Handler]:
        return self._add("view", callback_id, error_block)

    def event(self, constraints: Any) -> Callable[[Handler], Handler]:
        return self._add("event", constraints)

    def shortcut(self, callback_id: Any) -> Callable[[Handler], Handler]:
        return self._add("shortcut", callback_id)

    def options(self, action_id: Any) -> Callable[[Handler], Handler]:
        return self._add("options", action_id)

    def attach(self, app: App) -> None:
        for route in self.routes:
            getattr(app, route.method)(route.constraints)(bolt_listener(route))


def bolt_listener(route: Route) -> Callable[..., None]:
    """The function Bolt calls: its parameter names are what Bolt injects."""

    def listener(
        ack: Ack,
        client: WebClient,
        context: BoltContext,
        body: dict[str, Any],
        respond: Respond | None = None,
    ) -> None:
        call = Call(context[INTERACTION_KEY], context[RT_KEY], ack, client, respond, body)
        dispatch(route, call)

    listener.__name__ = listener.__qualname__ = route.handler.__name__
    return listener


class _SignallingAck:
    """Bolt's `ack`, which also tells the waiting request thread that the answer is ready.

    If the handler misses the deadline the request is answered empty (`give_up`); its answer,
    when it comes, goes to the request's response_url instead, so a slow command on a busy
    machine is late, never silent."""

    def __init__(
        self, ack: Ack | Callable[..., Any], ready: threading.Event, respond: Any = None
    ) -> None:
        self._ack = ack
        self._ready = ready
        self._respond = respond
        self._lock = threading.Lock()
        self._late = False

    @property
    def response(self) -> Any:
        return getattr(self._ack, "response", None)

    def give_up(self) -> bool:
        """Answer the request empty now, unless the handler just did; True if we did."""
        with self._lock:
            if self._ready.is_set():
                return False
            self._late = True
            self._ack()
            return True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if not self._late:
                try:
                    return self._ack(*args, **kwargs)
                finally:
                    self._ready.set()
        _answer_late(self._respond, args, kwargs)
        return None


class _DeadlineAck:
    """Bolt's `ack` for a handler run on the request's own thread (`run_here`): an ack that
    comes after the deadline answers the request empty (Slack has stopped waiting, or will
    before it arrives) and sends its answer to the response_url — late, never silent, and
    never twice."""

    def __init__(self, ack: Ack | Callable[..., Any], deadline: float, respond: Any) -> None:
        self._ack = ack
        self._deadline = deadline
        self._respond = respond
        self.late = False

    @property
    def response(self) -> Any:
        return getattr(self._ack, "response", None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._respond is None or time.monotonic() <= self._deadline:
            return self._ack(*args, **kwargs)
        self.late = True
        self._ack()
        _answer_late(self._respond, args, kwargs)
        return None


def _answer_late(respond: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """An ack's text or blocks, through the response_url (the request was answered empty)."""
    text = args[0] if args and isinstance(args[0], str) else kwargs.get("text")
    blocks = kwargs.get("blocks")
    if respond is not None and (text or blocks):
        respond(
            text=text or "",
            blocks=blocks,
            response_type=kwargs.get("response_type") or "ephemeral",
            replace_original=False,
        )


def dispatch(route: Route, call: Call) -> None:
    """Return as soon as the request is acknowledged; the handler runs on the runtime's
    listener pool (see the module docstring)."""
    rt = call.rt
    if _acks_first(route, call):
        held = _write_down(route, call) if route.durable else None
        call.ack()
        if held is _WORKER:
            return
        if isinstance(held, inbox.Claimed):
            rt.listen(_carry_out_here, route, call, held)
        else:
            rt.listen(run, route, call)
        return
    ready = threading.Event()
    signalling = _SignallingAck(call.ack, ready, call.respond)
    call.ack = signalling

    def handle() -> None:
        try:
            run(route, call)
        finally:
            ready.set()

    rt.listen(handle)
    if not ready.wait(ACK_WAIT_SECONDS) and signalling.give_up():
        _warn_late(call.interaction)


def _warn_late(i: Interaction) -> None:
    log.warning(
        "%s %s did not answer within %.1f s; acknowledged empty, its answer goes to the "
        "response_url (team %s)",
        i.kind,
        i.route or "?",
        ACK_WAIT_SECONDS,
        i.team_id or "?",
    )


def run_here(route: Route, call: Call, since: float) -> None:
    """Run a command's handler on this thread (the HTTP edge's, `bot.slack.listeners.edge`)
    and return when it has, acked. The hop to the listener pool and back that `dispatch`
    makes was about a quarter of a `/report-risk`'s web CPU at c=20 (bench/ack.py: 2.6 →
    1.9–2.0 ms). What the guard gives there holds here too, counted from `since` (when the
    request arrived): an answer later than ACK_WAIT_SECONDS goes to the response_url and the
    request is answered empty. What it cannot do here is answer before the handler returns,
    so a handler stuck past Slack's 3 s shows Slack's timeout notice as well."""
    late = _DeadlineAck(call.ack, since + ACK_WAIT_SECONDS, call.respond)
    call.ack = late
    run(route, call)
    if late.late:
        _warn_late(call.interaction)


_WORKER = object()  # `_write_down`: a worker was woken to carry the click out


def _acks_first(route: Route, call: Call) -> bool:
    kind = call.interaction.kind
    return kind in ACK_FIRST or kind == "event_callback"


def _write_down(route: Route, call: Call) -> inbox.Claimed | object | None:
    """Record a durable click before its ack (`bot.inbox`). Where a worker listens it is
    woken (NOTIFY, delivered with the commit) and carries the click out; otherwise this
    process claims the row and carries it out itself. None if the database refused: the
    click is then carried out here as any other (nothing is lost while the process lives)."""
    woken = workers_listen(call.rt)
    held = record(call.rt, route, call.interaction, call.body or {}, woken)
    return _WORKER if woken and held is not None else held


def record(
    rt: Runtime, route: Route, i: Interaction, body: Mapping[str, Any], woken: bool
) -> inbox.Claimed | None:
    """Write a durable click down (`bot.inbox`), to wake a worker or claimed by this process;
    None if the database refused (the caller then carries the click out itself)."""
    try:
        with autocommit(rt.engine) as conn:
            return inbox.record(
                conn,
                i.team_id,
                route.key,
                body,
                clock.now(),
                claimed=not woken,
                lease=lease_for(rt.settings),
                wake=(WAKE_CHANNEL, INBOX_WAKE) if woken else None,
            )
    except sa.exc.SQLAlchemyError as exc:
        log.warning(
            "could not write down %s %s (%s); carrying it out here",
            i.kind,
            i.route or "?",
            type(exc).__name__,
        )
        return None


def _carry_out_here(route: Route, call: Call, held: inbox.Claimed) -> None:
    run(route, call)
    with session_scope(call.rt.engine) as session:
        inbox.finish(session, held, clock.now())


def run(route: Route, call: Call) -> None:
    """Call the handler; answer every way it can end (see the module docstring)."""
    answered: tuple[type[BaseException], ...] = (BadInput, *route.refusals)
    try:
        if call.interaction.kind in ACK_FIRST and not call.acked:
            call.ack()
        route.handler(call)
    except answered as exc:
        block = getattr(exc, "block_id", None) or route.error_block
        _answer(route, call, str(exc), block)
    except Exception as exc:  # noqa: BLE001 — the edge: nothing may escape to Bolt
        i = call.interaction
        log.error(
            "%s %s failed: %s at %s (team %s, user %s, acked %s)",
            i.kind,
            i.route or "?",
            type(exc).__name__,
            where(exc),
            i.team_id or "?",
            i.user_id or "?",
            call.acked,
        )
        log.debug("traceback of the failure above", exc_info=exc)
        _answer(route, call, user_facing_error(exc), _first_input(call), failed=True)
    else:
        if not call.acked:  # a handler that forgot: Slack must hear back within 3 s
            call.ack()


def _first_input(call: Call) -> str | None:
    view = call.interaction.view
    if call.interaction.kind == "view_submission" and view is not None and view.state:
        return next(iter(view.state))
    return None


def _answer(
    route: Route, call: Call, text: str, block: str | None, *, failed: bool = False
) -> None:
    """Acknowledge if that is still to do, and tell the person `text`."""
    i = call.interaction
    try:
        if not call.acked:
            if i.kind == "view_submission":
                view = i.view
                if block and view is not None and block in view.state:
                    call.ack(response_action="errors", errors={block: text[:1900]})
                    return
                call.ack()
            elif i.kind == "command":
                call.ack(text=text)  # shown at once, to the person only
                return
            elif i.kind == "block_suggestion":
                call.ack(options=[])
                return
            else:
                call.ack()
        if i.kind in ("block_suggestion", "view_closed") or (
            i.kind == "event_callback" and not failed
        ):
            return  # nobody is waiting for an answer (an upload that failed is told)
        if call.retried and not failed:
            return  # a second try refused: the first, cut short, most likely did it
        if i.user_id:
            route.tell(call, text)
    except Exception as exc:  # noqa: BLE001 — Slack itself may be what is failing
        log.warning("could not tell %s about it: %s", i.user_id or "?", type(exc).__name__)


# --- wiring ------------------------------------------------------------------------------------


def attach_all(app: App, modules: Iterable[Any], rt: Runtime) -> None:
    """Attach each module's `routes` (or call a module's own `register(app, rt)`)."""
    for module in modules:
        if hasattr(module, "routes"):
            module.routes.attach(app)
        else:
            module.register(app, rt)
