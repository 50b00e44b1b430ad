"""Two workspaces that install one Followthrough through OAuth (the stand-in plays Slack)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.devtools.installs import Installs

ACME = ("T0ACME", "Acme CS", [("U0ANN", "Ann Archer", "ann@acme.io")], "C0ACMECS")
GLOBEX = ("T0GLOBEX", "Globex CS", [("U0BOB", "Bob Baker", "bob@globex.io")], "C0GLOBEXCS")


@pytest.fixture
def installs(database_url: str) -> Iterator[Installs]:
    with Installs(database_url) as inst:
        for team_id, name, people, channel in (ACME, GLOBEX):
            inst.add_workspace(team_id, name, people, channel)
        yield inst
