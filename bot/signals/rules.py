"""Signal rules: YAML files that say when signals become a suggested case, and the pure
evaluation of one rule against one signal and its history.

A rule reads one signal type and fires on a condition — a value ("health below 40"), a
change over a window ("dropped 20 points in 30 days"), or repetition ("the third unanswered
ticket this week", "rescheduled twice") — and suggests a risk (a playbook key, as in
`/report-risk`). `cooldown` is how long a Dismiss is remembered for that account and risk.

Files are checked like playbooks: every problem is reported as `file:line:column: message`
(PyYAML's node marks joined with pydantic's error paths), and a file with an error is not
used at all — the rules already in force stay in force.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.playbooks.durations import DelayError, format_delay, parse_delay
from bot.yamlcheck import Problem, at_node, compose, walk

SEED_DIR = Path(__file__).resolve().parents[2] / "prompts" / "signals"
_SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_TYPE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")


def _duration(value: Any) -> dt.timedelta:
    try:
        delta = parse_delay(value)
    except DelayError as exc:
        raise ValueError(str(exc).replace("delay ", "", 1)) from None
    if delta <= dt.timedelta(0):
        raise ValueError("must be longer than 0, e.g. 7d or 30d")
    return delta


class Condition(BaseModel):
    """When the rule fires. A value test, a change or a count (or a value test plus a count:
    "the third ticket marked urgent this week")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    below: float | None = None
    above: float | None = None
    equals: str | None = Field(default=None, max_length=200)
    dropped_by: float | None = Field(default=None, gt=0)
    rose_by: float | None = Field(default=None, gt=0)
    count: int | None = Field(default=None, ge=1, le=1000)
    within: dt.timedelta | None = None
    any: bool = False

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, value: Any) -> Any:
        return None if value is None else _duration(value)

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        changes = [n for n in ("dropped_by", "rose_by", "count") if getattr(self, n) is not None]
        values = [n for n in ("below", "above", "equals") if getattr(self, n) is not None]
        if len(changes) > 1:
            raise ValueError(
                f"use one of dropped_by, rose_by and count, not {' and '.join(changes)}"
            )
        if changes and self.within is None:
            raise ValueError(f"{changes[0]} needs a window: add e.g. 'within: 30d'")
        if self.within is not None and not changes:
            raise ValueError("within is only used with dropped_by, rose_by or count")
        if changes and changes[0] != "count" and values:
            raise ValueError(f"{changes[0]} cannot be combined with {values[0]}")
        if not changes and not values and not self.any:
            raise ValueError(
                "when needs a condition: below, above, equals, dropped_by, rose_by, count "
                "(or any: true to fire on every signal)"
            )
        if self.below is not None and self.above is not None and self.above >= self.below:
            raise ValueError("above and below together must leave a range (above < below)")
        return self

    def describe(self) -> str:
        parts = []
        if self.below is not None:
            parts.append(f"below {self.below:g}")
        if self.above is not None:
            parts.append(f"above {self.above:g}")
        if self.equals is not None:
            parts.append(f"is '{self.equals}'")
        span = format_delay(self.within) if self.within else ""
        if self.dropped_by is not None:
            parts.append(f"dropped {self.dropped_by:g} within {span}")
        if self.rose_by is not None:
            parts.append(f"rose {self.rose_by:g} within {span}")
        if self.count is not None:
            parts.append(f"{self.count}× within {span}")
        return " and ".join(parts) or "any signal"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    name: str = Field(min_length=3, max_length=80)
    signal: list[str]
    when: Condition
    risk: str
    cooldown: dt.timedelta = dt.timedelta(days=30)
    version: int = Field(default=1, ge=1)

    @field_validator("key", "risk")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"'{value}' must be lowercase letters, digits, - and _")
        return value

    @field_validator("signal", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        values = [value] if isinstance(value, str) else value
        if isinstance(values, list):
            for v in values:
                if not isinstance(v, str) or not _TYPE.match(v):
                    raise ValueError(f"signal type '{v}' must be lowercase, e.g. health_score")
            if not values:
                raise ValueError("signal needs at least one signal type")
        return values

    @field_validator("cooldown", mode="before")
    @classmethod
    def _cooldown(cls, value: Any) -> Any:
        return _duration(value)

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        data["cooldown"] = format_delay(self.cooldown).replace(" ", "")
        if self.when.within is not None:
            data["when"]["within"] = format_delay(self.when.within).replace(" ", "")
        if not self.when.any:
            data["when"].pop("any", None)
        return data


# --- reading files -----------------------------------------------------------------------

_FIELDS: dict[str, list[str]] = {
    "rule": sorted(Rule.model_fields),
    "when": sorted(Condition.model_fields),
}


def _message(err: Any) -> str:
    loc = [p for p in err["loc"] if isinstance(p, str)]
    field = loc[-1] if loc else "rule"
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if not err["loc"]:
        return "a rule file must be a mapping with key, name, signal, when and risk"
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "extra_forbidden":
        known = _FIELDS["when" if loc[:1] == ["when"] else "rule"]
        close = difflib.get_close_matches(field, known, 1, 0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known fields: {', '.join(known)}"
        return f"unknown field '{field}'{hint}"
    if kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
        return text if field in {"when", "rule"} or text.startswith(field) else f"{field} {text}"
    if kind in {"float_parsing", "float_type"}:
        return f"{field} must be a number, not '{value}'"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{field} must be a whole number"
    if kind in {"greater_than", "greater_than_equal", "less_than_equal"}:
        return f"{field} {err['msg'].lower()}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"{field} must be a mapping (key: value lines)"
    if kind.startswith("string"):
        return f"{field}: {err['msg'].lower()}"
    return f"{field}: {err['msg']}"


def check_rule(text: str, source: str = "<rule>") -> tuple[Rule | None, list[Problem]]:
    """Parse and check one rule file; the rule is None when there is any error."""
    root, data, problems = compose(text, source)
    if root is None:
        if problems:
            return None, problems
        return None, [
            Problem(source, 1, 1, "file is empty; a rule needs key, name, signal, when, risk")
        ]
    try:
        rule = Rule.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            node, key_node, _ = walk(root, tuple(err["loc"]))
            at = key_node if err["type"] == "extra_forbidden" and key_node is not None else node
            problems.append(at_node(text, source, at, _message(err)))
        return None, sorted(problems, key=lambda p: (p.line, p.column))
    errors = [p for p in problems if p.is_error]
    return (None if errors else rule), problems


@dataclass(frozen=True)
class RuleFile:
    rule: Rule
    source: str
    sha256: str


def read_dir(
    folder: str | Path, known_risks: Iterable[str] | None = None
) -> tuple[list[RuleFile], list[Problem]]:
    """Every `*.yaml` / `*.yml` rule in a folder: the valid ones and every problem (a key that
    differs from the file name, a key used twice, a risk with no playbook)."""
    path = Path(folder)
    risks = set(known_risks) if known_risks is not None else None
    out: list[RuleFile] = []
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    if not path.is_dir():
        return [], [Problem(str(path), 1, 1, "rules folder not found")]
    for file in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
        text = file.read_text(encoding="utf-8", errors="replace")
        rule, found = check_rule(text, file.name)
        problems += found
        if rule is None:
            continue
        line = next((n for n, s in enumerate(text.splitlines(), 1) if s.startswith("key:")), 1)
        if rule.key != file.stem:
            problems.append(
                Problem(
                    file.name,
                    line,
                    1,
                    f"key '{rule.key}' does not match the file name; call it {rule.key}.yaml",
                )
            )
            continue
        if rule.key in owner:
            problems.append(
                Problem(
                    file.name, line, 1, f"key '{rule.key}' is already used by {owner[rule.key]}"
                )
            )
            continue
        if risks is not None and rule.risk not in risks:
            risk_line = next(
                (n for n, s in enumerate(text.splitlines(), 1) if s.startswith("risk:")), 1
            )
            close = difflib.get_close_matches(rule.risk, sorted(risks), 1, 0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(
                Problem(file.name, risk_line, 7, f"risk '{rule.risk}' has no active playbook{hint}")
            )
            continue
        owner[rule.key] = file.name
        out.append(RuleFile(rule, file.name, hashlib.sha256(text.encode()).hexdigest()))
    return out, problems


def fingerprint(folder: str | Path) -> str:
    """A cheap digest of the folder (names, sizes, modification times): a tick that sees
    the same fingerprint re-reads nothing."""
    path = Path(folder)
    h = hashlib.sha256()
    try:
        entries = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
    except OSError:
        return "missing"
    for p in entries:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


# --- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One signal as the rules see it."""

    at: dt.datetime
    value: float | None
    previous: float | None = None
    text: str | None = None


@dataclass(frozen=True)
class Window:
    """What came before `point` in the rule's window, for the same account and signal type:
    how many earlier signals passed the value test, and the highest and lowest value."""

    count: int = 0
    peak: float | None = None
    low: float | None = None


@dataclass(frozen=True)
class Fired:
    rule: Rule
    why: str


def value_ok(c: Condition, value: float | None, text: str | None) -> bool:
    if c.below is not None and (value is None or not value < c.below):
        return False
    if c.above is not None and (value is None or not value > c.above):
        return False
    if c.equals is not None:
        got = text if text is not None else (f"{value:g}" if value is not None else None)
        if got is None or got.strip().lower() != c.equals.strip().lower():
            return False
    return True


def evaluate(rule: Rule, point: Point, window: Window = Window()) -> Fired | None:
    """Does `point` fire `rule`, given what came before it in the rule's window?"""
    c = rule.when
    if not value_ok(c, point.value, point.text):
        return None
    shown = f"{point.value:g}" if point.value is not None else (point.text or "signal")
    span = format_delay(c.within) if c.within else ""
    if c.dropped_by is not None or c.rose_by is not None:
        if point.value is None:
            return None
        olds = [v for v in (window.peak, window.low, point.previous) if v is not None]
        if not olds:
            return None
        if c.dropped_by is not None:
            peak = max(olds)
            if peak - point.value >= c.dropped_by:
                return Fired(
                    rule, f"dropped {peak - point.value:g} (from {peak:g} to {shown}) within {span}"
                )
            return None
        low = min(olds)
        if c.rose_by is not None and point.value - low >= c.rose_by:
            return Fired(
                rule, f"rose {point.value - low:g} (from {low:g} to {shown}) within {span}"
            )
        return None
    if c.count is not None:
        n = window.count + 1
        if n < c.count:
            return None
        return Fired(rule, f"{_ordinal(n)} within {span}")
    return Fired(rule, f"{shown} ({c.describe()})")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rule_from_json(data: dict[str, Any]) -> Rule:
    return Rule.model_validate(data)
