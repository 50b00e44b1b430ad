"""Shared fixtures. Every database test runs twice: on SQLite and on a real throwaway
PostgreSQL started for the test run (set FT_TEST_BACKENDS=sqlite to skip Postgres locally)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.db import engine_for
from bot.migrate import upgrade

BACKENDS = [b for b in os.environ.get("FT_TEST_BACKENDS", "sqlite,postgres").split(",") if b]
_counter = itertools.count()

# Bolt's App() reads these implicitly; tests pin their own.
for _var in (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "DATABASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LLM_ENGINE",
):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    engine_for(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def _postgres() -> Iterator[object]:
    from bot.devtools.postgres import ThrowawayPostgres

    pg = ThrowawayPostgres().start()
    admin = create_engine(pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE ft_template"))
    upgrade(pg.url("ft_template"))
    engine_for(pg.url("ft_template")).dispose()
    yield pg, admin
    admin.dispose()
    pg.stop()


@contextmanager
def _new_database(request: pytest.FixtureRequest, backend: str, folder: Path) -> Iterator[str]:
    """A fresh, migrated database on `backend`, dropped afterwards."""
    if backend == "sqlite":
        path = folder / "test.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
        yield url
        engine_for(url).dispose()
        return
    pg, admin = request.getfixturevalue("_postgres")
    name = f"ft_t{os.getpid()}_{next(_counter)}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE ft_template"))
    url = pg.url(name)
    yield url
    engine_for(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def new_database() -> Callable[..., AbstractContextManager[str]]:
    """`with new_database(request, backend, folder) as url:` — for fixtures of a wider scope
    than `database_url` (a module's shared world)."""
    return _new_database


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    with _new_database(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db_engine(database_url: str):  # type: ignore[no-untyped-def]
    return engine_for(database_url)


@pytest.fixture
def slack(database_url: str) -> Iterator[object]:
    """The app behind signed requests (app.dispatch) against the local Slack stand-in."""
    from bot.devtools.world import World

    world = World(database_url).start()
    yield world
    world.stop()


@pytest.fixture
def slack_http(database_url: str) -> Iterator[object]:
    """Same world, but the app served over real HTTP (waitress) and the driver posting to it."""
    from bot.devtools.world import World

    world = World(database_url, http=True).start()
    yield world
    world.stop()
