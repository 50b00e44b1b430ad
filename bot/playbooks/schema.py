"""What a playbook template is: a risk and an ordered list of steps, as pydantic models.

Assignees and recipients are written as short strings in YAML ("csm", "person:ana@x.com",
"contact:champion", "channel:#cs-escalations") and parsed into small models here, so the
case planner matches on fields instead of re-parsing strings. Models dump back to the same
strings, so a template stored as JSON reloads unchanged.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from bot.playbooks.checks import template_issues
from bot.playbooks.durations import format_delay, parse_delay
from bot.playbooks.vocabulary import CHANNEL as _CHANNEL
from bot.playbooks.vocabulary import EMAIL as _EMAIL
from bot.playbooks.vocabulary import (
    MAX_MESSAGE_CHARS,
    MAX_STEPS,
    MAX_SUBJECT_CHARS,
    MAX_SUMMARY_CHARS,
    SKIP_CROSS_CHECKS,
    AssigneeRole,
    ContactRole,
    Medium,
    RecipientKind,
)
from bot.playbooks.vocabulary import SLUG as _SLUG


def _choices(enum: type[StrEnum]) -> str:
    return ", ".join(m.value for m in enum)


def _email(value: str, spec: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"'{spec}' does not name a person by email, e.g. person:ana@example.com")
    return value.lower()


class Assignee(BaseModel):
    """Who does a step: a role resolved per account, or one named person."""

    model_config = ConfigDict(frozen=True)

    role: AssigneeRole | None = None
    email: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return parse_assignee(value).__dict__

    @model_serializer
    def _to_text(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return f"person:{self.email}" if self.email else str(self.role)


class Recipient(BaseModel):
    """Who a step's message goes to: `kind` plus the role, channel name or email."""

    model_config = ConfigDict(frozen=True)

    kind: RecipientKind
    value: str

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parsed = parse_recipient(value)
        return {"kind": parsed.kind, "value": parsed.value}

    @model_serializer
    def _to_text(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @property
    def is_customer(self) -> bool:
        return self.kind is RecipientKind.CONTACT


def parse_assignee(text: str) -> Assignee:
    """`csm` | `cs_manager` | `account_executive` | `support_lead` | `exec_sponsor` |
    `person:<email>`."""
    spec = text.strip()
    if spec.startswith("person:"):
        return Assignee.model_construct(role=None, email=_email(spec[7:].strip(), spec))
    try:
        return Assignee.model_construct(role=AssigneeRole(spec), email=None)
    except ValueError:
        raise ValueError(
            f"assignee '{spec}' is not one of: {_choices(AssigneeRole)}, or person:<email>"
        ) from None


def parse_recipient(text: str) -> Recipient:
    """`contact:<role>` | `internal:<role>` | `channel:#name` | `person:<email>`."""
    spec = text.strip()
    kind_text, sep, value = spec.partition(":")
    value = value.strip()
    kinds = ", ".join(f"{k.value}:" for k in RecipientKind)
    if not sep or kind_text not in {k.value for k in RecipientKind}:
        raise ValueError(
            f"recipient '{spec}' must start with one of {kinds} "
            "e.g. contact:champion or channel:#cs-escalations"
        )
    kind = RecipientKind(kind_text)
    if kind is RecipientKind.CONTACT and value not in {r.value for r in ContactRole}:
        raise ValueError(f"recipient '{spec}': contact role must be one of {_choices(ContactRole)}")
    if kind is RecipientKind.INTERNAL and value not in {r.value for r in AssigneeRole}:
        raise ValueError(
            f"recipient '{spec}': internal role must be one of {_choices(AssigneeRole)}"
        )
    if kind is RecipientKind.CHANNEL and not _CHANNEL.match(value):
        raise ValueError(
            f"recipient '{spec}': a channel is written like channel:#cs-escalations "
            "(lowercase letters, digits, - and _)"
        )
    if kind is RecipientKind.PERSON:
        value = _email(value, spec)
    return Recipient.model_construct(kind=kind, value=value)


def _delay(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError("a delay cannot be negative")
        return value
    if isinstance(value, float | list | dict) or value is None:
        raise ValueError(f"delay '{value}' is not a duration; use e.g. 0, 4h, 2d, 1w")
    return parse_delay(value)


Delay = Annotated[
    timedelta,
    BeforeValidator(_delay),
    PlainSerializer(format_delay, return_type=str, when_used="json"),
]


def _slug(value: Any, what: str) -> Any:
    if isinstance(value, str) and not _SLUG.match(value):
        raise ValueError(
            f"{what} '{value}' must be lowercase letters, digits, - or _, "
            "starting with a letter (at most 40), e.g. map_org_chart"
        )
    return value


class StepTemplate(BaseModel):
    """One step: who does what, for whom, how long after the step it follows, and the draft."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str
    order: int | None = Field(default=None, ge=1)
    summary: str = Field(min_length=3, max_length=MAX_SUMMARY_CHARS)
    assignee: Assignee
    recipient: Recipient | None = None  # may be left out only when medium is internal
    delay: Delay
    medium: Medium
    after: str | None = None  # step id this one waits for; default: the step listed before it
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)  # email subject
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)

    @field_validator("id", "after")
    @classmethod
    def _ids(cls, value: Any, info: ValidationInfo) -> Any:
        return _slug(value, "step id" if info.field_name == "id" else "after")


class PlaybookTemplate(BaseModel):
    """A risk and its ordered steps. Cross-step rules (unique ids, `after` targets, loops,
    placeholders, order numbers) are enforced here too, so a template rebuilt from JSON is
    as trustworthy as one parsed from YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    key: str
    name: str = Field(min_length=3, max_length=80)
    summary: str = Field(min_length=10, max_length=1000)
    version: int = Field(default=1, ge=1)
    steps: list[StepTemplate] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("key")
    @classmethod
    def _key(cls, value: Any) -> Any:
        return _slug(value, "key")

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> PlaybookTemplate:
        if info.context and info.context.get(SKIP_CROSS_CHECKS):
            return self
        errors = [i.message for i in template_issues(self) if i.severity == "error"]
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def step(self, step_id: str) -> StepTemplate:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def anchor_of(self, step_id: str) -> str | None:
        """The step whose completion starts this step's delay (None: the case opening)."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                if step.after:
                    return step.after
                return self.steps[index - 1].id if index else None
        raise KeyError(step_id)
