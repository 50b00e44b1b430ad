"""The report-risk service: people resolved, drafts checked, one case per open risk, all or
nothing."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlmodel import func, select

from bot import audit
from bot.cases import plan_edits
from bot.cases.drafting import Drafter
from bot.cases.plan_blocks import plan_card
from bot.cases.report import ReportError, ReportRequest, report_risk
from bot.db import session_scope
from bot.devtools.standin.blockkit import validate_message_blocks
from bot.llm.base import LLMError
from bot.models import AuditEvent, Case, CaseStep, Commitment, Transcript

TEAM = "T0PLAN"  # as in conftest.py


def _report(
    engine,
    account_id=None,
    risk="champion_left",
    context="Dana left Acme.",
    reporter="U0SAM",
    drafter=None,
    **more,
):
    return report_risk(
        engine, ReportRequest(TEAM, risk, context, reporter, account_id=account_id, **more), drafter
    )


def _count(engine, model) -> int:
    with session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_roles_resolve_to_real_people(engine, acme):
    result = _report(engine, acme)
    by_id = {st.position: st for st in result.steps}
    assert result.created and result.case.status == "planned"
    assert result.case.owner_user_id == "U0MAYA" and result.case.total_steps == 7
    assert by_id[1].assignee_user_id == "U0MAYA"  # csm
    assert by_id[2].assignee_user_id == "U0LI"  # account_executive
    assert by_id[2].recipient_ref == "U0MAYA"  # internal:csm
    assert by_id[7].recipient_ref == "U0OMAR"  # internal:cs_manager = the CSM's manager
    assert by_id[3].recipient_label.startswith("Lee Park")  # contact:economic_buyer
    assert by_id[3].recipient_ref == "lee@acme.com"
    assert by_id[3].assignee_fallback and by_id[3].assignee_user_id == "U0SAM"  # no sponsor
    assert "Hi Lee," in by_id[3].draft and "Sam Patel" in by_id[3].draft
    assert all("{" not in st.draft for st in result.steps)
    plan = result.case.gathered["plan"]
    assert [p["waits_for"] for p in plan] == [None, 1, 2, 3, 4, 4, 5]  # `after:` kept


def test_support_lead_and_named_people(engine, acme):
    result = _report(engine, acme, risk="usage_dip", context="Logins down 40% this month.")
    support = [st for st in result.steps if st.assignee_role == "support_lead"]
    assert support and all(st.assignee_user_id == "U0RITA" for st in support)


def test_account_without_csm_or_contacts_still_gets_a_plan_with_fallbacks(engine, make_account):
    bare = make_account("Bare Inc", csm=None, ae=None, contacts=[])
    result = _report(engine, bare, risk="budget_cut", context="Budget frozen.")
    assert result.created and result.case.owner_user_id == "U0SAM"
    assert all(st.assignee_user_id == "U0SAM" for st in result.steps)
    assert all(st.assignee_fallback for st in result.steps)
    plan = result.case.gathered["plan"]
    assert any(p["recipient_known"] is False for p in plan)
    blocks = plan_card(
        result.case, result.steps, account_name="Bare Inc", playbook_name=result.playbook.name
    )
    text = str(blocks)
    assert "so the reporter is assigned" in text and "Recipient unknown" in text
    assert "no contacts on record" in text
    assert not validate_message_blocks(blocks)


def test_unknown_account_is_a_field_error(engine, acme):
    with pytest.raises(ReportError) as err:
        _report(engine, None, account_name="Initech")
    assert err.value.field == "account" and "Initech" in str(err.value)
    with pytest.raises(ReportError) as other_team:
        report_risk(
            engine, ReportRequest("T0OTHER", "champion_left", "x", "U0SAM", account_id=acme)
        )
    assert other_team.value.field == "account"
    with pytest.raises(ReportError) as risk:
        _report(engine, acme, risk="nope")
    assert risk.value.field == "risk"


def test_ten_thousand_character_context_is_stored_and_shown_truncated(engine, acme):
    long = ("The champion left and nobody answers. " * 300)[:10_000]
    result = _report(engine, acme, context=long)
    assert len(result.case.context) == 10_000
    blocks = plan_card(
        result.case, result.steps, account_name="Acme Corp", playbook_name=result.playbook.name
    )
    assert not validate_message_blocks(blocks) and len(blocks) <= 50
    assert "first 700 of 10,000 characters shown" in str(blocks)
    assert all(len(st.draft) <= 3000 for st in result.steps)
    with pytest.raises(ReportError) as err:
        _report(engine, acme, risk="usage_dip", context=long + "!")
    assert err.value.field == "context"


def test_second_report_of_the_same_risk_returns_the_open_case(engine, acme):
    first = _report(engine, acme, reporter="U0SAM")
    second = _report(engine, acme, reporter="U0MAYA", context="Heard Dana resigned")
    assert not second.created and second.case.id == first.case.id
    assert len(second.steps) == 7 and second.case.reporter_user_id == "U0SAM"
    other_risk = _report(engine, acme, risk="budget_cut")
    assert other_risk.created and _count(engine, Case) == 2


class SlowDrafter(Drafter):
    """Rules drafts, but both reporters draft at the same time before either writes."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier

    def draft(self, step, facts):  # type: ignore[no-untyped-def]
        if step.id == "find_new_poc":
            self.barrier.wait(10)
        return super().draft(step, facts)


