"""Read playbook YAML into a `PlaybookTemplate`, reporting every problem at its line.

PyYAML's composed node tree keeps a mark for every key and value; pydantic reports errors
by field path; this module joins the two, so an author reads "line 12: delay '2x' is not a
duration" instead of a stack trace. A missing field is reported at the line of the mapping
that lacks it, a bad value at its own line.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot.playbooks.checks import Issue, did_you_mean, template_issues
from bot.playbooks.schema import (
    SKIP_CROSS_CHECKS,
    AssigneeRole,
    Medium,
    PlaybookTemplate,
    StepTemplate,
)
from bot.yamlcheck import Problem, at_node, duplicate_keys, walk, yaml_problem

SEED_DIR = Path(__file__).resolve().parents[2] / "prompts" / "playbooks"


class PlaybookError(ValueError):
    """A playbook that cannot be used; `.problems` says where and why (errors and warnings)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def parse_playbook(text: str, source: str = "<playbook>") -> PlaybookTemplate:
    """Parse one YAML playbook; raise `PlaybookError` if it has any error (warnings alone
    do not raise; use `check_playbook` to see them)."""
    template, problems = check_playbook(text, source)
    if template is None or any(p.is_error for p in problems):
        raise PlaybookError(problems)
    return template


def check_playbook(
    text: str, source: str = "<playbook>"
) -> tuple[PlaybookTemplate | None, list[Problem]]:
    """Parse and check one playbook; the template is None when there is any error."""
    located = _Located(text, source)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        return None, [yaml_problem(exc, source)]
    finally:
        loader.dispose()
    if root is None:
        return None, [
            Problem(source, 1, 1, "file is empty; a playbook needs key, name, summary and steps")
        ]
    problems = duplicate_keys(root, source)
    try:
        template = PlaybookTemplate.model_validate(data, context={SKIP_CROSS_CHECKS: True})
    except ValidationError as exc:
        errors = _without_typo_echoes(exc.errors())
        problems += [located.from_pydantic(err, root, data) for err in errors]
        return None, _sorted(problems)
    problems += [located.from_issue(issue, root) for issue in template_issues(template)]
    problems = _sorted(problems)
    return (None if any(p.is_error for p in problems) else template), problems


def validate_dir(path: str | Path = SEED_DIR) -> tuple[list[PlaybookTemplate], list[Problem]]:
    """Check every `*.yaml` / `*.yml` in a folder: the usable templates (sorted by key) and
    all problems, including a key that differs from its file name or is used twice."""
    folder = Path(path)
    templates: list[PlaybookTemplate] = []
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    for file in files:
        text = file.read_text(encoding="utf-8")
        template, found = check_playbook(text, file.name)
        problems += found
        if template is None:
            continue
        line = _key_line(text)
        if template.key != file.stem:
            message = (
                f"key '{template.key}' does not match the file name; call it {template.key}.yaml"
            )
            problems.append(Problem(file.name, line, 1, message))
            continue
        if template.key in owner:
            message = f"key '{template.key}' is already used by {owner[template.key]}"
            problems.append(Problem(file.name, line, 1, message))
            continue
        owner[template.key] = file.name
        templates.append(template)
    return sorted(templates, key=lambda t: t.key), problems


def _without_typo_echoes(errors: list[Any]) -> list[Any]:
    """Drop "missing 'assignee'" when the same mapping has the typo 'asignee': the unknown
    field message already says "did you mean 'assignee'?"."""
    suggested = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            model = _FIELDS.get(len(loc), StepTemplate)
            for name in difflib.get_close_matches(loc[-1], list(model.model_fields), 1, 0.6):
                suggested.add((*loc[:-1], name))
    return [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in suggested)]


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column, p.severity))


def _key_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("key:"):
            return number
    return 1


_FIELDS: dict[int, type[BaseModel]] = {1: PlaybookTemplate, 3: StepTemplate}


class _Located:
    """Turns path-based findings into line-precise `Problem`s for one source text."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source

    def at(
        self,
        node: yaml.Node,
        message: str,
        severity: Any = "error",
        token: str | None = None,
        at_end: bool = False,
    ) -> Problem:
        return at_node(self.text, self.source, node, message, severity, token, at_end)

    def from_issue(self, issue: Issue, root: yaml.Node) -> Problem:
        node, _, _ = walk(root, issue.path)
        return self.at(node, issue.message, issue.severity, issue.token, issue.at_token_end)

    def from_pydantic(self, err: Any, root: yaml.Node, data: Any) -> Problem:
        loc = tuple(err["loc"])
        node, key_node, used = walk(root, loc)
        message = _message(err, loc, data)
        if err["type"] == "extra_forbidden" and key_node is not None:
            return self.at(key_node, message)
        return self.at(node, message)


def _where(loc: Sequence[str | int], data: Any) -> str:
    """ "in step 2 ('call_poc')" for paths inside a step, "" at the top level."""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step_id = None
        try:
            item = data["steps"][loc[1]]
            step_id = item.get("id") if isinstance(item, dict) else None
        except (TypeError, KeyError, IndexError):
            pass
        return f" in step {loc[1] + 1}" + (f" ('{step_id}')" if step_id else "")
    return ""


def _message(err: Any, loc: tuple[str | int, ...], data: Any) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    names = [p for p in loc if isinstance(p, str)]
    field = names[-1] if names else "playbook"
    where = _where(loc, data)
    if not loc:
        return "a playbook file must be a mapping with key, name, summary and steps"
    if kind == "missing":
        return f"missing required field '{field}'{where}"
    if kind == "extra_forbidden":
        model = _FIELDS.get(len(loc), StepTemplate)
        allowed = sorted(model.model_fields)
        hint = did_you_mean(field, allowed) or f"; known fields: {', '.join(allowed)}"
        return f"unknown field '{field}'{where}{hint}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "enum":
        choices = {"medium": Medium, "assignee": AssigneeRole}.get(field)
        shown = ", ".join(m.value for m in choices) if choices else str(ctx.get("expected", ""))
        return f"{field} '{value}' is not one of: {shown}"
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        extra = " (one Slack message section holds 3000)" if field == "message" else ""
        return f"{field} is {len(value)} characters; at most {limit} allowed{extra}"
    if kind == "string_too_short":
        return f"{field} is empty or too short"
    if kind == "too_short" and field == "steps":
        return "steps is empty; a playbook needs at least one step"
    if kind == "too_long" and field == "steps":
        return f"too many steps ({len(value)}); at most {ctx.get('max_length')}"
    if kind == "string_type":
        return f"{field} must be text, not {type(value).__name__}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"{field} must be a whole number"
    if kind == "greater_than_equal":
        return f"{field} must be at least {ctx.get('ge')}"
    if kind == "list_type":
        return f"{field} must be a list (each item starting with '- ')"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return f"{field}{where} must be a mapping of fields (key: value)"
    return f"{field}: {err['msg']}"
