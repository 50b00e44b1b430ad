"""The suggestions' tick asks one question first — is a snooze over, a Start abandoned, a
started case closed? — and does nothing else when the answer is no. Each of the three makes
it yes at exactly its moment; the tick then carries it out."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot.cases.steps import CASE
from bot.models import CaseStatus
from bot.signals import suggestions as sg
from bot.signals.models import SignalSuggestion, SuggestionStatus
from bot.states import move

from .conftest import NOW, Signals

S = SuggestionStatus


def _suggestion(sig: Signals, **fields: object) -> int:
    account = sig.world.seed_account()
    with sig.world.session() as s:
        row = SignalSuggestion(
            team_id=sig.world.team_id,
            account_id=account.id or 0,
            risk_key="usage_dip",
            playbook_key="usage_dip",
            rule_key="health_drop",
            csm_user_id="U0MAYA",
            **fields,
        )
        s.add(row)
        s.commit()
        return row.id or 0


def _status(sig: Signals, row_id: int) -> str:
    with sig.world.session() as s:
        return s.exec(select(SignalSuggestion.status).where(SignalSuggestion.id == row_id)).one()


def test_nothing_to_move_is_one_no(sig: Signals) -> None:
    _suggestion(sig, status=S.OPEN)
    assert not sg.moves_due(sig.world.rt.engine, NOW)


def test_a_snooze_is_due_when_it_ends(sig: Signals) -> None:
    ends = NOW + dt.timedelta(days=3)
    row = _suggestion(sig, status=S.SNOOZED, snoozed_until=ends)
    assert not sg.moves_due(sig.world.rt.engine, ends - dt.timedelta(seconds=1))
    assert sg.moves_due(sig.world.rt.engine, ends)
    sig.tick(ends)
    assert _status(sig, row) == S.OPEN


def test_an_abandoned_start_is_due_after_its_grace(sig: Signals) -> None:
    row = _suggestion(sig, status=S.STARTING, decided_at=NOW)
    assert not sg.moves_due(sig.world.rt.engine, NOW + sg.STUCK_START)
    later = NOW + sg.STUCK_START + dt.timedelta(seconds=1)
    assert sg.moves_due(sig.world.rt.engine, later)
    sig.tick(later)
    assert _status(sig, row) == S.OPEN


def test_a_started_suggestion_is_due_once_its_case_closes(sig: Signals) -> None:
    from bot.models import Case

    account = sig.world.seed_account("Globex", "globex.com", contacts=[])
    with sig.world.session() as s:
        case = Case(
            team_id=sig.world.team_id,
            account_id=account.id or 0,
            risk_key="usage_dip",
            playbook_id=1,
            reporter_user_id="U0MAYA",
            context="usage down",
            status=CaseStatus.RUNNING,
        )
        s.add(case)
        s.commit()
        case_id = case.id
    row = _suggestion(sig, status=S.STARTED, case_id=case_id)
    assert not sg.moves_due(sig.world.rt.engine, NOW)
    with sig.world.session() as s:
        closed = s.get(Case, case_id)
        assert closed is not None
        move(s, CASE, closed, "saved")
        s.commit()
    assert sg.moves_due(sig.world.rt.engine, NOW)
    sig.tick(NOW)
    assert _status(sig, row) != S.STARTED
