"""One authority for every status change: each table's transitions are declared once
(`bot.states.Machine`), every `move` / `move_rows` in the code names a transition its machine
has, and no code writes a `status` any other way (new rows may start in a state)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from bot.states import Machine, StateError

ROOT = Path(__file__).resolve().parents[2] / "bot"
MACHINES = {
    "STEP": ("bot.cases.steps", "StepStatus"),
    "CASE": ("bot.cases.steps", "CaseStatus"),
    "COMMITMENT": ("bot.commitments.service", "CommitmentStatus"),
    "TRANSCRIPT": ("bot.capture.ingest", "TranscriptStatus"),
    "OUTBOX": ("bot.outbox.service", "OutboxStatus"),
    "DIGEST": ("bot.digest.service", None),
    "CONNECTION": ("bot.crm.service", None),
    "WRITE": ("bot.crm.writeback", None),
    "SIGNAL": ("bot.signals.models", None),
    "SUGGESTION": ("bot.signals.models", None),
    "DELIVERY": ("bot.recorders.models", None),
    "INBOX": ("bot.inbox.service", "InboxStatus"),
}
EXEMPT_MARKER = "state-table:"  # a documented write the helper cannot express (an upsert)


def _machine(name: str) -> Machine:
    module, _ = MACHINES[name]
    found = getattr(importlib.import_module(module), name)
    assert isinstance(found, Machine)
    return found


def _product_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if "devtools" not in p.parts and p.name != "states.py"]


def test_every_machine_is_known_to_this_test() -> None:
    declared = set()
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "Machine"
            ):
                declared.update(t.id for t in node.targets if isinstance(t, ast.Name))
    assert declared == set(MACHINES)


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_each_table_is_walkable_and_names_real_states(name: str) -> None:
    machine = _machine(name)
    module, enum_name = MACHINES[name]
    if enum_name:
        enum = getattr(importlib.import_module("bot.models"), enum_name)
        assert machine.states() <= {e.value for e in enum}, machine.states()
    for action, pairs in machine.transitions.items():
        for source, target in pairs.items():
            assert machine.to(action, source) == target
        outside = machine.states() - set(pairs)
        for other in outside:
            with pytest.raises(StateError):
                machine.to(action, other)
    with pytest.raises(StateError):
        machine.to("no_such_transition", next(iter(machine.states())))


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def test_every_move_names_a_transition_of_its_machine() -> None:
    seen = 0
    for path in _product_files():
        for call in _calls(ast.parse(path.read_text())):
            fn = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
            first = {"move": 1, "move_rows": 1, "moving": 0}.get(fn or "")  # moving: no session
            if first is None or len(call.args) < first + 2:
                continue
            machine_arg = call.args[first]
            action_arg = call.args[first + 2] if fn == "move" else call.args[first + 1]
            if not isinstance(machine_arg, ast.Name) or machine_arg.id not in MACHINES:
                continue
            if isinstance(action_arg, ast.Constant) and isinstance(action_arg.value, str):
                machine = _machine(machine_arg.id)
                assert action_arg.value in machine.transitions, (
                    f"{path.relative_to(ROOT.parent)}:{call.lineno}: "
                    f"{machine_arg.id} has no transition {action_arg.value!r}"
                )
                seen += 1
    assert seen >= 20  # the walk found the code's transitions


def _chain_has_update(node: ast.AST) -> bool:
    while isinstance(node, ast.Call | ast.Attribute):
        target = node.func if isinstance(node, ast.Call) else node.value
        name = getattr(target, "attr", None) or getattr(target, "id", None)
        if name == "update":
            return True
        node = target
    return False


def test_no_status_is_written_outside_the_state_tables() -> None:
    problems = []
    for path in _product_files():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            where = f"{path.relative_to(ROOT.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
                if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in flat):
                    problems.append(f"{where}: assigns .status")
            if isinstance(node, ast.Call):
                fn = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if fn == "setattr" and any(
                    isinstance(a, ast.Constant) and a.value == "status" for a in node.args
                ):
                    problems.append(f"{where}: setattr status")
                if fn in {"values", "on_conflict_do_update"} and _chain_has_update(node.func):
                    keys = {k.arg for k in node.keywords}
                    for kw in node.keywords:
                        if isinstance(kw.value, ast.Dict):
                            keys |= {getattr(k, "value", None) for k in kw.value.keys}
                    context = "\n".join(lines[max(0, node.lineno - 2) : node.lineno])
                    if "status" in keys and EXEMPT_MARKER not in context:
                        problems.append(f"{where}: UPDATE … SET status")
    assert problems == []
