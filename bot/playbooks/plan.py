"""Turn a template into a case plan's text, purely: per-step facts, drafts, projected timing.

Who a role or contact role actually is (Slack user, email) is the caller's lookup, passed in
as small callables, so this module stays free of the database and of Slack.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.playbooks.checks import anchors
from bot.playbooks.durations import format_delay
from bot.playbooks.render import render_message, truncate_at_sentence
from bot.playbooks.schema import (
    MAX_MESSAGE_CHARS,
    MAX_SUBJECT_CHARS,
    Assignee,
    Medium,
    PlaybookTemplate,
    Recipient,
    StepTemplate,
)

PersonFacts = Mapping[str, object]  # e.g. {"name": "Dana Reyes", "first_name": "Dana", ...}
RecipientLookup = Callable[[Recipient], PersonFacts | None]
AssigneeLookup = Callable[[Assignee], PersonFacts | None]


@dataclass(frozen=True)
class Draft:
    text: str
    subject: str | None = None
    missing: list[str] = field(default_factory=list)  # placeholder names with no value
    truncated: bool = False


@dataclass(frozen=True)
class PlannedStep:
    """One step of a case plan before anything is stored or scheduled."""

    position: int  # 1-based, in template order
    step: StepTemplate
    waits_for: int | None  # position of the step whose completion starts `delay`; None: opening
    offset: timedelta  # projected time from the case opening if each step is done when due
    draft: Draft
    recipient_known: bool  # False when the recipient could not be resolved for this account

    @property
    def delay(self) -> timedelta:
        return self.step.delay


def projected_offsets(template: PlaybookTemplate) -> list[timedelta]:
    """Earliest time after the case opens at which each step falls due, assuming every step
    is answered the moment it is due. Loops are impossible in a validated template."""
    graph = anchors(template.steps)
    offsets: list[timedelta | None] = [None] * len(template.steps)

    def offset(index: int) -> timedelta:
        known = offsets[index]
        if known is None:
            anchor = graph[index]
            base = offset(anchor) if anchor is not None else timedelta(0)
            known = offsets[index] = base + template.steps[index].delay
        return known

    return [offset(i) for i in range(len(template.steps))]


def person_facts(name: str | None, **more: object) -> dict[str, object]:
    """Facts for a person from a display name: `name` and `first_name` (+ any extras)."""
    facts: dict[str, object] = dict(more)
    if name and name.strip():
        facts["name"] = name.strip()
        facts["first_name"] = name.strip().split()[0]
    return facts


def step_facts(
    facts: Mapping[str, object],
    *,
    recipient: PersonFacts | None = None,
    assignee: PersonFacts | None = None,
) -> Mapping[str, object]:
    """The case's facts with this step's recipient and assignee laid over them."""
    overlay: dict[str, object] = {}
    if recipient is not None:
        overlay["recipient"] = recipient
    if assignee is not None:
        overlay["assignee"] = assignee
    return ChainMap(overlay, dict(facts))


def draft_step(
    step: StepTemplate, facts: Mapping[str, object], limit: int = MAX_MESSAGE_CHARS
) -> Draft:
    """Fill the step's subject and message; long results are cut at a sentence boundary."""
    body = render_message(step.message, facts)
    text = truncate_at_sentence(body.text, limit)
    missing = list(body.missing)
    subject = None
    if step.subject:
        rendered = render_message(step.subject, facts)
        subject = truncate_at_sentence(" ".join(rendered.text.split()), MAX_SUBJECT_CHARS)
        missing += [name for name in rendered.missing if name not in missing]
    return Draft(text=text, subject=subject, missing=missing, truncated=text != body.text)


def plan_case(
    template: PlaybookTemplate,
    facts: Mapping[str, object],
    *,
    recipient_of: RecipientLookup | None = None,
    assignee_of: AssigneeLookup | None = None,
) -> list[PlannedStep]:
    """Every step with its projected timing and a draft written for this account.

    `facts` holds the case-wide placeholders (account.*, csm.*, reporter.*, context, ...);
    `recipient_of` / `assignee_of` return person facts for a step's recipient / assignee,
    or None when unknown (the draft then says "Hi there," and lists what is missing)."""
    graph = anchors(template.steps)
    offsets = projected_offsets(template)
    plan = []
    for index, step in enumerate(template.steps):
        recipient = recipient_of(step.recipient) if recipient_of and step.recipient else None
        assignee = assignee_of(step.assignee) if assignee_of else None
        merged = step_facts(facts, recipient=recipient, assignee=assignee)
        anchor = graph[index]
        plan.append(
            PlannedStep(
                position=index + 1,
                step=step,
                waits_for=anchor + 1 if anchor is not None else None,
                offset=offsets[index],
                draft=draft_step(step, merged),
                recipient_known=step.recipient is None or recipient is not None,
            )
        )
    return plan


_MEDIUM_VERB = {
    Medium.SLACK: "Slack",
    Medium.EMAIL: "email",
    Medium.CALL: "call",
    Medium.MEETING: "meeting",
    Medium.INTERNAL: "task",
}


def describe_step(planned: PlannedStep) -> str:
    """One plain line for previews and logs (no message text):
    "2. +1d after step 1 · account_executive · meeting → contact:economic_buyer — Map …"."""
    step = planned.step
    if step.delay:
        since = f"step {planned.waits_for}" if planned.waits_for else "opening"
        when = f"+{format_delay(step.delay)} after {since}"
    else:
        when = f"right after step {planned.waits_for}" if planned.waits_for else "at once"
    target = f" → {step.recipient}" if step.recipient else ""
    return (
        f"{planned.position}. {when} · {step.assignee} · {_MEDIUM_VERB[step.medium]}"
        f"{target} — {step.summary}"
    )
