"""Built-in signals: CRM changes (audit rows, contracts.md §2), the renewal window, weeks
without a call, overdue commitments — through the same rules, read once."""

from __future__ import annotations

import datetime as dt

from bot import audit
from bot.models import Commitment, CommitmentStatus

from .conftest import NOW, Signals


def test_champion_change_in_the_crm_suggests_the_champion_playbook(sig: Signals) -> None:
    w = sig.world
    acme = w.seed_account(renewal_date=None)
    with w.session() as s:
        audit.record(
            s,
            w.team_id,
            "crm:hubspot",
            "account",
            acme.id,
            "crm_field_changed",
            field="champion",
            old="dana@acme.com",
            new="kim@acme.com",
            source="hubspot",
        )
    sig.tick()
    dm = sig.dm("U0MAYA", "Suggested case")
    assert "champion_changed" in str(dm["blocks"]) and "kim@acme.com" in str(dm["blocks"])
    [s1] = sig.suggestions()
    assert s1.risk_key == "champion_left"
    sig.tick(NOW + dt.timedelta(minutes=1))  # the cursor moved: nothing is read twice
    assert len([x for x in sig.signals() if x.signal_type == "champion_changed"]) == 1


def test_csm_change_is_a_signal_a_rule_can_read(sig: Signals, tmp_path) -> None:
    w = sig.world
    acme = w.seed_account()
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "new_csm.yaml").write_text(
        "key: new_csm\nname: CSM changed\nsignal: csm_changed\nwhen:\n  any: true\n"
        "risk: champion_left\ncooldown: 30d\n"
    )
    w.rt.settings.signal_rules_dir = str(folder)
    with w.session() as s:
        audit.record(
            s,
            w.team_id,
            "crm:salesforce",
            "account",
            acme.id,
            "crm_field_changed",
            field="csm_user_id",
            old="U0OMAR",
            new="U0MAYA",
            source="salesforce",
        )
    sig.tick()
    [s1] = sig.suggestions()
    assert s1.rule_key == "new_csm"


def test_renewal_window_and_overdue_commitments(sig: Signals) -> None:
    w = sig.world
    acme = w.seed_account(renewal_date=(NOW + dt.timedelta(days=80)).date())
    with w.session() as s:
        for n in range(2):
            s.add(
                Commitment(
                    team_id=w.team_id,
                    account_id=acme.id,
                    text=f"Send the plan {n}",
                    status=CommitmentStatus.OPEN,
                    owner_user_id="U0MAYA",
                    due_date=(NOW - dt.timedelta(days=3 + n)).date(),
                )
            )
    sig.tick()
    kinds = {s.risk_key for s in sig.suggestions()}
    assert {"renewal_window", "missed_commitment"} <= kinds
    assert len(sig.suggestions()) == len(kinds)  # one per risk
    sig.tick(NOW + dt.timedelta(hours=2))  # the same day: the daily scan does not run again
    renewal = [x for x in sig.signals() if x.signal_type == "renewal_in_days"]
    assert len(renewal) == 1 and renewal[0].value == 80
