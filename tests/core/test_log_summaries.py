"""Overload warnings repeated per request or per tick reach the log once a minute, with how
many were held back (`bot.clikit.OncePer`), and only those: other records pass."""

from __future__ import annotations

import logging

import pytest

from bot.clikit import Gated, OncePer, setup_logging


def test_one_line_a_window_and_the_count_held_back() -> None:
    now = [0.0]
    gate = OncePer(60.0, clock=lambda: now[0])
    logger = logging.getLogger("test.once_per")
    passed: list[str] = []

    def emit(depth: int) -> None:
        record = logger.makeRecord(
            logger.name, logging.WARNING, __file__, 1, "depth %d", (depth,), None
        )
        if gate.filter(record):
            passed.append(record.getMessage())

    for depth in range(1, 6):
        emit(depth)
    now[0] = 59.0
    emit(6)
    now[0] = 60.0
    emit(7)
    assert passed == ["depth 1", "depth 7 (and 5 more like it in 60 s)"]


def test_only_the_named_message_of_a_logger_is_summarised() -> None:
    gate = OncePer(60.0, contains="maximum number of running instances", clock=lambda: 0.0)
    logger = logging.getLogger("test.once_per_contains")
    other = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "job failed", (), None)
    skipped = logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
        ("run_due", 1),
        None,
    )
    assert [gate.filter(r) for r in (other, skipped, other, skipped)] == [True, True, True, False]


def test_the_app_installs_it_for_waitress_and_apscheduler(caplog: pytest.LogCaptureFixture) -> None:
    setup_logging("INFO")
    setup_logging("INFO")  # twice (every command calls it): still one filter each
    queue = logging.getLogger("waitress.queue")
    assert sum(isinstance(f, OncePer) for f in queue.filters) == 1
    with caplog.at_level(logging.WARNING, logger="waitress.queue"):
        for depth in range(40):
            queue.warning("Task queue depth is %d", depth)
    passed = [r.getMessage() for r in caplog.records if r.name == "waitress.queue"]
    assert len(passed) <= 1  # one a minute (none if another test's warning opened it)


def test_a_gated_warning_makes_no_record_while_its_window_is_shut() -> None:
    """Waitress's queue warning goes through `Gated`: a record the filter would drop is never
    built (that was a tenth of a busy web process's CPU), and the count still reaches the log."""
    now = [0.0]
    logger = logging.getLogger("test.gated")
    logger.addFilter(OncePer(60.0, clock=lambda: now[0]))
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name == logger.name:
            made.append(record)
        return record

    gated = Gated(logger)
    logging.setLogRecordFactory(counting)
    try:
        for depth in range(5):
            gated.warning("Task queue depth is %d", depth)
        now[0] = 60.0
        gated.warning("Task queue depth is %d", 9)
    finally:
        logging.setLogRecordFactory(factory)
    assert [r.getMessage() for r in made] == [
        "Task queue depth is 0",
        "Task queue depth is 9 (and 4 more like it in 60 s)",
    ]
