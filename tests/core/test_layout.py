"""The shape of the code: no product module imports the development tools (stand-ins, demo,
fakes), the import graph has no cycle, and every domain package has its rooms."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "bot"
DOMAINS = {
    # domain: the rooms it has (service modules may be several, named for what they do)
    "accounts": {"service", "cli"},
    "capture": {"ingest", "extract", "review", "blocks", "scheduled", "cli"},
    "cases": {"report", "engine", "decisions", "control", "blocks", "scheduled", "cli", "flows"},
    "commitments": {"service"},
    "crm": {"service", "scheduled", "cli"},
    "digest": {"service", "blocks", "scheduled"},
    "followup": {"service", "blocks", "scheduled"},
    "home": {"service", "blocks"},
    "inbox": {"service", "scheduled"},
    "lifecycle": {"service", "scheduled", "cli"},
    "outbox": {"service", "scheduled"},
    "people": {"service"},
    "playbooks": {"service", "cli"},
    "recorders": {"service", "scheduled", "inbound"},
    "reports": {"service", "blocks", "cli"},
    "signals": {"service", "blocks", "scheduled", "cli", "flows", "rules", "inbound"},
    "workspaces": {"service"},
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in ROOT.rglob("*.py")}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Line numbers of imports inside `if TYPE_CHECKING:` (types, not runtime edges)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skip = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bot"))
    return {m for m in found if m in MODULES}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def test_no_product_module_imports_the_development_tools() -> None:
    offenders = {
        name: sorted(m for m in deps if m.startswith("bot.devtools"))
        for name, deps in GRAPH.items()
        if not name.startswith("bot.devtools")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_import_graph_has_no_cycle() -> None:
    """Lazy imports inside functions count too: a cycle broken by a local import is still
    a knot to untie."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for name in GRAPH:
        if name not in index:
            visit(name)
    assert cycles == []


def test_every_domain_has_its_rooms() -> None:
    for domain, rooms in DOMAINS.items():
        have = {p.stem for p in (ROOT / domain).glob("*.py")}
        assert rooms <= have, f"bot/{domain} lacks {sorted(rooms - have)}"


def test_scheduled_jobs_and_commands_are_registered() -> None:
    from bot.cli import COMMAND_MODULES
    from bot.scheduler import JOB_MODULES

    for domain in DOMAINS:
        if (ROOT / domain / "scheduled.py").exists():
            assert f"bot.{domain}.scheduled" in JOB_MODULES, domain
        if (ROOT / domain / "cli.py").exists():
            assert f"bot.{domain}.cli" in COMMAND_MODULES, domain
    assert JOB_MODULES[-1] == "bot.outbox.scheduled"  # the sender runs last in a tick
