"""`followthrough report-risk`: the /report-risk service for scripts and the demo."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session, select

from bot.cases.plan_blocks import MEDIUM_LABEL, when_text
from bot.cases.report import ROLE_LABELS, ReportResult
from bot.models import CaseStep, Person, StepStatus


def _name(session: Session, team_id: str, user_id: str | None) -> str:
    if not user_id:
        return "unassigned"
    person = session.exec(
        select(Person).where(Person.team_id == team_id, Person.slack_user_id == user_id)
    ).first()
    return (person.real_name or person.name) if person else user_id


def _indent(text: str, prefix: str = "      │ ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def plan_lines(session: Session, result: ReportResult, context_chars: int = 300) -> list[str]:
    """The plan as plain text: one paragraph per step with who, to whom, when, via and draft."""
    case, team_id = result.case, result.case.team_id
    meta = {int(p["position"]): p for p in (case.gathered or {}).get("plan", [])}
    context = (
        case.context
        if len(case.context) <= context_chars
        else (
            case.context[:context_chars].rstrip()
            + f"… ({len(case.context):,} characters, shown truncated)"
        )
    )
    head = "Case" if result.created else "Already open: case"
    lines = [
        f"{head} #{case.id}: {result.playbook.name} at {result.account.name} "
        f"(playbook {case.risk_key} v{case.playbook_version}, status {case.status})",
        f"  reporter: {_name(session, team_id, case.reporter_user_id)}   "
        f"owner: {_name(session, team_id, case.owner_user_id)}",
        f"  why: {context}",
        "",
    ]
    for step in result.steps:
        lines += step_lines(session, step, meta.get(step.position, {}))
    return lines


def step_lines(session: Session, step: CaseStep, meta: dict) -> list[str]:
    dropped = step.status in (StepStatus.CANCELLED, StepStatus.SKIPPED)
    who = _name(session, step.team_id, step.assignee_user_id)
    if step.assignee_fallback:
        role = ROLE_LABELS.get(step.assignee_role, step.assignee_role)
        who += f"  [FALLBACK: no {role} on record]"
    lines = [f"  {step.position}. {step.summary}" + (f"  ({step.status})" if dropped else "")]
    lines.append(f"      who: {who}")
    if step.recipient_spec:
        unknown = "  [UNKNOWN RECIPIENT]" if meta.get("recipient_known") is False else ""
        lines.append(f"      to: {step.recipient_label}{unknown}")
    lines.append(
        f"      when: {when_text(step, meta.get('waits_for'))}   "
        f"via: {MEDIUM_LABEL.get(step.medium, step.medium)}"
    )
    if meta.get("fallback_reason"):
        lines.append(f"      draft: template (LLM draft unusable: {meta['fallback_reason']})")
    if meta.get("subject"):
        lines.append(f"      subject: {meta['subject']}")
    if not dropped:
        lines.append(_indent(step.draft))
    lines.append("")
    return lines


def register(app: typer.Typer) -> None:
    @app.command("report-risk")
    def report_risk_command(
        account: Annotated[str, typer.Option("--account", help="Account name, domain or CRM id")],
        risk: Annotated[str, typer.Option("--risk", help="Playbook key, e.g. champion_left")],
        context: Annotated[str, typer.Option("--context", help="What happened (≤ 10,000 chars)")],
        reporter: Annotated[
            str | None, typer.Option("--reporter", help="Reporter's email (a Slack member)")
        ] = None,
        team: Annotated[
            str | None, typer.Option("--team", help="Slack team id (default: the only one)")
        ] = None,
    ) -> None:
        """Report a risk: make the case-specific plan from the playbook and print it (the same
        service as /report-risk). Exit 1 on bad input; an already open case is shown."""
        from bot.cases.drafting import drafter_for
        from bot.cases.report import ReportError, ReportRequest, report_risk, reporter_by_email
        from bot.clikit import checked_runtime, command_team, fail, settings_or_exit
        from bot.db import session_scope

        settings = settings_or_exit()
        rt = checked_runtime(settings)
        team_id, _ = command_team(settings, rt, team)
        try:
            reporter_id = reporter_by_email(rt.engine, team_id, reporter) if reporter else None
            result = report_risk(
                rt.engine,
                ReportRequest(
                    team_id=team_id,
                    risk_key=risk,
                    context=context,
                    reporter_user_id=reporter_id,
                    account_name=account,
                ),
                drafter_for(settings),
            )
        except ReportError as exc:
            raise fail(f"{exc.field or 'report'}: {exc}", 1) from None
        with session_scope(rt.engine) as session:
            for line in plan_lines(session, result):
                typer.echo(line)
