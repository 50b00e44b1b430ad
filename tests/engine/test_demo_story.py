"""The risk and engine demo stories play in one world: the engine story runs the case the
risk story reported, from Start to "Resolved — saved"."""

from __future__ import annotations

from bot.devtools.demo import run_demo


def test_risk_then_engine_story_resolve_one_case() -> None:
    transcript = "\n".join(run_demo(stories=("risk", "engine"), echo=False))
    assert "Maya clicks “Start plan” on case #1's card." in transcript
    assert "Reminder: Step 2".upper() in transcript and "WAITING: STEP 2" in transcript
    assert "Edited, done by @Li" in transcript and "Skipped by @Omar" in transcript
    assert "outcome: saved · resolved at step 4 of 7" in transcript
    assert "time to resolve: 14.2 days" in transcript
    assert "<@U" not in transcript  # people are shown by name
