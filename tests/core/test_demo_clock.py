"""The whole demo runs on its own calendar (5–23 November 2026), in calendar order, and its
closing report agrees with what the stories showed: the captured promises count, the SSO
guide appears once."""

from __future__ import annotations

import re

from bot.devtools.demo import STORIES, run_demo


def test_the_demo_tells_one_consistent_story() -> None:
    assert STORIES[:5] == ("foundation", "risk", "engine", "capture", "digest")
    transcript = "\n".join(run_demo(echo=False))
    commitments = transcript.split("Maya types `/commitments`:", 1)[1].split("==", 1)[0]
    assert "due Fri Nov 27" in commitments and "ago" not in commitments
    digest = transcript.split("YOUR FOLLOW-THROUGH FOR MONDAY, NOV 23", 1)[1].split(
        "Maya clicks", 1
    )[0]
    assert digest.count("SSO setup guide") == 1
    assert "4 open items (1 overdue, 1 due today)" in digest
    made = re.search(r"\*Commitments made:\* (\d+)", transcript)
    assert made is not None and int(made.group(1)) == 6  # Maya's 4 + Li's 2 (quote, CSV fix)
    assert "CS REPORT · 2026-10-25 – 2026-11-23" in transcript
