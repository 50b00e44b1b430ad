"""Line-precise findings for YAML configuration files (playbooks, the CRM mapping).

PyYAML's composed node tree keeps a mark for every key and value; validators report
problems by field path; this module joins the two, so an author reads
"mapping.yaml:12:5: unknown field 'renewl_date'" instead of a stack trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml


@dataclass(frozen=True)
class Problem:
    """One finding in one file; line and column are 1-based."""

    source: str
    line: int
    column: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        kind = "warning: " if self.severity == "warning" else ""
        return f"{self.source}:{self.line}:{self.column}: {kind}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def compose(text: str, source: str) -> tuple[yaml.Node | None, Any, list[Problem]]:
    """The node tree, the plain data and any syntax or duplicate-key problems."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        return None, None, [yaml_problem(exc, source)]
    finally:
        loader.dispose()
    return root, data, duplicate_keys(root, source) if root is not None else []


def yaml_problem(exc: yaml.MarkedYAMLError, source: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    where = f" ({exc.context})" if exc.context else ""
    hint = "; check this line's indentation" if "block" in f"{exc.context}{exc.problem}" else ""
    return Problem(source, line, column, f"invalid YAML{where}: {exc.problem}{hint}")


def duplicate_keys(node: yaml.Node, source: str) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                line = key.start_mark.line + 1
                if key.value in first:
                    problems.append(
                        Problem(
                            source,
                            line,
                            key.start_mark.column + 1,
                            f"'{key.value}' is given twice in one mapping "
                            f"(first at line {first[key.value]}); the last wins",
                        )
                    )
                first.setdefault(key.value, line)
            problems += duplicate_keys(value, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems += duplicate_keys(item, source)
    return problems


def walk(root: yaml.Node, loc: Sequence[str | int]) -> tuple[yaml.Node, yaml.Node | None, int]:
    """Follow a field path through the node tree as far as it exists: the deepest node
    reached, the key node of the last mapping step, and how many path parts were used."""
    node, key_node, used = root, None, 0
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == part
                ),
                None,
            )
            if match is None:
                break
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            key_node, node = None, node.value[part]
        else:
            break
        used += 1
    return node, key_node, used


def at_node(
    text: str,
    source: str,
    node: yaml.Node,
    message: str,
    severity: Any = "error",
    token: str | None = None,
    at_end: bool = False,
) -> Problem:
    """A problem at a node (or at `token` inside it)."""
    offset = node.start_mark.index
    if token:
        found = text.find(token, node.start_mark.index, node.end_mark.index)
        if found >= 0:
            offset = found + (len(token) - 1 if at_end else 0)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Problem(source, line, column, message, severity)
