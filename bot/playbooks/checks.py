"""Rules that span several fields or steps, as pure functions returning located issues.

An issue carries a path into the document (("steps", 2, "after")) rather than a line, so
the same rules serve YAML files (parse.py maps paths to lines) and templates rebuilt from
the database (schema.py raises on errors).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.playbooks.placeholders import ALLOWED_PLACEHOLDERS
from bot.playbooks.render import placeholder_spans, stray_braces
from bot.playbooks.vocabulary import MAX_ADVISED_STEPS, MIN_ADVISED_STEPS, Medium, RecipientKind

if TYPE_CHECKING:
    from bot.playbooks.schema import PlaybookTemplate, StepTemplate

Severity = Literal["error", "warning"]
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    path: Path
    message: str
    severity: Severity = "error"
    token: str | None = None  # text inside the located value, to point at its exact column
    at_token_end: bool = False  # point at the token's last character instead of its first


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def template_issues(template: PlaybookTemplate) -> list[Issue]:
    """Every cross-field problem in a template; errors first in document order."""
    steps = template.steps
    issues = [
        *_duplicate_ids(steps),
        *_order_numbers(steps),
        *_after_targets(steps),
        *_loops(steps),
    ]
    for index, step in enumerate(steps):
        issues += _step_issues(index, step)
    issues += _advice(steps)
    return issues


def _duplicate_ids(steps: Sequence[StepTemplate]) -> list[Issue]:
    first: dict[str, int] = {}
    issues = []
    for index, step in enumerate(steps):
        if step.id in first:
            issues.append(
                Issue(
                    ("steps", index, "id"),
                    f"step id '{step.id}' is used twice (first by step "
                    f"{first[step.id] + 1}); ids must be unique",
                )
            )
        first.setdefault(step.id, index)
    return issues


def _order_numbers(steps: Sequence[StepTemplate]) -> list[Issue]:
    numbered = [s.order is not None for s in steps]
    if not any(numbered):
        return []
    issues = []
    for index, step in enumerate(steps):
        expected = index + 1
        if step.order is None:
            issues.append(
                Issue(
                    ("steps", index),
                    f"step {expected} has no order while others do; number every step or none",
                )
            )
        elif step.order != expected:
            previous = steps[index - 1].order if index else None
            if previous == expected - 1 and step.order > expected:
                gap = f"after {previous}" if previous else "at the start"
                message = f"order {step.order} leaves a gap {gap}; expected {expected}"
            else:
                message = f"order {step.order} is out of sequence; expected {expected}"
            issues.append(
                Issue(
                    ("steps", index, "order"),
                    message + " (number steps 1, 2, 3 … as they are listed)",
                )
            )
    return issues


def _after_targets(steps: Sequence[StepTemplate]) -> list[Issue]:
    ids = [s.id for s in steps]
    issues = []
    for index, step in enumerate(steps):
        if step.after is None:
            continue
        if step.after == step.id:
            issues.append(
                Issue(
                    ("steps", index, "after"),
                    f"step '{step.id}' cannot wait for itself (after: {step.after})",
                )
            )
        elif step.after not in ids:
            issues.append(
                Issue(
                    ("steps", index, "after"),
                    f"after: '{step.after}' is not a step id in this playbook"
                    + did_you_mean(step.after, ids),
                )
            )
    return issues


def anchors(steps: Sequence[StepTemplate]) -> list[int | None]:
    """For each step, the index of the step it waits for: its `after`, else the one listed
    before it; None for the first step or an unknown `after` (reported elsewhere)."""
    index_of = {s.id: i for i, s in reversed(list(enumerate(steps)))}
    result: list[int | None] = []
    for index, step in enumerate(steps):
        if step.after is not None:
            result.append(index_of.get(step.after))
        else:
            result.append(index - 1 if index else None)
    return result


def find_loops(steps: Sequence[StepTemplate]) -> list[list[int]]:
    """Loops in the waits-for graph (each step waits for at most one other), each as the
    list of step indexes starting at the first listed step with an explicit `after`."""
    graph = anchors(steps)
    loops: list[list[int]] = []
    seen: set[int] = set()
    for start in range(len(steps)):
        path: list[int] = []
        node: int | None = start
        while node is not None and node not in seen and node not in path:
            path.append(node)
            node = graph[node]
        if node is not None and node in path:
            cycle = path[path.index(node) :]
            if len(cycle) > 1:
                explicit = [i for i in sorted(cycle) if steps[i].after is not None]
                begin = cycle.index(explicit[0] if explicit else min(cycle))
                loops.append(cycle[begin:] + cycle[:begin])
        seen.update(path)
    return loops


def _loops(steps: Sequence[StepTemplate]) -> list[Issue]:
    graph = anchors(steps)
    issues = []
    for cycle in find_loops(steps):
        links = []
        for i in cycle:
            target = steps[graph[i]].id  # type: ignore[index]
            how = "" if steps[i].after else " (listed before it)"
            links.append(f"'{steps[i].id}' waits for '{target}'{how}")
        first = cycle[0]
        issues.append(
            Issue(
                ("steps", first, "after"),
                f"after: '{steps[first].after}' makes a loop: "
                + ", ".join(links)
                + "; no step in a loop can ever start",
            )
        )
    return issues


def _step_issues(index: int, step: StepTemplate) -> list[Issue]:
    here: Path = ("steps", index)
    issues = []
    for field in ("subject", "message"):
        text = getattr(step, field)
        if not text:
            continue
        for name, _ in placeholder_spans(text):
            if name not in ALLOWED_PLACEHOLDERS:
                issues.append(
                    Issue(
                        (*here, field),
                        f"unknown placeholder {{{name}}} in {field}" + _suggest_placeholder(name),
                        token=name,
                    )
                )
        for offset in stray_braces(text)[:1]:
            line_start = max(text.rfind("\n", 0, offset) + 1, offset - 30)
            issues.append(
                Issue(
                    (*here, field),
                    f"unmatched '{text[offset]}' in {field}; placeholders look like "
                    "{account.name}, and a literal brace is written {{ or }}",
                    token=text[line_start : offset + 1],
                    at_token_end=True,
                )
            )
        wrapped = _hard_wrapped_line(text)
        if wrapped is not None:
            issues.append(
                Issue(
                    (*here, field),
                    f"{field} looks hard-wrapped; line breaks are sent as written, "
                    "so keep each paragraph on one line",
                    "warning",
                    token=wrapped,
                )
            )
    if step.recipient is None and step.medium is not Medium.INTERNAL:
        issues.append(
            Issue(
                here,
                f"missing required field 'recipient' in step '{step.id}' "
                "(only internal steps may leave it out)",
            )
        )
    if step.medium is Medium.EMAIL:
        if step.recipient is not None and step.recipient.kind is RecipientKind.CHANNEL:
            issues.append(
                Issue(
                    (*here, "recipient"),
                    "an email step cannot go to a Slack channel; use slack medium",
                )
            )
        if not step.subject:
            issues.append(
                Issue(
                    here,
                    f"email step '{step.id}' has no subject; add "
                    "subject: so the draft is ready to send",
                    "warning",
                )
            )
    elif step.subject and step.medium is not Medium.MEETING:
        issues.append(
            Issue(
                (*here, "subject"),
                "subject is only used by email steps and meeting invites",
                "warning",
            )
        )
    return issues


def _hard_wrapped_line(text: str) -> str | None:
    """The first line that continues a sentence from the line above (starts lowercase)."""
    lines = text.split("\n")
    for above, line in zip(lines, lines[1:], strict=False):
        if above.strip() and line.strip()[:1].islower():
            return line.strip()
    return None


def _suggest_placeholder(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(ALLOWED_PLACEHOLDERS), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {{{close[0]}}}?"
    return "; see prompts/playbooks/README.md for the placeholders you can use"


def _advice(steps: Sequence[StepTemplate]) -> list[Issue]:
    issues = []
    if not MIN_ADVISED_STEPS <= len(steps) <= MAX_ADVISED_STEPS:
        issues.append(
            Issue(
                ("steps",),
                f"playbooks work best with {MIN_ADVISED_STEPS}–"
                f"{MAX_ADVISED_STEPS} steps; this one has {len(steps)}",
                "warning",
            )
        )
    seen: dict[str, int] = {}
    for index, step in enumerate(steps):
        key = " ".join(step.summary.lower().split())
        if key in seen:
            issues.append(
                Issue(
                    ("steps", index, "summary"),
                    f"summary repeats step {seen[key] + 1}; make each step distinct",
                    "warning",
                )
            )
        seen.setdefault(key, index)
    return issues
