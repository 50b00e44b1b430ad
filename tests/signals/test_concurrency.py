"""Two workers evaluating at once never open two suggestions for one account and risk (the
database's unique active key decides; the loser adds its signal to the winner's)."""

from __future__ import annotations

import datetime as dt
import threading

from sqlmodel import select

from bot.db import engine_for, session_scope
from bot.models import Account
from bot.signals.evaluate import evaluate_new
from bot.signals.models import SignalEvidence, SignalSuggestion
from bot.signals.payload import parse_body
from bot.signals.rules import SEED_DIR
from bot.signals.ruleset import load_rules
from bot.signals.store import store
from bot.workspaces.service import ensure_workspace

NOW = dt.datetime(2026, 11, 16, 15, tzinfo=dt.UTC)


def test_two_workers_make_one_suggestion(database_url: str) -> None:
    engine = engine_for(database_url)
    with session_scope(engine) as s:
        ensure_workspace(s, "T1", "Team")
        s.add(Account(team_id="T1", name="Acme", domain="acme.com", csm_user_id="U1"))
    with session_scope(engine) as s:
        load_rules(s, "T1", SEED_DIR)
    for round_ in range(5):
        for n in range(2):
            body = {"account": "acme.com", "signal": {"type": "health_score", "value": 20 + n}}
            store(
                engine,
                "T1",
                parse_body(body, source="t", delivery_id=f"{round_}:{n}", now=NOW),
                auth="cli",
            )
        gate = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(gate: threading.Barrier = gate, errors: list[BaseException] = errors) -> None:
            try:
                gate.wait()
                evaluate_new(engine, NOW, limit=1, budget=None)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        while evaluate_new(engine, NOW):
            pass
    with session_scope(engine) as s:
        suggestions = s.exec(select(SignalSuggestion)).all()
        assert len(suggestions) == 1
        assert suggestions[0].signal_count == 10
        assert len(s.exec(select(SignalEvidence)).all()) == 10
