"""Playbooks in the database: versions by content, seeding, retire, edits from Slack."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.db import session_scope
from bot.models import AuditEvent, Playbook
from bot.playbooks import service as store
from bot.playbooks.parse import SEED_DIR, PlaybookError

TEAM = "T0STORE"


def _copy_seeds(tmp_path: Path, *keys: str) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    for key in keys:
        (folder / f"{key}.yaml").write_text((SEED_DIR / f"{key}.yaml").read_text())
    return folder


def test_same_content_keeps_version_changed_content_is_next_version(db_engine, tmp_path):
    folder = _copy_seeds(tmp_path, "budget_cut", "usage_dip")
    with session_scope(db_engine) as s:
        first = store.load_dir(s, TEAM, folder)
    assert [(x.key, x.version, x.outcome) for x in first.loaded] == [
        ("budget_cut", 1, "created"),
        ("usage_dip", 1, "created"),
    ]
    with session_scope(db_engine) as s:
        again = store.load_dir(s, TEAM, folder)
    assert [x.outcome for x in again.loaded] == ["unchanged", "unchanged"]

    path = folder / "budget_cut.yaml"
    path.write_text(path.read_text().replace("delay: 1d", "delay: 2d", 1))
    with session_scope(db_engine) as s:
        changed = store.load_dir(s, TEAM, folder)
        active = {p.key: p.version for p in store.active_playbooks(s, TEAM)}
        versions = s.exec(select(Playbook.version).where(Playbook.key == "budget_cut")).all()
    assert [(x.key, x.version, x.outcome) for x in changed.loaded][0] == (
        "budget_cut",
        2,
        "new_version",
    )
    assert active == {"budget_cut": 2, "usage_dip": 1}
    assert sorted(versions) == [1, 2]  # the old version stays for cases that use it


def test_stored_template_round_trips(db_engine):
    with session_scope(db_engine) as s:
        store.ensure_seeded(s, TEAM)
        row = store.get_playbook(s, TEAM, "champion_left")
        template = store.template_of(row)
    assert template.key == "champion_left" and template.version == row.version
    assert len(template.steps) == 7
    assert store.definition_of(template) == row.definition


def test_seeded_once_per_team_and_teams_are_separate(db_engine):
    with session_scope(db_engine) as s:
        assert store.ensure_seeded(s, TEAM) == 7
        assert store.ensure_seeded(s, TEAM) == 0
        assert store.active_playbooks(s, "T0OTHER") == []
        keys = [p.key for p in store.active_playbooks(s, TEAM)]
    assert sorted(keys) == [
        "budget_cut",
        "champion_left",
        "meeting_absence",
        "missed_commitment",
        "onboarding_stalled",
        "renewal_window",
        "usage_dip",
    ]


def test_retire_hides_the_playbook_and_is_audited(db_engine):
    with session_scope(db_engine) as s:
        store.ensure_seeded(s, TEAM)
        store.retire(s, TEAM, "usage_dip", "U0ANA")
    with session_scope(db_engine) as s:
        assert store.get_playbook(s, TEAM, "usage_dip") is None
        assert "usage_dip" not in {p.key for p in store.active_playbooks(s, TEAM)}
        with pytest.raises(store.PlaybookStoreError, match="already retired"):
            store.retire(s, TEAM, "usage_dip", "U0ANA")
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "retired")).all()
    assert len(events) == 1 and events[0].actor == "U0ANA"


def test_edit_step_and_reorder_make_new_versions_and_refuse_bad_values(db_engine):
    with session_scope(db_engine) as s:
        store.ensure_seeded(s, TEAM)
        row, loaded = store.edit_step(
            s, TEAM, "budget_cut", "build_value_case", {"delay": "3d", "subject": ""}, "U0ANA"
        )
        assert (row.version, loaded.outcome) == (2, "new_version")
        with pytest.raises(store.PlaybookStoreError) as bad:
            store.edit_step(s, TEAM, "budget_cut", "build_value_case", {"delay": "2x"}, "U0ANA")
        assert bad.value.field == "delay" and "2x" in str(bad.value)
        ids = [st["id"] for st in row.definition["steps"]]
        row3, _ = store.reorder(s, TEAM, "budget_cut", [ids[1], ids[0], *ids[2:]], "U0ANA")
        assert [st["id"] for st in row3.definition["steps"]][:2] == [ids[1], ids[0]]
        with pytest.raises(store.PlaybookStoreError, match="exactly once"):
            store.reorder(s, TEAM, "budget_cut", ids[:-1], "U0ANA")


def test_save_yaml_reports_line_precise_problems(db_engine):
    text = (SEED_DIR / "usage_dip.yaml").read_text().replace("delay: 0", "delay: 2x", 1)
    with session_scope(db_engine) as s, pytest.raises(PlaybookError) as err:
        store.save_yaml(s, TEAM, text, "U0ANA")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "delay: 2x" in ln)
    assert any(p.line == line and "2x" in p.message for p in err.value.problems)


def test_is_admin_by_setting_id_email_or_flag(db_engine):
    from bot.models import Person

    with session_scope(db_engine) as s:
        s.add(Person(team_id=TEAM, slack_user_id="U1", email="boss@vendor.io"))
        s.add(Person(team_id=TEAM, slack_user_id="U2", is_admin=True))
        s.add(Person(team_id=TEAM, slack_user_id="U3"))
    with session_scope(db_engine) as s:
        assert store.is_admin(s, TEAM, "U0X", ["U0X"])
        assert store.is_admin(s, TEAM, "U1", ["Boss@vendor.io"])
        assert store.is_admin(s, TEAM, "U2", [])
        assert not store.is_admin(s, TEAM, "U3", ["U0X"])