def test_two_reporters_at_the_same_moment_make_one_case(engine, acme):
    barrier = threading.Barrier(2)
    results = []

    def report(user):  # type: ignore[no-untyped-def]
        results.append(_report(engine, acme, reporter=user, drafter=SlowDrafter(barrier)))

    threads = [threading.Thread(target=report, args=(u,)) for u in ("U0SAM", "U0MAYA")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2
    assert sorted(r.created for r in results) == [False, True]
    assert results[0].case.id == results[1].case.id
    assert _count(engine, Case) == 1 and _count(engine, CaseStep) == 7


class StubEngine:
    """Stands in for OpenAIEngine.draft_step: a fixed answer or an exception."""

    def __init__(self, answer):  # type: ignore[no-untyped-def]
        self.answer = answer
        self.calls = 0

    def draft_step(self, template, facts, step, max_chars=2500):  # type: ignore[no-untyped-def]
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("", "empty"),
        ("Hi Lee. " * 700, "characters"),
        ("Hi [Customer Name], about {account.name} …", "placeholders"),
        (LLMError("The drafted message was empty."), "empty"),
    ],
)
def test_unusable_llm_drafts_fall_back_to_the_template_flagged(engine, acme, answer, reason):
    stub = StubEngine(answer)
    result = _report(engine, acme, drafter=Drafter(stub))
    assert stub.calls == 7
    plan = result.case.gathered["plan"]
    assert all(p["engine"] == "rules" and reason in p["fallback_reason"] for p in plan)
    assert "Hi Lee," in result.steps[2].draft  # the rules draft
    blocks = plan_card(
        result.case, result.steps, account_name="Acme Corp", playbook_name=result.playbook.name
    )
    assert "LLM draft was not usable" in str(blocks) and not validate_message_blocks(blocks)


def test_good_llm_draft_is_used(engine, acme):
    result = _report(engine, acme, drafter=Drafter(StubEngine("Hi Lee, quick note from us.")))
    assert {st.draft for st in result.steps} == {"Hi Lee, quick note from us."}
    assert {p["engine"] for p in result.case.gathered["plan"]} == {"openai"}


