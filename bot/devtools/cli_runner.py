"""Run a `followthrough …` command in this process, through the console script's own entry
point (`bot.cli.main(argv)`), with what a subprocess would have: exactly `env` as the
environment, `cwd` as the working directory, fresh logging (the command's own
`setup_logging` writes to the captured stderr), Python's default warning filters printing to
that stderr, and the exit code `sys.exit` gave. Tests use it instead of `python -m bot …`
where the command's observable result is its output and exit code; a command that serves,
loops or must be killed stays a real subprocess.

Everything it changes (environment, directory, logging, the clock `tick --now` pins, warning
filters) is put back afterwards, and the command's database engine is disposed. A test that
has pinned the clock cannot use it: in one process the command would run on the test's time,
where a subprocess runs on the system's.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TextIO

# Python's filters at start-up (no -W, no PYTHONWARNINGS), first match wins
_DEFAULT_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)


def _loggers() -> list[logging.Logger]:
    manager = logging.Logger.manager
    named = [v for v in manager.loggerDict.values() if isinstance(v, logging.Logger)]
    return [logging.getLogger(), *named]


def run_cli(
    args: Sequence[str], *, env: Mapping[str, str], cwd: str | Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m bot *args`, in-process: returncode, stdout and stderr as text."""
    from bot import clock
    from bot.cli import main
    from bot.db import engine_for, normalise_url

    if clock.pinned() is not None:  # one clock per process: the command would share the test's
        raise RuntimeError("the clock is pinned: run this command as a subprocess")
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_levels = {lg: (lg.level, lg.handlers[:], lg.disabled) for lg in _loggers()}
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    root = logging.getLogger()
    root.handlers = []  # so the command's logging.basicConfig takes effect, as in a new process
    root.setLevel(logging.WARNING)
    try:
        with (
            redirect_stdout(out),
            redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            warnings.resetwarnings()
            for action, category, module in reversed(_DEFAULT_FILTERS):
                warnings.filterwarnings(action, category=category, module=module)  # type: ignore[arg-type]
            warnings.showwarning = _show_on(err)
            try:
                main(list(args))
            except SystemExit as exc:
                code = _exit_code(exc, err)
    finally:
        for handler in root.handlers:
            handler.close()
        for lg in _loggers():
            level, handlers, disabled = saved_levels.get(lg, (logging.NOTSET, [], False))
            lg.setLevel(level)
            lg.handlers = handlers
            lg.disabled = disabled
        clock.set_now(None)
        url = os.environ.get("DATABASE_URL")
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        if url:
            engine_for(normalise_url(url)).dispose()
    return subprocess.CompletedProcess(
        ["python", "-m", "bot", *args], code, out.getvalue(), err.getvalue()
    )


def _exit_code(exc: SystemExit, err: TextIO) -> int:
    """What the interpreter would exit with for this SystemExit (a message → stderr, 1)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=err)
    return 1


def _show_on(err: TextIO) -> Callable[..., None]:
    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        err.write(warnings.formatwarning(message, category, filename, lineno, line))

    return show
