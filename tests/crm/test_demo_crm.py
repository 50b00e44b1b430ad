"""`followthrough demo --story crm` plays against the HubSpot stand-in and shows each step."""

from __future__ import annotations

from bot.devtools.demo import run_demo


def test_crm_demo_story() -> None:
    text = "\n".join(run_demo(stories=("crm",), echo=False))
    assert "HubSpot full sync: 2 companies (2 new), 3 contacts, 2 owners" in text
    assert "Acme Corp: champion dana@acme.com → priya@acme.com" in text
    assert "/report-risk picker: Acme Corp — CSM Maya · ARR $120k · renews 2027-01-31" in text
    assert "Maya marks it done → the task is COMPLETED" in text
    assert "Outcome: saved" in text
    assert "HubSpot received 1 task create and 1 note create — one each." in text