def test_fake_openai_server_placeholder_draft_falls_back(engine, acme):
    from bot.devtools.fake_openai import FakeOpenAIServer
    from bot.llm.openai_engine import OpenAIEngine

    with FakeOpenAIServer(api_key="k") as server:
        server.script(["Hi [First Name], sorry."] * 2 + ["Hi Lee, a short note."] * 12)
        llm = OpenAIEngine(server.base_url, "k", "fake-model", timeout=5, max_retries=0)
        result = _report(engine, acme, drafter=Drafter(llm))
    plan = result.case.gathered["plan"]
    assert plan[0]["engine"] == "rules" and "placeholders" in plan[0]["fallback_reason"]
    assert {p["engine"] for p in plan[1:]} == {"openai"}
    assert result.steps[1].draft == "Hi Lee, a short note."


def test_nothing_half_created_when_a_write_fails_midway(engine, acme, monkeypatch):
    real = audit.record
    calls = {"n": 0}

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if args[5] == "planned" and calls["n"] > 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr("bot.cases.report.audit.record", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        _report(engine, acme)
    assert _count(engine, Case) == 0 and _count(engine, CaseStep) == 0
    with session_scope(engine) as s:
        assert (
            s.exec(select(AuditEvent).where(AuditEvent.entity.in_(("case", "case_step")))).all()
            == []
        )
    monkeypatch.setattr("bot.cases.report.audit.record", real)
    assert _report(engine, acme).created  # and the next try works


def test_context_is_gathered_and_bounded(engine, acme):
    today = dt.date.today()
    with session_scope(engine) as s:
        lines = "\n".join(f"Dana Ruiz: line {i} about lunch" for i in range(200))
        lines += "\nDana Ruiz: I am leaving the company next month, my replacement is Kim."
        s.add(
            Transcript(team_id=TEAM, sha256="a" * 64, account_id=acme, text=lines, call_date=today)
        )
        for i in range(15):
            s.add(
                Commitment(
                    team_id=TEAM,
                    account_id=acme,
                    text=f"Send the SSO guide {i}",
                    owner_name="Maya",
                    status="open",
                    due_date=today + dt.timedelta(days=i - 5),
                )
            )
        s.add(Commitment(team_id=TEAM, account_id=acme, text="Done thing", status="done"))
    result = _report(engine, acme, context="Dana is leaving the company; replacement unknown.")
    g = result.case.gathered
    assert len(g["overdue_commitments"]) == 5 and len(g["open_commitments"]) == 10
    [excerpt] = g["excerpts"]
    assert any("leaving the company" in ln for ln in excerpt["lines"])
    assert len(excerpt["lines"]) <= 4
    assert set(g["contacts"]) == {"champion", "economic_buyer", "admin"}
    mapping = result.steps[1].draft
    assert "Send the SSO guide" in mapping  # {open_commitments} in the AE/CSM mapping step
    later = _report(engine, acme, risk="usage_dip", context="usage down")
    assert any(
        "Champion or point of contact left" in c for c in later.case.gathered["previous_cases"]
    )


def test_plan_edits_refused_for_others_and_once_running(engine, acme):
    result = _report(engine, acme, reporter="U0SAM")
    case_id = result.case.id
    with session_scope(engine) as s, pytest.raises(plan_edits.PlanEditError, match="Only"):
        plan_edits.drop_step(s, TEAM, case_id, 2, "U0LI", [])
    with session_scope(engine) as s:
        plan_edits.change_delay(s, TEAM, case_id, 2, "1w", "U0ANA", [])  # admin by flag
        plan_edits.reassign_step(s, TEAM, case_id, 3, "U0OMAR", "U0MAYA", [])  # owner
    with session_scope(engine) as s:
        s.get(Case, case_id).status = "running"
    with session_scope(engine) as s, pytest.raises(plan_edits.PlanEditError, match="running"):
        plan_edits.edit_draft(s, TEAM, case_id, 1, "new text", "U0SAM", [])
    with session_scope(engine) as s, pytest.raises(plan_edits.PlanEditError, match="exist"):
        plan_edits.edit_draft(s, "T0OTHER", case_id, 1, "new text", "U0SAM", [])
