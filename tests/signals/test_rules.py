"""Rule files: line-precise errors, and the pure evaluation of values, changes and counts."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.signals.rules import SEED_DIR, Point, Window, check_rule, evaluate, read_dir

AT = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
BASE = "key: r\nname: A rule\nsignal: health_score\nwhen:\n{when}risk: usage_dip\n"


def rule(when: str):  # type: ignore[no-untyped-def]
    r, problems = check_rule(BASE.format(when=when), "r.yaml")
    assert r is not None, problems
    return r


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("  belwo: 3\n", "r.yaml:5:3: unknown field 'belwo'; did you mean 'below'?"),
        ("  below: lots\n", "r.yaml:5:10: below must be a number, not 'lots'"),
        ("  dropped_by: 20\n", "r.yaml:5:3: dropped_by needs a window: add e.g. 'within: 30d'"),
        (
            "  count: 3\n  within: 2x\n",
            "r.yaml:6:11: within '2x' is not a duration; use e.g. 0, 4h, 2d, 1w",
        ),
        ("  {}\n", "r.yaml:5:3: when needs a condition"),
    ],
)
def test_errors_name_the_line(when: str, expected: str) -> None:
    r, problems = check_rule(BASE.format(when=when), "r.yaml")
    assert r is None
    assert str(problems[0]).startswith(expected)


def test_seed_rules_are_valid_and_name_seed_playbooks() -> None:
    from bot.playbooks.parse import validate_dir

    books = {t.key for t in validate_dir()[0]}
    rules, problems = read_dir(SEED_DIR, books)
    assert problems == [] and len(rules) >= 8
    assert {r.rule.risk for r in rules} <= books


def test_values_changes_and_counts() -> None:
    below = rule("  below: 40\n")
    assert evaluate(below, Point(AT, 39)) and not evaluate(below, Point(AT, 40))
    drop = rule("  dropped_by: 20\n  within: 30d\n")
    assert evaluate(drop, Point(AT, 50), Window(peak=71)) is not None
    assert evaluate(drop, Point(AT, 50, previous=72)) is not None
    assert evaluate(drop, Point(AT, 60), Window(peak=71)) is None
    third = rule("  count: 3\n  within: 7d\n")
    assert evaluate(third, Point(AT, 1), Window(count=1)) is None
    fired = evaluate(third, Point(AT, 1), Window(count=2))
    assert fired is not None and fired.why.startswith("3rd")
    text = rule("  equals: rescheduled\n")
    assert evaluate(text, Point(AT, None, text="Rescheduled")) is not None
